"""``evaluate(predictor, examples)``: run the passes that measure a routed system, return a :class:`Report`.

Passes, in order:

1. **routing**: every prompt through ``predictor.route`` (and the published keyword rules), one call at a
   time, so the decision latency is real, not amortised;
2. **end to end**: ``predictor.batch(prompts, verify=policy)`` — the router picks each expert;
3. **perfect router**: the same prompts pinned to their true experts (``experts=[ex.expert, ...]``), all
   of them (``oracle_route="full"``) or only the misrouted ones (``"misrouted"``: a correctly routed row
   was already answered by its true expert, and decoding is greedy);
4. **single-query latency**: the first ``latency_queries`` prompts answered one request at a time
   (batched timings are per-row shares of a batch, which hides the cost of one query).

Grading is the task families' (:func:`helixmoe.tasks.grade`), on the model's own text (model-only) and on
the final text after the verification policy (verified accuracy); the two are always reported apart.
Hand-written because the grading, routing and attribution are specific to this system; the model calls
go through the predictor, whose generation is HF ``generate`` on PEFT adapters.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from helixmoe.errors import ConfigError, DataError
from helixmoe.evaluation.protocol import Predictor
from helixmoe.evaluation.report import Report
from helixmoe.evaluation.resources import MemoryProbe
from helixmoe.evaluation.summary import build_report
from helixmoe.tasks import Example

__all__ = ["RunData", "evaluate"]

logger = logging.getLogger(__name__)
_POLICIES = ("off", "flag", "retry", "oracle")
_ORACLE_MODES = ("full", "misrouted", "off")


@dataclass
class RunData:
    """Raw results of the passes, before any summarising (one entry per example, in order)."""

    examples: list[Example]
    routes: list[Any] = field(default_factory=list)
    route_ms: list[float] = field(default_factory=list)
    keyword: list[Any] = field(default_factory=list)
    keyword_ms: list[float] = field(default_factory=list)
    answers: list[Any] = field(default_factory=list)
    e2e_seconds: float = 0.0
    oracle: list[Any | None] = field(default_factory=list)
    oracle_seconds: float = 0.0
    single: list[Any] = field(default_factory=list)
    single_ms: list[float] = field(default_factory=list)
    memory: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)


def evaluate(
    predictor: Predictor,
    examples: Iterable[Example],
    *,
    n: int | None = None,
    batch_size: int = 16,
    verify: str = "flag",
    oracle_route: str = "misrouted",
    latency_queries: int = 16,
    keyword_baseline: bool = True,
    trace_python_memory: bool = False,
    seed: int = 0,
    meta: dict[str, Any] | None = None,
) -> Report:
    """Evaluate ``predictor`` on ``examples`` (a seeded sample of ``n`` of those whose expert it has).

    Args:
        predictor: anything with ``experts``, ``route(text)`` and ``batch(texts, experts=, verify=,
            batch_size=)`` (see :class:`~helixmoe.evaluation.protocol.Predictor`).
        examples: graded items (``helixmoe.tasks.Example``).
        n: evaluate at most this many (``None`` = all).
        batch_size: rows per generation batch.
        verify: verification policy of the end-to-end and perfect-router passes.
        oracle_route: ``full`` | ``misrouted`` | ``off`` (see the module docstring).
        latency_queries: prompts answered one at a time for per-query latency (0 = skip).
        keyword_baseline: also route with the published keyword rules.
        trace_python_memory: measure the Python heap peak with ``tracemalloc`` (slow).
        seed: seed of the sample when there are more than ``n`` examples (kept in their given order).
        meta: extra fields for the report's ``meta`` (system, split, ...).

    Raises:
        ConfigError: an unknown policy or mode, or a bad ``n``/``batch_size``.
        DataError: no example left to evaluate.
    """
    _check_options(verify, oracle_route, n, batch_size, latency_queries)
    chosen = _select(predictor, examples, n, seed, source=(meta or {}).get("source"))
    run = RunData(
        examples=chosen,
        options={
            "n": len(chosen),
            "batch_size": batch_size,
            "verify": verify,
            "oracle_route": oracle_route,
            "latency_queries": min(latency_queries, len(chosen)),
            "seed": seed,
            "keyword_baseline": keyword_baseline,
        },
    )
    prompts = [ex.prompt for ex in chosen]
    _routing_pass(predictor, prompts, run, keyword_baseline)
    probe = MemoryProbe(trace_python=trace_python_memory).start()
    start = time.perf_counter()
    run.answers = list(predictor.batch(prompts, verify=verify, batch_size=batch_size))
    run.e2e_seconds = time.perf_counter() - start
    _check_answers(run.answers, len(prompts), "end-to-end")
    _oracle_pass(predictor, run, oracle_route, verify, batch_size)
    _latency_pass(predictor, run, latency_queries, verify)
    run.memory = probe.stop()
    logger.info("evaluated %d examples in %.1f s", len(chosen), run.e2e_seconds + run.oracle_seconds)
    return build_report(run, predictor, meta or {})


def _check_options(verify: str, oracle_route: str, n: int | None, batch_size: int, latency: int) -> None:
    if verify not in _POLICIES:
        raise ConfigError(f"unknown verify policy {verify!r}; expected one of {', '.join(_POLICIES)}")
    if oracle_route not in _ORACLE_MODES:
        raise ConfigError(
            f"unknown oracle_route {oracle_route!r}; expected one of {', '.join(_ORACLE_MODES)}"
        )
    if n is not None and n < 1:
        raise ConfigError(f"n must be >= 1, got {n}")
    if batch_size < 1 or latency < 0:
        raise ConfigError(f"batch_size must be >= 1 and latency_queries >= 0 (got {batch_size}, {latency})")


def _select(
    predictor: Predictor, examples: Iterable[Example], n: int | None, seed: int, source: str | None = None
) -> list[Example]:
    """A seeded sample of ``n`` examples whose expert the predictor has, in their given order.

    Sampling (not the first ``n``) because corpus files may be grouped by expert or family. ``source`` (the
    file or split the examples came from) is named when none is left.
    """
    have = set(predictor.experts)
    pool = list(examples)
    chosen = [ex for ex in pool if ex.expert in have]
    if len(chosen) < len(pool):
        logger.warning(
            "skipped %d examples whose expert is not in this system (%s)",
            len(pool) - len(chosen),
            ", ".join(sorted(have)),
        )
    if not chosen:
        where = f"{source}: " if source else ""
        raise DataError(f"{where}no examples to evaluate for experts {', '.join(sorted(have))}")
    if n is not None and len(chosen) > n:
        keep = sorted(random.Random(seed).sample(range(len(chosen)), n))
        chosen = [chosen[i] for i in keep]
    return chosen


def _routing_pass(predictor: Predictor, prompts: Sequence[str], run: RunData, keyword: bool) -> None:
    baseline = None
    if keyword:
        from helixmoe.routing import KeywordRouter

        baseline = KeywordRouter(experts=list(predictor.experts))
    for text in prompts:
        t0 = time.perf_counter()
        run.routes.append(predictor.route(text))
        run.route_ms.append((time.perf_counter() - t0) * 1000.0)
        if baseline is not None:
            t0 = time.perf_counter()
            run.keyword.append(baseline.route(text))
            run.keyword_ms.append((time.perf_counter() - t0) * 1000.0)


def _oracle_pass(predictor: Predictor, run: RunData, mode: str, verify: str, batch_size: int) -> None:
    run.oracle = [None] * len(run.examples)
    if mode == "off":
        return
    if mode == "full":
        todo = list(range(len(run.examples)))
    else:
        todo = [i for i, (ex, a) in enumerate(zip(run.examples, run.answers)) if a.expert != ex.expert]
        for i, (ex, a) in enumerate(zip(run.examples, run.answers)):
            if a.expert == ex.expert:
                run.oracle[i] = a
    if not todo:
        return
    start = time.perf_counter()
    again = predictor.batch(
        [run.examples[i].prompt for i in todo],
        experts=[run.examples[i].expert for i in todo],
        verify=verify,
        batch_size=batch_size,
    )
    run.oracle_seconds = time.perf_counter() - start
    _check_answers(again, len(todo), "perfect-router")
    for i, answer in zip(todo, again):
        run.oracle[i] = answer


def _latency_pass(predictor: Predictor, run: RunData, count: int, verify: str) -> None:
    # spread over the whole split (examples come grouped by expert), so every expert gets timed
    step = max(1, len(run.examples) // max(1, count))
    for ex in run.examples[::step][:count]:
        t0 = time.perf_counter()
        run.single.extend(predictor.batch([ex.prompt], verify=verify, batch_size=1))
        run.single_ms.append((time.perf_counter() - t0) * 1000.0)


def _check_answers(answers: Sequence[Any], expected: int, what: str) -> None:
    if len(answers) != expected:
        raise DataError(f"the predictor returned {len(answers)} answers for {expected} {what} requests")
