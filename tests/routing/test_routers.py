"""Routers on fixtures: keyword baseline, classifier (== scikit-learn), coordinator, cascade, cache, save/load."""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from helixmoe.errors import SystemLoadError
from helixmoe.routing import (
    CachedRouter,
    CascadeRouter,
    ClassifierRouter,
    CoordinatorRouter,
    KeywordRouter,
    RouteDecision,
    build_router,
    calibrate_threshold,
    fit_temperature,
    load_router,
)

VALUES = ["[1, 2, 3]", "{14: {@0: 42}}", '{name: "Alice"}', "null", "true", '"hi"', "[]", "{C:7,0=1}"]
TEMPLATES = {
    "ascii": [
        "Convert to LC-T: {v}",
        "make {v} text-safe please",
        "wire text for {v}?",
        "{v} as ascii",
        "encode {v} in LC-B",
        "give me the binary hex bytes of {v}",
        "bracket form of {v}",
    ],
    "runic": [
        "Convert to LC-R: {v}",
        "show {v} in glyph form",
        "runic version of {v}",
        "{v} -> symbolic glyphs",
        "write {v} with the runes",
        "lc-r of {v} please",
    ],
    "coordinator": [
        "What is LC-T?",
        "explain the difference between the notations",
        "which format should I use for {v}?",
        "is {v} valid HLXL?",
        "what does the ⟁ glyph mean",
        "tell me about HLX contracts",
    ],
    "math": ["What is {a} + {b}?", "Solve: x + {a} = {b}", "compute {a} times {b}", "{a} minus {b} = ?"],
}


def dataset(n: int, seed: int) -> tuple[list[str], list[str]]:
    rng = random.Random(seed)
    texts, labels = [], []
    for _ in range(n):
        expert = rng.choice(sorted(TEMPLATES))
        tpl = rng.choice(TEMPLATES[expert])
        texts.append(tpl.format(v=rng.choice(VALUES), a=rng.randint(0, 99), b=rng.randint(0, 99)))
        labels.append(expert)
    return texts, labels


@pytest.fixture(scope="module")
def trained() -> ClassifierRouter:
    texts, labels = dataset(600, seed=1)
    val_texts, val_labels = dataset(200, seed=2)
    return ClassifierRouter.fit(texts, labels, val_texts=val_texts, val_labels=val_labels)


def test_keyword_router_follows_the_published_rules() -> None:
    router = KeywordRouter()
    assert router.route("Convert to LC-T: null").expert == "ascii"
    assert router.route("Convert to LC-R: [1, 2, 3]").expert == "runic"
    assert router.route("what does 🐊 mean").expert == "runic"
    assert router.route("what does 🜊 mean").expert == "runic"  # the canonical glyph set too
    # the published rules know no synonyms: this is the baseline's weakness
    decision = router.route("show [1] in glyph-free wire text")
    assert decision.expert == "runic"
    unrouted = router.route("What is the difference between them?")
    assert unrouted.expert == "coordinator" and unrouted.abstained


def test_classifier_learns_and_generalises(trained: ClassifierRouter) -> None:
    texts, labels = dataset(300, seed=3)
    accuracy = np.mean([trained.route(t).expert == y for t, y in zip(texts, labels)])
    assert accuracy >= 0.97
    decision = trained.route("Convert to LC-R: [7]")
    assert decision.expert == "runic"
    assert set(decision.scores) == {"ascii", "coordinator", "math", "runic"}
    assert abs(sum(decision.scores.values()) - 1.0) < 1e-5
    assert decision.confidence == max(decision.scores.values())


def test_shared_features_fit_the_same_model_as_a_fit_of_its_own() -> None:
    """train_routers vectorises the prompts once for the classifier and the intent model."""
    from helixmoe.errors import DataError
    from helixmoe.routing.classifier import featurise

    texts, labels = dataset(120, 3)
    other = [f"{label}-{len(text) % 3}" for text, label in zip(texts, labels, strict=True)]  # another task
    features = featurise(texts)
    for y in (labels, other):
        shared = ClassifierRouter.fit(texts, y, features=features)
        own = ClassifierRouter.fit(texts, y)
        assert shared.experts == own.experts
        np.testing.assert_array_equal(shared.coef, own.coef)
        assert shared.route(texts[0]) == own.route(texts[0])
    with pytest.raises(DataError, match="features of 120 texts given for 119"):
        ClassifierRouter.fit(texts[:-1], labels[:-1], features=features)


def test_hand_inference_matches_scikit_learn() -> None:
    from scipy.sparse import hstack
    from sklearn.linear_model import LogisticRegression

    from helixmoe.routing.classifier import _BLOCKS, _vectorizer

    texts, labels = dataset(300, seed=4)
    router = ClassifierRouter.fit(texts, labels)  # no validation: temperature stays 1
    from helixmoe.routing.features import normalise

    vecs = [_vectorizer(params) for _, params in _BLOCKS]
    x = hstack([v.fit_transform([normalise(t) for t in texts]) for v in vecs]).tocsr()
    model = LogisticRegression(C=3.0, max_iter=2000, random_state=0).fit(x, labels)
    probe = ["Convert to LC-T: [1]", "unseen words entirely", "What is 3 + 4?", ""]
    probe += ["CONVERT  to\tLC-T:\u00a0[1]\nconvert convert", "ÉCOLE İstanbul straße a a a", "x" * 300]
    probe += dataset(40, seed=9)[0]
    expected = model.predict_proba(hstack([v.transform([normalise(t) for t in probe]) for v in vecs]).tocsr())
    for _ in range(2):  # the second pass reads every word from the router's per-word cache
        ours = np.stack([router.probabilities(t) for t in probe])
        np.testing.assert_allclose(ours, expected, atol=2e-4)
    router.clear_caches()
    np.testing.assert_allclose(np.stack([router.probabilities(t) for t in probe]), expected, atol=2e-4)


@pytest.mark.parametrize(
    ("block", "ngram_range"),
    [(0, (1, 4)), (0, (1, 1)), (0, (2, 3)), (0, (3, 6)), (1, (1, 2)), (1, (1, 1)), (1, (2, 3))],
)
def test_ngrams_are_scikit_learns(block: int, ngram_range: tuple[int, int]) -> None:
    """The blocks' own n-grams (character ``char_wb`` word by word, and word n-grams): the same list, in the
    same order, as scikit-learn's analyzer, on generated prompts and on odd whitespace, case and short words."""
    from helixmoe import tasks
    from helixmoe.routing.classifier import _BLOCKS, _Block, _vectorizer
    from helixmoe.routing.features import normalise

    params = dict(_BLOCKS[block][1], ngram_range=ngram_range)
    reference = _vectorizer({k: v for k, v in params.items() if k != "max_features"}).build_analyzer()
    ours = _Block(params, {}, 0)
    assert ours.analyze is not reference
    texts = [normalise(e.prompt) for e in tasks.generate(200, seed=8, split="ood")]
    texts += ["", " ", "a", "ab  c\t\td\u00a0e\u2028f\u3000g", "İİ ß Σσς", "🜊14🜁0 42🜂", "abcdefgh " * 3]
    texts += ["lc-r LC-B-hex  to-do x_y a-b-c -lead trail- 12 7 hlxpair_hlxl_lcr", "one", "one two"]
    for text in texts:
        assert ours.grams(text) == reference(text), text


def test_serving_a_classifier_does_not_import_scikit_learn(trained: ClassifierRouter, tmp_path: Path) -> None:
    """Loading and routing reproduce scikit-learn's analyzers: a ``helixmoe query`` start skips its import."""
    trained.save(tmp_path / "router")
    code = (
        "import sys; from helixmoe.routing import load_router; "
        f"r = load_router({str(tmp_path / 'router')!r}); r.route('Convert to LC-T: [1]'); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('sklearn', 'scipy')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_classifier_save_load_roundtrip(trained: ClassifierRouter, tmp_path: Path) -> None:
    trained.save(tmp_path / "router")
    assert sorted(p.name for p in (tmp_path / "router").iterdir()) == ["router.json", "weights.safetensors"]
    loaded = load_router(tmp_path / "router")
    for text in ["Convert to LC-T: null", "runic please: [1]", "What is 5 + 5?"]:
        np.testing.assert_allclose(loaded.probabilities(text), trained.probabilities(text), rtol=1e-6)


def test_temperature_calibration_recovers_a_known_temperature() -> None:
    rng = np.random.default_rng(0)
    true_logits = rng.normal(size=(4000, 3)) * 3
    probs = np.exp(true_logits) / np.exp(true_logits).sum(1, keepdims=True)
    targets = np.array([rng.choice(3, p=p) for p in probs])
    assert fit_temperature(true_logits * 2.5, targets) == pytest.approx(2.5, rel=0.1)


def test_coordinator_can_only_answer_valid_experts() -> None:
    seen = []

    def scorer(prompt: str, names: list[str]) -> list[float]:
        seen.append(prompt)
        return [-5.0 if n != "runic" else -0.1 for n in names]

    router = CoordinatorRouter(scorer=scorer, experts=["ascii", "runic", "coordinator"])
    decision = router.route("glyphs for [1]")
    assert decision.expert == "runic" and decision.router == "coordinator"
    assert "glyphs for [1]" in seen[0]
    assert decision.expert in router.experts


def test_calibrate_threshold() -> None:
    conf = [0.99, 0.98, 0.9, 0.8, 0.7, 0.6]
    ok = [True, True, True, False, True, False]
    assert calibrate_threshold(conf, ok, target=1.0) == 0.9
    assert calibrate_threshold(conf, ok, target=0.75) == 0.7
    assert calibrate_threshold([0.9, 0.5], [False, True], target=0.99) == 1.0
    assert calibrate_threshold([0.9, 0.5], [True, True], target=0.99) == 0.0


class Fixed:
    kind = "fixed"

    def __init__(self, expert: str, confidence: float) -> None:
        self.experts = ("ascii", "runic", "coordinator")
        self.decision = RouteDecision(expert, confidence, {}, "fixed")
        self.calls = 0

    def route(self, text: str) -> RouteDecision:
        self.calls += 1
        return self.decision


def test_cascade_escalates_below_threshold_and_abstains() -> None:
    confident = CascadeRouter(first=Fixed("ascii", 0.95), second=Fixed("runic", 0.9), threshold=0.9)
    assert confident.route("x").expert == "ascii"
    assert confident.second.calls == 0
    unsure = CascadeRouter(first=Fixed("ascii", 0.6), second=Fixed("runic", 0.9), threshold=0.9)
    decision = unsure.route("x")
    assert (decision.expert, decision.router) == ("runic", "cascade>fixed>fixed")
    lost = CascadeRouter(first=Fixed("ascii", 0.6), second=Fixed("runic", 0.3), threshold=0.9, abstain=0.5)
    decision = lost.route("x")
    assert decision.expert == "coordinator" and decision.abstained


def test_cascade_calibrates_and_persists(trained: ClassifierRouter, tmp_path: Path) -> None:
    cascade = CascadeRouter(first=trained, threshold=0.5)
    texts, labels = dataset(200, seed=5)
    threshold = cascade.calibrate(texts, labels, target=0.999)
    assert 0.0 <= threshold <= 1.0
    cascade.save(tmp_path / "router")
    loaded = load_router(tmp_path / "router")
    assert isinstance(loaded, CascadeRouter) and loaded.threshold == threshold
    assert loaded.route("Convert to LC-R: [1]").expert == cascade.route("Convert to LC-R: [1]").expert


def test_cache_serves_repeats() -> None:
    inner = Fixed("ascii", 1.0)
    cached = CachedRouter(inner, maxsize=2)
    for text in ["a", "a", "b", "a", "c", "b"]:
        cached.route(text)
    assert (cached.hits, cached.misses, inner.calls) == (2, 4, 4)


def test_registry_and_load_errors(tmp_path: Path) -> None:
    assert isinstance(build_router("keyword"), KeywordRouter)
    with pytest.raises(Exception, match="unknown router kind"):
        build_router("telepathy")
    with pytest.raises(SystemLoadError, match="no router"):
        load_router(tmp_path)
    (tmp_path / "router.json").write_text("{not json")
    with pytest.raises(SystemLoadError, match="unreadable"):
        load_router(tmp_path)
    file = tmp_path / "router.json"
    for text, problem in [
        ("{}", "missing field 'kind'"),
        ("[]", "expected a JSON object, got list"),
        ('{"kind": ["keyword"]}', None),
    ]:
        file.write_text(text)
        with pytest.raises(SystemLoadError) as caught:
            load_router(tmp_path)
        if problem is None:  # a kind that is not a name is an unknown kind, with the known ones listed
            assert str(caught.value).startswith(f"{file}: unknown router kind ['keyword']; expected one of ")
        else:
            assert str(caught.value) == f"{file}: not a router file: {problem}"


def test_routing_does_not_import_torch() -> None:
    code = "import sys, helixmoe.routing; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
