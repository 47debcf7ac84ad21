"""The evaluation :class:`Report` and :func:`write_report` (``report.json``, ``report.md``, ``examples.jsonl``,
PNG plots), every file written atomically (temp file in the same directory, then ``os.replace``).

``examples.jsonl`` holds one graded row per example: the example's corpus fields plus ``answer`` (final),
``model_answer``, ``routed`` and the grades, so it is at once a corpus file and an answers file
(:func:`helixmoe.evaluation.grade_answers_file` re-grades it).
"""

from __future__ import annotations

import dataclasses
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from helixmoe.atomic import write_text_atomic

__all__ = ["REPORT_VERSION", "Report", "write_report"]

logger = logging.getLogger(__name__)
REPORT_VERSION = 1


@dataclass
class Report:
    """Everything one evaluation run measured (sections are plain JSON-ready dicts; see ``report.md``).

    Attributes:
        meta: run options (n, split, verify policy, batch size, router, device, system, time).
        summary: the headline figures (one flat dict; the CLI's table).
        by_expert / by_family: per-group ``n``, model-only ``exact``/``equivalent``/``valid``,
            ``verified_accuracy`` (final text after the policy), ``fallback_rate``, ``routing_accuracy``,
            ``oracle_route_exact``.
        routing: router accuracy, confusion matrix (rows = true expert, columns = routed), keyword baseline.
        perfect_router: end-to-end vs perfect-router exact match.
        attribution: end-to-end errors split into routing / expert / both.
        verification: verdict counts, fallbacks, silent errors.
        latency: milliseconds, p50/p95/p99 per stage; batched (per-row share) and single-query.
        throughput: generated tokens (or chars) per second of generation, requests per second.
        memory: peak RSS, CUDA and (optionally) Python heap bytes.
        sizes: parameters and bytes on disk of the base and each adapter.
        training: training wall time and examples per expert, when the system directory records them.
        rows: one graded record per example.
    """

    meta: dict[str, Any]
    summary: dict[str, Any]
    by_expert: dict[str, Any]
    by_family: dict[str, Any]
    routing: dict[str, Any]
    perfect_router: dict[str, Any]
    attribution: dict[str, Any]
    verification: dict[str, Any]
    latency: dict[str, Any]
    throughput: dict[str, Any]
    memory: dict[str, Any]
    sizes: dict[str, Any]
    training: dict[str, Any]
    rows: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self, *, rows: bool = False) -> dict[str, Any]:
        """The JSON form (``rows`` left out unless asked: they go to ``examples.jsonl``)."""
        data = {"format": "helixmoe-eval-report", "version": REPORT_VERSION, **dataclasses.asdict(self)}
        if not rows:
            data.pop("rows")
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Report:
        """Rebuild a report from :meth:`to_dict` output (e.g. a ``report.json``)."""
        names = [f.name for f in dataclasses.fields(cls)]
        return cls(**{k: data.get(k, [] if k == "rows" else {}) for k in names})


def write_report(report: Report, out_dir: str | Path, *, plots: bool = True) -> dict[str, Path]:
    """Write ``report.json``, ``report.md``, ``examples.jsonl`` and (``plots``) PNGs into ``out_dir``.

    Returns:
        Name -> path of every file written.
    """
    from helixmoe.evaluation.markdown import render_markdown

    out = Path(out_dir)
    written: dict[str, Path] = {}
    if plots:
        from helixmoe.evaluation.plots import write_plots

        written.update(write_plots(report, out))
    images = {k: p.name for k, p in written.items()}
    written["json"] = write_text_atomic(
        out / "report.json", json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n"
    )
    lines = (json.dumps(r, ensure_ascii=False) for r in report.rows)
    written["examples"] = write_text_atomic(out / "examples.jsonl", "".join(f"{line}\n" for line in lines))
    written["markdown"] = write_text_atomic(out / "report.md", render_markdown(report, images))
    logger.info("wrote evaluation report to %s", out)
    return written
