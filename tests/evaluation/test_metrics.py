"""The pure metric functions, on hand-made cases with exact expected numbers."""

from __future__ import annotations

import pytest

from helixmoe.evaluation import accuracy, attribute_errors, confusion_matrix, latency_summary, percentile


def test_percentile_linear_interpolation() -> None:
    values = [float(v) for v in range(1, 101)]  # 1..100
    assert percentile(values, 50) == pytest.approx(50.5)
    assert percentile(values, 95) == pytest.approx(95.05)
    assert percentile(values, 99) == pytest.approx(99.01)
    assert percentile(values, 0) == 1.0 and percentile(values, 100) == 100.0
    assert percentile([7.0], 99) == 7.0
    assert percentile([], 50) is None
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0  # order does not matter
    with pytest.raises(ValueError):
        percentile([1.0], 101)


def test_latency_summary() -> None:
    s = latency_summary([10.0, 20.0, 30.0, 40.0])
    assert s == {"n": 4, "mean": 25.0, "p50": 25.0, "p95": 38.5, "p99": 39.7, "max": 40.0}
    assert latency_summary([])["p50"] is None


def test_confusion_matrix_counts_and_label_order() -> None:
    true = ["a", "a", "b", "b", "b", "c"]
    pred = ["a", "b", "b", "b", "a", "c"]
    labels, m = confusion_matrix(true, pred, ["c", "b", "a"])
    assert labels == ["c", "b", "a"]
    assert m == [[1, 0, 0], [0, 2, 1], [0, 1, 1]]
    # a routed label outside the given ones is appended, never dropped
    labels, m = confusion_matrix(["a"], ["zzz"], ["a"])
    assert labels == ["a", "zzz"] and m == [[0, 1], [0, 0]]
    assert accuracy(true, pred) == pytest.approx(4 / 6)
    assert accuracy([], []) is None
    with pytest.raises(ValueError):
        confusion_matrix(["a"], [], None)


def test_attribute_errors() -> None:
    true = ["a", "a", "a", "b", "b", "b", "b"]
    routed = ["a", "a", "b", "a", "a", "a", "b"]
    e2e = [True, False, False, False, True, False, True]
    oracle = [True, False, True, False, True, None, True]
    att = attribute_errors(true, routed, e2e, oracle)
    # row1: routed right, wrong -> expert; row2: misrouted, oracle right -> routing;
    # row3: misrouted, oracle wrong -> both; row4: misrouted but right -> rescued; row5: no oracle -> unknown
    assert att.to_dict() == {"errors": 4, "routing": 1, "expert": 1, "both": 1, "unknown": 1, "rescued": 1}
    assert att.errors == att.routing + att.expert + att.both + att.unknown
