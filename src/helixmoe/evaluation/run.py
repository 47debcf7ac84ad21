"""``evaluate_system``: one call from a loaded system to a written report (what ``helixmoe eval`` and
``helixmoe demo`` run): pick the examples of a split, evaluate, write ``report.json``/``report.md``/PNGs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from helixmoe.config import EvaluationConfig
from helixmoe.errors import ConfigError
from helixmoe.evaluation.data import resolve_examples
from helixmoe.evaluation.harness import evaluate
from helixmoe.evaluation.report import Report, write_report
from helixmoe.tasks import SPLITS

__all__ = ["default_report_dir", "evaluate_system"]


def default_report_dir(root: Path, split: str) -> Path:
    """``<system>/reports/eval-<split>`` (``<split>`` is the file stem for a JSONL file)."""
    name = split if split in SPLITS else Path(split).stem
    return Path(root) / "reports" / f"eval-{name}"


def evaluate_system(
    predictor: Any,
    split: str = "test",
    *,
    config: EvaluationConfig | None = None,
    out: str | Path | None = None,
    meta: dict[str, Any] | None = None,
) -> tuple[Report, dict[str, Path]]:
    """Evaluate a loaded system on a split (or JSONL file) and write the report.

    Args:
        predictor: a :class:`helixmoe.system.HelixMoE` (or any predictor with ``root`` and ``experts``).
        split: ``test``/``ood``/``val``/``train`` or a JSONL file of examples.
        config: evaluation settings (default: the system's ``evaluation:`` section).
        out: report directory (default: :func:`default_report_dir` of the system).
        meta: extra fields for the report's ``meta``.

    Returns:
        The report and the files written (name -> path).
    """
    system_config = getattr(predictor, "config", None)
    cfg = config or getattr(system_config, "evaluation", None) or EvaluationConfig()
    root = getattr(predictor, "root", None)
    examples, source = resolve_examples(
        split, system_root=root, n=cfg.n, seed=cfg.seed, experts=predictor.experts
    )
    report = evaluate(
        predictor,
        examples,
        n=cfg.n,
        batch_size=cfg.batch_size,
        verify=cfg.verify,
        oracle_route=cfg.oracle_route,
        latency_queries=cfg.latency_queries,
        keyword_baseline=cfg.keyword_baseline,
        trace_python_memory=cfg.trace_python_memory,
        seed=cfg.seed,
        meta={
            "split": split if split in SPLITS else Path(split).name,
            "source": source,
            "constrained": bool(getattr(predictor, "constrained", False)),
            **(meta or {}),
        },
    )
    if out is None:
        if root is None:
            raise ConfigError("evaluate_system needs out= for a predictor without a system directory (root)")
        out = default_report_dir(Path(root), split)
    return report, write_report(report, out, plots=cfg.plots)
