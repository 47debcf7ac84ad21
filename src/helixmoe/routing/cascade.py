"""The cascade router: a cheap router first, the coordinator when it is unsure, abstain below a floor.

The escalation threshold is calibrated on the validation split (:func:`calibrate_threshold`): the lowest
confidence at which the first router's accepted decisions are still at least ``target`` accurate, so the
expensive stage only sees the requests the cheap one would likely get wrong.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from helixmoe.errors import SystemLoadError
from helixmoe.routing.base import (
    RouteDecision,
    load_router,
    register_router,
    setting_problem,
    write_json_atomic,
)

__all__ = ["CascadeRouter", "calibrate_threshold"]


@register_router("cascade")
class CascadeRouter:
    """``first`` decides when confident; else ``second`` (if any); below ``abstain``, the default expert."""

    kind = "cascade"

    def __init__(
        self,
        *,
        first: Any,
        second: Any | None = None,
        threshold: float = 0.9,
        abstain: float = 0.5,
        default: str = "coordinator",
    ) -> None:
        self.first = first
        self.second = second
        self.threshold = float(threshold)
        self.abstain = float(abstain)
        self.default = default
        self.experts = tuple(first.experts)

    def route(self, text: str) -> RouteDecision:
        decision: RouteDecision = self.first.route(text)
        if decision.confidence >= self.threshold:
            return replace(decision, router=f"cascade>{decision.router}")
        if self.second is not None:
            second: RouteDecision = self.second.route(text)
            if second.confidence >= self.abstain:
                return replace(second, router=f"cascade>{decision.router}>{second.router}")
            decision = second
        elif decision.confidence >= self.abstain:
            return replace(decision, router=f"cascade>{decision.router}")
        return RouteDecision(
            self.default, decision.confidence, decision.scores, f"cascade>{decision.router}", True
        )

    def calibrate(self, texts: Sequence[str], labels: Sequence[str], target: float = 0.995) -> float:
        """Set :attr:`threshold` from validation pairs; returns it."""
        decisions = [self.first.route(t) for t in texts]
        self.threshold = calibrate_threshold(
            [d.confidence for d in decisions], [d.expert == y for d, y in zip(decisions, labels)], target
        )
        return self.threshold

    def save(self, directory: str | Path) -> None:
        directory = Path(directory)
        self.first.save(directory / "first")
        if self.second is not None:
            self.second.save(directory / "second")
        meta = {
            "kind": self.kind,
            "threshold": self.threshold,
            "abstain": self.abstain,
            "default": self.default,
            "has_second": self.second is not None,
        }
        write_json_atomic(directory / "router.json", meta)

    @classmethod
    def load(cls, directory: Path, meta: dict[str, Any], **parts: Any) -> CascadeRouter:
        first = load_router(directory / "first", **parts)
        second = load_router(directory / "second", **parts) if meta.get("has_second") else None
        try:
            bounds = {name: float(meta[name]) for name in ("threshold", "abstain")}
            default = meta["default"]
        except (KeyError, ValueError, TypeError) as err:
            raise SystemLoadError(
                f"{directory / 'router.json'}: bad cascade setting: {setting_problem(err)}"
            ) from None
        for name, value in bounds.items():
            if not 0.0 <= value <= 1.0 + 1e-6:  # 1 + 1e-9 is "always escalate" (calibrate_threshold)
                raise SystemLoadError(
                    f"{directory / 'router.json'}: {name} must be within [0, 1], got {value}"
                )
        if not isinstance(default, str):
            raise SystemLoadError(
                f"{directory / 'router.json'}: default must be an expert name, got {default!r}"
            )
        return cls(first=first, second=second, default=default, **bounds)


def calibrate_threshold(
    confidences: Sequence[float], correct: Sequence[bool], target: float = 0.995
) -> float:
    """The lowest threshold t with accuracy(decisions with confidence ≥ t) ≥ ``target``.

    Walks the decisions from most to least confident and keeps the last point where the running
    accuracy still meets the target. Returns 1.0 (always escalate) when even the most confident
    decision is wrong, and 0.0 when every decision is right.
    """
    pairs = sorted(zip(confidences, correct), key=lambda p: -p[0])
    threshold = 1.0 + 1e-9
    right = 0
    for n, (conf, ok) in enumerate(pairs, start=1):
        right += bool(ok)
        if right / n >= target:
            threshold = conf
    if threshold > 1.0:
        return 1.0
    return 0.0 if all(ok for _, ok in pairs) else float(threshold)
