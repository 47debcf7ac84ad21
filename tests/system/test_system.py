"""HelixMoE end to end on a tiny untrained system: loading, routing, batching, grammar, verification."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from helixmoe import hlx
from helixmoe.errors import ConfigError, RequestError, SystemLoadError
from helixmoe.system import HelixMoE


@pytest.fixture(scope="module")
def moe(tiny_system: Path) -> HelixMoE:
    return HelixMoE.load(tiny_system, device="cpu")


def test_load_and_route(moe: HelixMoE) -> None:
    assert set(moe.experts) == {"ascii", "runic", "coordinator", "math"}
    assert moe.route("Convert to LC-R: [1, 2, 3]").expert == "runic"
    assert moe.route("Convert to LC-T: [1, 2, 3]").expert == "ascii"
    assert moe.route("What is 15 + 27?").expert == "math"


def test_route_request_keeps_the_published_keys(moe: HelixMoE) -> None:
    result = moe.route_request("Convert to LC-R: [1, 2, 3]", verify="flag")
    for key in ("specialist", "response", "confidence", "verified", "timings"):
        assert key in result
    assert result["specialist"] == "runic"
    assert set(result["timings"]) == {"route", "generate", "verify", "total"}
    assert result["verified"] in (True, False)  # a conversion is checkable


def test_constrained_decoding_makes_an_untrained_model_parse(moe: HelixMoE) -> None:
    prompts = {
        "Convert to LC-R: [1, 2, 3]": "lc-r",
        "Convert to LC-T: {a: 1}": "lc-t",
        "Encode [true] in LC-B": "lc-b-text",
        "Write 🜊14🜁0 42🜂 as HLXL": "hlxl",
    }
    for verify in ("flag", "off"):  # the grammar needs no verification (it once silently did)
        answers = moe.batch(list(prompts), constrained=True, verify=verify)
        for answer, notation in zip(answers, prompts.values()):
            assert answer.target == notation
            hlx.loads(answer.model_text, notation, strict=True)  # parses: grammar guaranteed it


def test_oracle_policy_replaces_wrong_answers_and_says_so(moe: HelixMoE) -> None:
    answer = moe.answer("Convert to LC-R: [1, 2, 3]", verify="oracle")
    assert answer.text == "🜃1, 2, 3🜄"
    assert answer.verified is True
    # an untrained model is wrong, so the answer must come from a fallback, and the model's own text is kept
    assert answer.fallback_used in ("retry", "oracle")
    assert answer.model_text != answer.text


def test_flag_policy_catches_a_planted_wrong_answer(moe: HelixMoE) -> None:
    check = moe.verifier.check("Convert to LC-T: [1, 2, 3]")
    assert check.target == "lc-t" and check.checkable
    assert check.verify("[1,2,3]")
    assert not check.verify("[1,2,4]")  # planted: valid LC-T, wrong value
    assert not check.verify("[1, 2, 3]")  # right value, not canonical LC-T: not what the oracle promises
    assert not check.verify("🜃1, 2, 3🜄")  # wrong notation


def test_questions_are_not_checkable(moe: HelixMoE) -> None:
    answer = moe.answer("What is LC-T?", verify="oracle")
    assert answer.verified is None and answer.fallback_used is None


def test_off_policy_and_pinned_expert(moe: HelixMoE) -> None:
    answer = moe.answer("Convert to LC-R: [1]", verify="off", expert="math")
    assert answer.expert == "math" and answer.route.expert == "runic"
    assert answer.verified is None


def test_batch_of_mixed_experts_matches_single_queries(moe: HelixMoE) -> None:
    prompts = ["Convert to LC-R: [1]", "What is 2 + 2?", "Convert to LC-T: [true]", "What is LC-R?"]
    together = [a.text for a in moe.batch(prompts, verify="off", batch_size=4)]
    alone = [moe.query(p, verify="off") for p in prompts]
    assert together == alone


def test_bad_arguments_are_clear(moe: HelixMoE) -> None:
    with pytest.raises(ConfigError, match="unknown expert"):
        moe.query("x", expert="nope")
    with pytest.raises(ConfigError, match="verify policy"):
        moe.query("x", verify="sometimes")


def test_requests_no_expert_can_answer_are_refused_clearly(moe: HelixMoE) -> None:
    with pytest.raises(RequestError, match="the request is empty"):
        moe.query("   ")
    with pytest.raises(RequestError, match="the request is empty"):
        moe.route("")
    # undecodable bytes of a terminal or pipe arrive as lone surrogates (surrogateescape)
    garbled = b"what is \xff\xfe".decode("utf-8", "surrogateescape")
    with pytest.raises(RequestError, match="undecodable byte at character 9"):
        moe.query(garbled)
    with pytest.raises(RequestError, match="request 2 is empty"):
        moe.batch(["Convert to LC-R: [1]", ""])
    # longer than the base reads: refused at once instead of decoding for minutes
    context = moe.pool.base.config.max_position_embeddings
    huge = "Convert to LC-R: [" + ", ".join(["1"] * context) + "]"
    with pytest.raises(RequestError, match=f"base reads at most {context}"):
        moe.query(huge)
    # in a batch (an evaluation, say) such a row gets no answer and the others go on
    short, long = moe.batch(["Convert to LC-R: [1]", huge], verify="off")
    assert long.text == "" and short.text == moe.query("Convert to LC-R: [1]", verify="off")
    # far longer: refused from a prefix, the whole request never tokenised (a long hex run's cost grows with
    # the square of its length in the hlx pre-tokenizer)
    hexrun = "Convert this LC-B hex to HLXL: " + "ab" * (40 * context)
    with pytest.raises(
        RequestError, match=f"more than \\d+ tokens long; this system's base reads at most {context}"
    ):
        moe.query(hexrun)


def test_far_too_long_prompts_are_measured_on_a_prefix() -> None:
    from helixmoe.models.template import prefix_over

    class Counting:
        def __init__(self) -> None:
            self.seen: list[int] = []

        def encode(self, text: str, add_special_tokens: bool = False) -> list[int]:
            self.seen.append(len(text))
            return [0] * len(text)  # one token per character

    tok = Counting()
    assert (
        prefix_over(tok, "x" * 800, 100) is None and tok.seen == []
    )  # short enough: tokenised in full later
    assert prefix_over(tok, "x" * 10_000_000, 100) == 800 and tok.seen == [800]
    tok.seen.clear()

    class Words(Counting):
        def encode(self, text: str, add_special_tokens: bool = False) -> list[int]:
            return [0] * (len(text) // 20)  # long tokens: the prefix fits, so the caller tokenises it all

    assert prefix_over(Words(), "x" * 100_000, 100) is None


def test_corrupt_weights_and_bad_expert_metadata_fail_at_load(tiny_system: Path, tmp_path: Path) -> None:
    import json

    for part in ("experts/runic/adapter_model.safetensors", "base/model.safetensors"):
        broken = tmp_path / part.split("/")[0]
        shutil.copytree(tiny_system, broken)
        path = broken / part
        path.write_bytes(path.read_bytes()[:10])  # a truncated download or copy
        with pytest.raises(SystemLoadError, match="cannot load"):
            HelixMoE.load(broken, device="cpu")
    broken = tmp_path / "meta"
    shutil.copytree(tiny_system, broken)
    meta = broken / "experts" / "runic" / "expert.json"
    info = json.loads(meta.read_text())
    meta.write_text(json.dumps({**info, "answer_tokens": {"offset": "abc", "slope": 1}}))
    with pytest.raises(SystemLoadError, match="answer_tokens must be an object with numbers"):
        HelixMoE.load(broken, device="cpu")
    with pytest.raises(ConfigError, match="unknown device 'bogus'"):
        HelixMoE.load(tiny_system, device="bogus")


def test_router_override(tiny_system: Path) -> None:
    keyword = HelixMoE.load(tiny_system, router="keyword", device="cpu")
    assert keyword.route("Convert to LC-R: [1]").router == "keyword"
    classifier = HelixMoE.load(tiny_system, router="classifier", device="cpu")
    assert classifier.route("Convert to LC-R: [1]").router == "classifier"
    coordinator = HelixMoE.load(tiny_system, router="coordinator", device="cpu")
    decision = coordinator.route("Convert to LC-R: [1]")
    assert decision.router == "coordinator" and decision.expert in coordinator.experts


def test_missing_adapter_fails_at_load(tiny_system: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(tiny_system, broken)
    (broken / "experts" / "runic" / "adapter_model.safetensors").unlink()
    with pytest.raises(SystemLoadError, match="runic"):
        HelixMoE.load(broken, device="cpu")


def _with_task_hints(
    tiny_system: Path, tmp_path: Path, *, frame: bool = False, aligned: bool = False
) -> Path:
    import yaml

    root = tmp_path / ("aligned" if aligned else "framed" if frame else "hinted")
    shutil.copytree(tiny_system, root)
    config = yaml.safe_load((root / "system.yaml").read_text())
    config.setdefault("training", {})["task_hints"] = True
    config["training"]["frame_requests"] = frame
    config["training"]["aligned_positions"] = aligned
    (root / "system.yaml").write_text(yaml.safe_dump(config))
    return root


def _spy_on_prompts(moe: HelixMoE, firsts: list[int | None] | None = None) -> list[str]:
    """The decoded prompt of every row the system generates from, from now on (and, into ``firsts``, the
    position of each row's first answer token, ``None`` where the decoder's default applies)."""
    seen: list[str] = []
    generate_ids = moe.pool.generate_ids

    def spy(rows, experts, caps, **kwargs):
        seen.extend(moe.pool.tokenizer.decode(r) for r in rows)
        if firsts is not None:
            firsts.extend(kwargs.get("first_positions") or [None] * len(rows))
        return generate_ids(rows, experts, caps, **kwargs)

    moe.pool.generate_ids = spy
    return seen


def test_task_hints_reach_the_expert_and_the_answer(tiny_system: Path, tmp_path: Path) -> None:
    moe = HelixMoE.load(_with_task_hints(tiny_system, tmp_path), device="cpu", cache_size=0)
    request = "Convert to LC-R: [1, 2, 3]"
    assert moe.model_prompt(request) == "@task lc-r\n" + request  # the intent model's task, then the request
    assert moe.model_prompt("Is this valid LC-T? [1,2") == "@task validate\nIs this valid LC-T? [1,2"
    seen = _spy_on_prompts(moe)
    answer = moe.answer(request, verify="off")
    assert answer.task == "lc-r" and answer.to_dict()["task"] == "lc-r"
    assert seen == ["<|user|>@task lc-r\n" + request + "<|assistant|>"]
    assert moe.answer(request, verify="flag").task == "lc-r"  # the same hint when verification runs the model
    assert len(seen) == 2 and seen[1] == seen[0]
    # a system trained without hints leaves the request alone
    plain = HelixMoE.load(tiny_system, device="cpu")
    assert plain.model_prompt(request) == request and plain.answer(request, verify="off").task is None


def test_framed_requests_show_the_expert_only_the_value(tiny_system: Path, tmp_path: Path) -> None:
    moe = HelixMoE.load(_with_task_hints(tiny_system, tmp_path, frame=True), device="cpu", cache_size=0)
    assert moe.prompt_style == "frame"
    assert moe.model_prompt("Please convert `[1, 2, 3]` to LC-R, thanks!") == "@task lc-r\n[1, 2, 3]"
    # no value to frame, or a verdict asked for: the request keeps its text (a framed value would tell
    # the model it parsed)
    assert moe.model_prompt("Is this valid LC-T? [1,2") == "@task validate\nIs this valid LC-T? [1,2"
    seen = _spy_on_prompts(moe)
    moe.answer("Convert to LC-R: [1, 2, 3]", verify="flag")
    assert seen == ["<|user|>@task lc-r\n[1, 2, 3]<|assistant|>"]


def test_aligned_positions_reach_the_decoder(tiny_system: Path, tmp_path: Path) -> None:
    from helixmoe.models.template import aligned_value_at, encode_request

    moe = HelixMoE.load(
        _with_task_hints(tiny_system, tmp_path, frame=True, aligned=True), device="cpu", cache_size=0
    )
    assert moe.prompt_style == "aligned"
    firsts: list[int | None] = []
    seen = _spy_on_prompts(moe, firsts)
    requests = ["Convert to LC-R: [1, 2, 3]", "Is this valid LC-T? [1,2"]
    answers = moe.batch(requests, verify="off")
    assert seen == [
        "<|user|>@task lc-r\n[1, 2, 3]<|assistant|>",
        "<|user|>@task validate\nIs this valid LC-T? [1,2<|assistant|>",
    ]
    framed = encode_request(
        moe.pool.tokenizer, "@task lc-r\n[1, 2, 3]", aligned_value_at("@task lc-r\n[1, 2, 3]")
    )
    plain = encode_request(moe.pool.tokenizer, "@task validate\nIs this valid LC-T? [1,2")
    # the conversion's answer sits on the value's positions; the verdict continues after its prompt
    assert firsts == [framed.answer_position, plain.answer_position]
    assert framed.answer_position < len(framed.ids)
    # the answers are the decoder's with those positions
    expected = moe.pool.generate_ids(
        [framed.ids],
        [answers[0].expert],
        [moe.token_limit(len(framed.ids), answers[0].expert)],
        first_positions=[framed.answer_position],
    )
    assert answers[0].text == moe.pool.tokenizer.decode(expected[0], skip_special_tokens=True).strip()


def test_task_hints_need_the_intent_model(tiny_system: Path, tmp_path: Path) -> None:
    root = _with_task_hints(tiny_system, tmp_path)
    shutil.rmtree(root / "router" / "intent")
    with pytest.raises(SystemLoadError, match=r"task hints .* no intent model"):
        HelixMoE.load(root, device="cpu")


def test_token_limit_follows_the_experts_fitted_answer_budget(moe: HelixMoE) -> None:
    name = moe.experts[0]
    info = moe.pool.info(name)
    saved = info.pop("answer_tokens", None)
    try:
        assert moe.token_limit(10, name) == 40  # no budget: four times the prompt
        info["answer_tokens"] = {"offset": 70.0, "slope": 1.5}
        assert moe.token_limit(10, name) == 85  # a short question may get a long answer
        assert moe.token_limit(1000, name) == moe.max_new_tokens  # never above the hard cap
    finally:
        info.pop("answer_tokens", None)
        if saved is not None:
            info["answer_tokens"] = saved


def test_answer_budget_covers_every_training_answer() -> None:
    from helixmoe.models.template import encode_prompt
    from helixmoe.models.tokenizer import train_tokenizer
    from helixmoe.tasks import generate
    from helixmoe.training.data import TextPair
    from helixmoe.training.experts import answer_budget

    examples = generate(300, seed=4, experts=["coordinator", "ascii"])
    tok = train_tokenizer([t for e in examples for t in (e.prompt, e.response)], vocab_size=400)
    pairs = [TextPair(e.prompt, e.response) for e in examples]
    budget = answer_budget(tok, pairs, margin=0)
    for p in pairs:
        cap = budget["offset"] + budget["slope"] * len(encode_prompt(tok, p.prompt))
        assert len(tok.encode(p.response)) <= cap + 1e-6
    assert 0 < budget["slope"] < 10


def test_serving_constrained_is_the_systems_default(tiny_system: Path, tmp_path: Path) -> None:
    import yaml

    from helixmoe.evaluation.run import evaluate_system

    assert HelixMoE.load(tiny_system, device="cpu").constrained is False  # the config's default
    root = tmp_path / "constrained"
    shutil.copytree(tiny_system, root)
    config = yaml.safe_load((root / "system.yaml").read_text())
    config["serving"] = {"constrained": True}
    (root / "system.yaml").write_text(yaml.safe_dump(config))
    moe = HelixMoE.load(root, device="cpu", cache_size=0)
    assert moe.constrained is True
    answer = moe.answer("Convert to LC-T: {a: 1}", verify="off")
    assert answer.target == "lc-t"
    hlx.loads(answer.model_text, "lc-t", strict=True)  # the untrained model parses: the grammar was on
    assert HelixMoE.load(root, device="cpu", constrained=False).constrained is False  # the argument wins
    cfg = moe.config.evaluation.model_copy(update={"n": 4, "latency_queries": 0, "plots": False})
    report, written = evaluate_system(moe, "test", config=cfg, out=tmp_path / "report")
    assert report.meta["constrained"] is True
    assert "decoding `grammar-constrained`" in written["markdown"].read_text()


def test_expert_scorer_sums_each_candidates_log_probs_as_if_alone(moe: HelixMoE) -> None:
    """The coordinator's candidate scores (one padded batch, one host copy) are each candidate's summed
    log-probabilities after the prompt, as a forward pass of that row alone gives them."""
    import torch

    from helixmoe.models.template import encode_prompt
    from helixmoe.system.scoring import ExpertScorer

    name = moe.experts[-1]
    scorer = ExpertScorer(moe.pool, name)
    prompt, candidates = (
        "Which expert converts [1, 2] to LC-R?",
        ["runic", "ascii", "coordinator", "a b c d e"],
    )
    got = scorer(prompt, candidates)
    tok = moe.pool.tokenizer
    prompt_ids = encode_prompt(tok, prompt)
    for candidate, score in zip(candidates, got, strict=True):
        row = prompt_ids + tok.encode(candidate, add_special_tokens=False) + [tok.eos_token_id]
        with torch.inference_mode():
            logits = (
                moe.pool.model(input_ids=torch.tensor([row]), adapter_names=[name]).logits[0, :-1].float()
            )
        logp = torch.log_softmax(logits, -1).gather(-1, torch.tensor(row[1:])[:, None])[:, 0]
        assert score == pytest.approx(float(logp[len(prompt_ids) - 1 :].sum()), abs=1e-4)
    assert len(set(got)) == len(got)


def test_serving_verify_is_the_systems_default_policy(tiny_system: Path, tmp_path: Path) -> None:
    import yaml

    assert HelixMoE.load(tiny_system, device="cpu").verify_policy == "flag"  # the config's default
    root = tmp_path / "oracle"
    shutil.copytree(tiny_system, root)
    config = yaml.safe_load((root / "system.yaml").read_text())
    config["serving"] = {"verify": "oracle"}
    (root / "system.yaml").write_text(yaml.safe_dump(config))
    moe = HelixMoE.load(root, device="cpu", cache_size=0, max_new_tokens=24)
    assert moe.verify_policy == "oracle"
    answer = moe.answer("Convert to LC-T: [1, 2, 3]")  # the untrained model is wrong; the oracle replaces it
    assert (answer.text, answer.verified, answer.fallback_used) == ("[1,2,3]", True, "oracle")
    assert HelixMoE.load(root, device="cpu", verify="off").verify_policy == "off"  # the argument wins
    config["serving"] = {"verify": "sometimes"}
    (root / "system.yaml").write_text(yaml.safe_dump(config))
    with pytest.raises(ConfigError, match=r"serving\.verify"):
        HelixMoE.load(root, device="cpu")
