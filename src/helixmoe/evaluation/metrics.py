"""Pure metric functions of the harness: percentiles, confusion matrices, error attribution, tallies.

No model, no I/O: every function takes plain lists, so the numbers are checked on hand-made cases.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from helixmoe.tasks import Grade

__all__ = [
    "Attribution",
    "Tally",
    "accuracy",
    "attribute_errors",
    "confusion_matrix",
    "latency_summary",
    "percentile",
]


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0..100) by linear interpolation between closest ranks (numpy's default).

    Returns ``None`` for an empty sequence.
    """
    if not values:
        return None
    if not 0 <= q <= 100:
        raise ValueError(f"percentile must be in [0, 100], got {q}")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100.0
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def latency_summary(values_ms: Sequence[float]) -> dict[str, Any]:
    """``n``, ``mean``, ``p50``, ``p95``, ``p99``, ``max`` of latencies in milliseconds (rounded to µs)."""
    if not values_ms:
        return {"n": 0, "mean": None, "p50": None, "p95": None, "p99": None, "max": None}

    def r(x: float | None) -> float | None:
        return None if x is None else round(x, 3)

    return {
        "n": len(values_ms),
        "mean": r(sum(values_ms) / len(values_ms)),
        "p50": r(percentile(values_ms, 50)),
        "p95": r(percentile(values_ms, 95)),
        "p99": r(percentile(values_ms, 99)),
        "max": r(max(values_ms)),
    }


def confusion_matrix(
    true: Sequence[str], predicted: Sequence[str], labels: Sequence[str] | None = None
) -> tuple[list[str], list[list[int]]]:
    """Counts ``matrix[i][j]`` of items whose true label is ``labels[i]`` and predicted ``labels[j]``.

    ``labels`` defaults to the given ones in order of first appearance (true labels first); labels seen
    in the data but missing from ``labels`` are appended, so no item is ever dropped.
    """
    if len(true) != len(predicted):
        raise ValueError(f"{len(true)} true labels but {len(predicted)} predictions")
    order = list(dict.fromkeys([*(labels or ()), *true, *predicted]))
    index = {name: i for i, name in enumerate(order)}
    matrix = [[0] * len(order) for _ in order]
    for t, p in zip(true, predicted):
        matrix[index[t]][index[p]] += 1
    return order, matrix


def accuracy(true: Sequence[str], predicted: Sequence[str]) -> float | None:
    """Fraction of equal pairs (``None`` when empty)."""
    if not true:
        return None
    return sum(t == p for t, p in zip(true, predicted)) / len(true)


@dataclass(frozen=True)
class Attribution:
    """Where the end-to-end errors come from.

    Attributes:
        errors: end-to-end wrong answers.
        routing: wrong only because of the router (misrouted; the true expert answers it right).
        expert: routed to the true expert and still wrong.
        both: misrouted, and the true expert would be wrong too.
        unknown: misrouted and no perfect-router answer to compare with.
        rescued: misrouted yet right anyway (the other expert happened to answer correctly).
    """

    errors: int
    routing: int
    expert: int
    both: int
    unknown: int
    rescued: int

    def to_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


def attribute_errors(
    true_experts: Sequence[str],
    routed: Sequence[str],
    e2e_correct: Sequence[bool],
    oracle_correct: Sequence[bool | None],
) -> Attribution:
    """Split end-to-end errors into routing errors and expert errors.

    Args:
        true_experts: each example's expert label.
        routed: the expert the router chose.
        e2e_correct: the end-to-end answer was right.
        oracle_correct: the answer pinned to the true expert was right (``None``: not measured).
    """
    counts = dict(errors=0, routing=0, expert=0, both=0, unknown=0, rescued=0)
    for t, r, ok, oracle in zip(true_experts, routed, e2e_correct, oracle_correct, strict=True):
        if ok:
            counts["rescued"] += t != r
            continue
        counts["errors"] += 1
        if t == r:
            counts["expert"] += 1
        elif oracle is None:
            counts["unknown"] += 1
        else:
            counts["routing" if oracle else "both"] += 1
    return Attribution(**counts)


@dataclass
class Tally:
    """Per-group counts: model-only grades, final (after verification) exactness, fallbacks."""

    n: int = 0
    exact: int = 0
    equivalent: int = 0
    valid: int = 0
    final_exact: int = 0
    fallback: int = 0
    routed_right: int = 0
    oracle_exact: int = 0
    oracle_n: int = 0

    def add(
        self, model: Grade, final: Grade, *, fallback: bool, routed_right: bool, oracle: Grade | None
    ) -> None:
        self.n += 1
        self.exact += model.exact
        self.equivalent += model.equivalent
        self.valid += model.valid
        self.final_exact += final.exact
        self.fallback += fallback
        self.routed_right += routed_right
        if oracle is not None:
            self.oracle_n += 1
            self.oracle_exact += oracle.exact

    def to_dict(self) -> dict[str, Any]:
        """Rates as fractions of ``n`` (``None`` for an empty group)."""

        def rate(k: int, d: int) -> float | None:
            return round(k / d, 6) if d else None

        return {
            "n": self.n,
            "exact": rate(self.exact, self.n),
            "equivalent": rate(self.equivalent, self.n),
            "valid": rate(self.valid, self.n),
            "verified_accuracy": rate(self.final_exact, self.n),
            "fallback_rate": rate(self.fallback, self.n),
            "routing_accuracy": rate(self.routed_right, self.n),
            "oracle_route_exact": rate(self.oracle_exact, self.oracle_n),
        }
