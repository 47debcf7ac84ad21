"""Config of evaluation runs: the ``evaluation:`` section of ``system.yaml`` (pure Python, layer 0).

Owned by :mod:`helixmoe.evaluation`. Every field is also a ``helixmoe eval`` option or a dotted override
(``evaluation.n=500``); the CLI flags win over the file.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from helixmoe.config.base import Section

__all__ = ["EvaluationConfig"]


class EvaluationConfig(Section):
    """What an evaluation run measures (``evaluation:`` section)."""

    max_new_tokens: int = Field(default=512, ge=1)
    """Generation limit per answer."""
    splits: list[str] = Field(default_factory=lambda: ["test", "ood"])
    """Splits ``helixmoe demo`` and the benchmarks evaluate (``helixmoe eval`` takes one ``--split``)."""
    n: int | None = Field(default=200, ge=1)
    """Examples per split (``None`` = every example of the split file)."""
    seed: int = 1234
    """Seed of freshly generated examples when the system has no held-out corpus of that split."""
    batch_size: int = Field(default=64, ge=1)
    """Rows per mixed-expert generation batch. Rows leave the batch when they finish, so a wide batch pays a
    long answer once rather than once per 16 rows: a demo system's 200 test / ood examples took 18.4 / 35.5 s
    at 64 against 34.9 / 60.4 s at 16 (the same answers; session 13, 2 CPU cores)."""
    verify: Literal["off", "flag", "retry", "oracle"] = "flag"
    """Verification policy of the run; model-only accuracy is always reported beside the verified one."""
    oracle_route: Literal["full", "misrouted", "off"] = "misrouted"
    """Perfect-router pass: ``full`` re-answers every example pinned to its true expert; ``misrouted``
    re-answers only the rows the router sent elsewhere (correctly routed rows already used the true expert
    under greedy decoding); ``off`` skips it (no error attribution)."""
    latency_queries: int = Field(default=16, ge=0)
    """Requests answered one at a time for true per-query latency (batched timings are amortised)."""
    keyword_baseline: bool = True
    """Also route every prompt with the published keyword rules and report their accuracy."""
    plots: bool = True
    """Write PNG plots (matplotlib Agg) beside ``report.json`` and ``report.md``."""
    trace_python_memory: bool = False
    """Measure peak Python-heap allocation with ``tracemalloc`` (slows generation noticeably)."""
