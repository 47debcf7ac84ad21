"""The classifier router: character + word n-gram TF-IDF and logistic regression, temperature-calibrated.

Training uses scikit-learn (``TfidfVectorizer``, ``LogisticRegression``). Inference is hand-written on
numpy, because a scikit-learn ``predict_proba`` call on one request spends most of its time in input
validation and sparse-matrix plumbing (about a millisecond), while the routing budget is p99 < 1 ms. The
hand path makes the same n-grams as scikit-learn's analyzers (so serving does not import it), the character
block word by word, keeping each word's vocabulary columns (a Python loop per character and per n-gram was
most of a decision: 1.0 ms p50 / 2.1 ms p99 before, 0.43 / 0.97 ms after on the session-13 machine,
``bench_routing.py --system``). Tests check the n-grams and the probabilities against scikit-learn. Weights
are stored as safetensors + JSON, never pickle.

Calibration: one temperature fitted on held-out data by minimising negative log-likelihood (Guo et al.,
"On Calibration of Modern Neural Networks", 2017), so ``confidence`` can drive the cascade threshold.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from safetensors import SafetensorError

from helixmoe.atomic import atomic_path
from helixmoe.errors import DataError, SystemLoadError
from helixmoe.hlx.detect import clear_caches as clear_word_readings
from helixmoe.routing.base import RouteDecision, register_router, write_json_atomic
from helixmoe.routing.features import normalise

__all__ = ["ClassifierRouter", "Featurised", "featurise", "fit_temperature"]

# (name, TfidfVectorizer keyword arguments) of each feature block
_BLOCKS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("char", {"analyzer": "char_wb", "ngram_range": (1, 4), "lowercase": True, "max_features": 60000}),
    (
        "word",
        {
            "analyzer": "word",
            "ngram_range": (1, 2),
            "lowercase": True,
            "max_features": 30000,
            "token_pattern": r"(?u)\b\w[\w-]*\b",
        },
    ),
)


def _vectorizer(params: dict[str, Any]) -> Any:
    from sklearn.feature_extraction.text import TfidfVectorizer

    return TfidfVectorizer(sublinear_tf=True, min_df=1, dtype=np.float32, **params)


@dataclass(frozen=True)
class Featurised:
    """Training prompts vectorised once: the fitted blocks (params, vocabulary, idf) and the TF-IDF matrix
    ``(N, F)``. The expert classifier and the intent model are fitted on the same prompts, and vectorising
    them is most of a fit's time, so :func:`helixmoe.routing.train.train_routers` does it once for both."""

    blocks: list[tuple[dict[str, Any], dict[str, int], np.ndarray]]
    matrix: Any  # scipy.sparse CSR


def featurise(texts: Sequence[str]) -> Featurised:
    """Fit the feature blocks on ``texts`` (normalised, :func:`helixmoe.routing.features.normalise`)."""
    from scipy.sparse import hstack

    docs = [normalise(t) for t in texts]
    blocks = []
    mats = []
    for _, params in _BLOCKS:
        vec = _vectorizer(params)
        mats.append(vec.fit_transform(docs))
        vocab = {k: int(v) for k, v in vec.vocabulary_.items()}
        blocks.append((params, vocab, vec.idf_.astype(np.float32)))
    return Featurised(blocks=blocks, matrix=hstack(mats).tocsr())


def _char_wb_grams(word: str, lo: int, hi: int) -> list[str]:
    """The ``char_wb`` n-grams of one word, exactly as scikit-learn's ``_char_wb_ngrams`` makes them (the
    word padded with a space on each side; a word shorter than ``n`` counted once, whole)."""
    padded = f" {word} "
    grams: list[str] = []
    for n in range(lo, hi + 1):
        if len(padded) <= n:
            grams.append(padded)
            break
        grams += [padded[i : i + n] for i in range(len(padded) - n + 1)]
    return grams


def _word_grams(text: str, pattern: re.Pattern[str], lo: int, hi: int) -> list[str]:
    """The lower-cased word n-grams of ``text``, exactly as scikit-learn's ``word`` analyzer makes them
    (``token_pattern`` tokens, then the n-grams of ``lo``..``hi`` tokens joined by a space)."""
    tokens = pattern.findall(text.lower())
    grams: list[str] = list(tokens) if lo == 1 else []
    for n in range(max(lo, 2), min(hi, len(tokens)) + 1):
        grams += [" ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]
    return grams


#: The TfidfVectorizer settings :class:`_Block` reproduces itself; other settings use scikit-learn's analyzer.
_OWN_ANALYZER_KEYS = {"analyzer", "ngram_range", "lowercase", "max_features", "token_pattern"}


class _Block:
    """One feature block at inference: analyzer, vocabulary and its column offset (the router keeps the idf
    of all blocks in one array).

    The lower-casing ``char_wb`` and ``word`` analyzers of the built-in blocks are reproduced here (same
    n-grams in the same order as scikit-learn's: :meth:`grams`, and a test compares them), so serving never
    imports scikit-learn (1.5 s of a ``helixmoe query`` start on the session-13 machine). The character block is
    worked out word by word, each word's vocabulary columns kept in a bounded cache: requests share most of
    their words, and scikit-learn's per-character n-gram loop plus a look-up per n-gram were most of a routing
    decision.
    """

    _WORDS_KEPT = 1 << 14  # words whose columns are kept (a few MB); the cache starts over when full

    def __init__(self, params: dict[str, Any], vocab: dict[str, int], offset: int) -> None:
        self.vocab = vocab
        self.offset = offset
        self._words: dict[str, np.ndarray] = {}
        self._ngram: tuple[int, int] | None = None  # set: the cached char_wb path
        kind = params.get("analyzer", "word")
        lo, hi = (int(n) for n in params.get("ngram_range", (1, 1)))
        own = set(params) <= _OWN_ANALYZER_KEYS and params.get("lowercase", True)
        if own and kind == "char_wb" and "token_pattern" not in params:
            self._ngram = (lo, hi)
            self.analyze: Callable[[str], list[str]] = self.grams
        elif own and kind == "word":
            pattern = re.compile(params.get("token_pattern", r"(?u)\b\w\w+\b"))
            if pattern.groups > 1:
                raise SystemLoadError(f"token_pattern {pattern.pattern!r} has more than one capturing group")
            self.analyze = lambda text: _word_grams(text, pattern, lo, hi)
        else:
            self.analyze = _vectorizer(
                {k: v for k, v in params.items() if k != "max_features"}
            ).build_analyzer()

    def grams(self, text: str) -> list[str]:
        """The n-grams of ``text``, as the block's scikit-learn analyzer gives them."""
        if self._ngram is None:
            return list(self.analyze(text))
        return [g for word in text.lower().split() for g in _char_wb_grams(word, *self._ngram)]

    def _columns(self, grams: list[str]) -> np.ndarray:
        offset = self.offset
        return np.array([c + offset for c in map(self.vocab.get, grams) if c is not None], dtype=np.int64)

    def columns(self, text: str, into: list[np.ndarray]) -> None:
        """Append to ``into`` the column (in the router's features, offset included) of each of ``text``'s
        known n-grams, repeated as often as it occurs."""
        if self._ngram is None:
            into.append(self._columns(self.analyze(text)))
            return
        for word in text.lower().split():
            cols = self._words.get(word)
            if cols is None:
                cols = self._columns(_char_wb_grams(word, *self._ngram))
                if len(self._words) >= self._WORDS_KEPT:
                    self._words.clear()
                self._words[word] = cols
            into.append(cols)


def _counts(cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(cols, return_counts=True)`` without its generic set-up, a third of a block's features on
    long requests (``cols`` is a fresh array: it is sorted in place)."""
    if not len(cols):
        return cols, cols
    cols.sort()
    first = np.empty(len(cols), dtype=bool)
    first[0] = True
    np.not_equal(cols[1:], cols[:-1], out=first[1:])
    starts = np.flatnonzero(first)
    counts = np.empty_like(starts)
    np.subtract(starts[1:], starts[:-1], out=counts[:-1])
    counts[-1] = len(cols) - starts[-1]
    return cols[starts], counts


@register_router("classifier")
class ClassifierRouter:
    """A small learned router with calibrated probabilities.

    Build one with :meth:`fit`, or :func:`helixmoe.routing.load_router` from a saved directory.
    """

    kind = "classifier"

    def __init__(
        self,
        *,
        classes: Sequence[str],
        blocks: list[tuple[dict[str, Any], dict[str, int], np.ndarray]],
        coef: np.ndarray,
        intercept: np.ndarray,
        temperature: float = 1.0,
    ) -> None:
        self.experts = tuple(classes)
        self._specs = blocks
        offset = 0
        self._blocks: list[_Block] = []
        for params, vocab, _ in blocks:
            self._blocks.append(_Block(params, vocab, offset))
            offset += len(vocab)
        self.coef = np.ascontiguousarray(coef, dtype=np.float32)  # (C, F)
        self._coef_t = np.ascontiguousarray(self.coef.T)  # (F, C): a request's columns are rows here
        self._idf = np.concatenate([np.asarray(idf, dtype=np.float32) for _, _, idf in blocks])
        self._cuts = np.array([block.offset for block in self._blocks[1:]], dtype=np.int64)
        self.intercept = np.asarray(intercept, dtype=np.float32)  # (C,)
        self.temperature = float(temperature)

    @classmethod
    def fit(
        cls,
        texts: Sequence[str],
        labels: Sequence[str],
        *,
        val_texts: Sequence[str] | None = None,
        val_labels: Sequence[str] | None = None,
        c: float = 3.0,
        seed: int = 0,
        features: Featurised | None = None,
    ) -> ClassifierRouter:
        """Train on ``(text, expert)`` pairs; calibrate the temperature on the validation pairs if given.

        ``features``: :func:`featurise` of these same ``texts``, when another fit already vectorised them.
        """
        from sklearn.linear_model import LogisticRegression

        if len(texts) != len(labels) or not texts:
            raise DataError(
                f"router training needs equal, non-empty texts and labels ({len(texts)} vs {len(labels)})"
            )
        if len(set(labels)) < 2:
            raise DataError("router training needs at least two experts in the labels")
        if features is None:
            features = featurise(texts)
        elif features.matrix.shape[0] != len(texts):
            raise DataError(f"features of {features.matrix.shape[0]} texts given for {len(texts)} texts")
        blocks = features.blocks
        model = LogisticRegression(C=c, max_iter=2000, random_state=seed)
        model.fit(features.matrix, list(labels))
        classes = [str(x) for x in model.classes_]
        coef, intercept = model.coef_, model.intercept_
        if coef.shape[0] == 1:  # binary: softmax over [0, z] equals the logistic of z
            coef = np.vstack([np.zeros_like(coef), coef])
            intercept = np.concatenate([[0.0], intercept])
        router = cls(classes=classes, blocks=blocks, coef=coef, intercept=intercept)
        if val_texts is not None and val_labels is not None and len(val_texts):
            logits = np.stack([router.logits(t) for t in val_texts])
            index = {name: i for i, name in enumerate(classes)}
            targets = np.array([index.get(y, -1) for y in val_labels])
            keep = targets >= 0
            router.temperature = fit_temperature(logits[keep], targets[keep])
        return router

    def logits(self, text: str) -> np.ndarray:
        """Uncalibrated class logits ``(C,)`` for one request.

        Every block's n-grams are counted together, in one pass of a few numpy calls (at a few microseconds
        each on a small CPU, calls per block were a third of a decision); each block's TF-IDF part is still
        L2-normalised on its own, as scikit-learn's vectorisers do before they are stacked."""
        doc = normalise(text)
        parts: list[np.ndarray] = []
        for block in self._blocks:
            block.columns(doc, parts)
        if not parts:
            return self.intercept.copy()
        cols, tf = _counts(np.concatenate(parts))
        if not len(cols):
            return self.intercept.copy()
        vals = (1.0 + np.log(tf.astype(np.float32))) * self._idf[cols]
        lo = 0
        for hi in [*np.searchsorted(cols, self._cuts).tolist(), len(cols)]:  # one slice per block
            part = vals[lo:hi]
            norm = float(np.sqrt(part @ part))
            if norm:
                part /= norm
            lo = hi
        logits: np.ndarray = vals @ self._coef_t[cols] + self.intercept  # (C,)
        return logits

    def clear_caches(self) -> None:
        """Forget the n-gram columns kept per word, the memoised normalised requests and the remembered
        readings of words as values (benchmarks time decisions from a cold start with it)."""
        for block in self._blocks:
            block._words.clear()
        normalise.cache_clear()
        clear_word_readings()

    def _softmax(self, text: str) -> list[float]:
        # in Python floats: numpy's per-call cost is most of a softmax over a handful of classes
        z = [v / self.temperature for v in self.logits(text).tolist()]
        top = max(z)
        exps = [math.exp(v - top) for v in z]
        total = sum(exps)
        return [e / total for e in exps]

    def probabilities(self, text: str) -> np.ndarray:
        """Calibrated probabilities ``(C,)``, in the order of :attr:`experts`."""
        return np.array(self._softmax(text))

    def route(self, text: str) -> RouteDecision:
        probs = self._softmax(text)
        best = max(range(len(probs)), key=probs.__getitem__)
        return RouteDecision(self.experts[best], probs[best], dict(zip(self.experts, probs)), self.kind)

    def save(self, directory: str | Path) -> None:
        """Write ``router.json`` (metadata + vocabularies) and ``weights.safetensors``."""
        from safetensors.numpy import save_file

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        tensors = {"coef": self.coef, "intercept": self.intercept}
        blocks = []
        for i, (params, vocab, idf) in enumerate(self._specs):
            tensors[f"idf.{i}"] = np.asarray(idf, dtype=np.float32)
            ordered = sorted(vocab, key=vocab.__getitem__)
            blocks.append(
                {
                    "params": {k: list(v) if isinstance(v, tuple) else v for k, v in params.items()},
                    "vocabulary": ordered,
                }
            )
        with atomic_path(directory / "weights.safetensors") as tmp:
            save_file(tensors, str(tmp))
        meta = {
            "kind": self.kind,
            "classes": list(self.experts),
            "temperature": self.temperature,
            "blocks": blocks,
        }
        write_json_atomic(directory / "router.json", meta)

    @classmethod
    def load(cls, directory: Path, meta: dict[str, Any], **_: Any) -> ClassifierRouter:
        from safetensors.numpy import load_file

        path = directory / "weights.safetensors"
        try:
            tensors = load_file(str(path))
            blocks = []
            for i, block in enumerate(meta["blocks"]):
                params = {k: tuple(v) if isinstance(v, list) else v for k, v in block["params"].items()}
                vocab = {gram: j for j, gram in enumerate(block["vocabulary"])}
                blocks.append((params, vocab, tensors[f"idf.{i}"]))
            classes, coef, intercept = meta["classes"], tensors["coef"], tensors["intercept"]
            _check_weights(classes, blocks, coef, intercept)
            temperature = float(meta.get("temperature", 1.0))
            if not (math.isfinite(temperature) and temperature > 0):
                raise ValueError(f"temperature must be a positive number, got {meta.get('temperature')!r}")
            return cls(
                classes=classes, blocks=blocks, coef=coef, intercept=intercept, temperature=temperature
            )
        except (OSError, KeyError, ValueError, TypeError, SafetensorError) as err:
            raise SystemLoadError(f"cannot load the classifier router from {directory}: {err}") from None


def _check_weights(classes: Any, blocks: list[Any], coef: np.ndarray, intercept: np.ndarray) -> None:
    """A hand-edited or mismatched ``router.json`` fails here, at load, rather than on every request."""
    if not isinstance(classes, list) or len(classes) < 2 or not all(isinstance(c, str) for c in classes):
        raise ValueError(f"classes must be a list of at least two names, got {classes!r}")
    if not blocks:
        raise ValueError("no feature blocks")
    for i, (_, vocab, idf) in enumerate(blocks):
        if np.shape(idf) != (len(vocab),):
            raise ValueError(f"block {i}: idf of shape {np.shape(idf)} for {len(vocab)} n-grams")
    width = sum(len(vocab) for _, vocab, _ in blocks)
    if coef.shape != (len(classes), width) or intercept.shape != (len(classes),):
        raise ValueError(
            f"weights of shape {coef.shape} and {intercept.shape} do not fit {len(classes)} classes and "
            f"{width} features"
        )


def fit_temperature(logits: np.ndarray, targets: np.ndarray) -> float:
    """The temperature T > 0 minimising the NLL of ``softmax(logits / T)`` (golden-section on log T).

    Args:
        logits: ``(N, C)`` uncalibrated logits.
        targets: ``(N,)`` class indices.
    """
    if len(targets) == 0:
        return 1.0

    def nll(log_t: float) -> float:
        z = logits / math.exp(log_t)
        z = z - z.max(axis=1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        return float(-logp[np.arange(len(targets)), targets].mean())

    lo, hi = -4.0, 4.0
    ratio = (math.sqrt(5) - 1) / 2
    a, b = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
    fa, fb = nll(a), nll(b)
    for _ in range(60):
        if fa < fb:
            hi, b, fb = b, a, fa
            a = hi - ratio * (hi - lo)
            fa = nll(a)
        else:
            lo, a, fa = a, b, fb
            b = lo + ratio * (hi - lo)
            fb = nll(b)
    return math.exp((lo + hi) / 2)
