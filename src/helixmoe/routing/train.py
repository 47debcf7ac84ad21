"""Fit the routers of a system from its corpus: the expert classifier, the cascade, and the intent model.

``train_routers`` is the ``router`` stage of ``helixmoe train``: it fits the n-gram classifier on the
train split's prompts → experts, calibrates its temperature and the cascade's escalation threshold on
the validation split, fits the *intent* model (prompt → task, :func:`helixmoe.tasks.task_label`: the
answer's notation, ``validate``, ``multi:…`` or the task kind) used by verification (its notations are the
targets) and, with ``training.task_hints``, for the experts' task hint line, and saves everything under
``<system>/router/`` (safetensors + JSON).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from helixmoe.routing.base import write_json_atomic
from helixmoe.routing.cascade import CascadeRouter
from helixmoe.routing.classifier import ClassifierRouter, Featurised, featurise
from helixmoe.routing.coordinator import CoordinatorRouter
from helixmoe.routing.keyword import KeywordRouter

__all__ = ["train_routers"]

logger = logging.getLogger(__name__)


def train_routers(
    train: Sequence[Any],
    val: Sequence[Any],
    out_dir: str | Path,
    *,
    kind: str = "cascade",
    target: float = 0.995,
    coordinator: bool = True,
) -> dict[str, Any]:
    """Fit, calibrate and save the routers; returns validation metrics.

    Args:
        train: corpus examples (objects with ``prompt``, ``expert``, ``meta``) for fitting.
        val: held-out examples for calibration and the reported accuracy.
        out_dir: the system's ``router/`` directory.
        kind: ``classifier`` or ``cascade`` (classifier, then the coordinator expert when unsure).
        target: accuracy the cascade's accepted classifier decisions must reach on ``val``.
        coordinator: give the cascade a coordinator second stage (needs a ``coordinator`` expert).
    """
    out = Path(out_dir)
    start = time.perf_counter()
    texts, labels = [e.prompt for e in train], [e.expert for e in train]
    val_texts, val_labels = [e.prompt for e in val], [e.expert for e in val]
    if len(set(labels)) == 1:  # one expert: nothing to learn, every request goes to it
        only = labels[0]
        KeywordRouter(rules=[], default=only, experts=[only]).save(out)
        _fit_intent(train, val, out)
        single: dict[str, Any] = {
            "single_expert": only,
            "train_examples": len(texts),
            "seconds": round(time.perf_counter() - start, 2),
        }
        write_json_atomic(out / "metrics.json", single)
        return single
    features = featurise(texts)  # shared by the expert classifier and the intent model
    classifier = ClassifierRouter.fit(
        texts, labels, val_texts=val_texts, val_labels=val_labels, features=features
    )
    metrics: dict[str, Any] = {
        "train_examples": len(texts),
        "val_examples": len(val_texts),
        "temperature": classifier.temperature,
    }
    if val_texts:
        metrics["val_classifier_accuracy"] = _accuracy(classifier, val_texts, val_labels)
    router: Any = classifier
    if kind == "cascade":
        second = CoordinatorRouter(scorer=None, experts=classifier.experts) if coordinator else None
        router = CascadeRouter(first=classifier, second=second, default="coordinator")
        if val_texts:
            metrics["cascade_threshold"] = router.calibrate(val_texts, val_labels, target)
            metrics["escalation_rate"] = sum(
                classifier.route(t).confidence < router.threshold for t in val_texts
            ) / len(val_texts)
    router.save(out)
    intent_accuracy = _fit_intent(train, val, out, features)
    if intent_accuracy is not None:
        metrics["val_intent_accuracy"] = intent_accuracy
    metrics["seconds"] = round(time.perf_counter() - start, 2)
    write_json_atomic(out / "metrics.json", metrics)
    logger.info("router stage: %s", metrics)
    return metrics


def _fit_intent(
    train: Sequence[Any], val: Sequence[Any], out: Path, features: Featurised | None = None
) -> float | None:
    """Fit and save the intent model (prompt -> task label); ``None`` when there is one task only.

    ``features``: the train prompts already vectorised (:func:`~helixmoe.routing.classifier.featurise`).
    """
    from helixmoe.tasks import task_label

    labels = [task_label(e.meta) for e in train]
    if len(set(labels)) < 2:
        return None
    val_texts, val_labels = [e.prompt for e in val], [task_label(e.meta) for e in val]
    intent = ClassifierRouter.fit(
        [e.prompt for e in train], labels, val_texts=val_texts, val_labels=val_labels, features=features
    )
    intent.save(out / "intent")
    return _accuracy(intent, val_texts, val_labels) if val_texts else None


def _accuracy(router: Any, texts: Sequence[str], labels: Sequence[str]) -> float:
    return float(sum(router.route(t).expert == y for t, y in zip(texts, labels)) / max(1, len(texts)))
