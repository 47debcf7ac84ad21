"""``train_system``: the whole training pipeline behind ``helixmoe train``.

Writes the system directory of design.md: ``system.yaml`` (the resolved config), ``tokenizer/``, ``base/``,
``experts/<name>/`` and ``reports/`` (``training_metrics.jsonl``, ``training_curves.png``,
``training_summary.json``, ``exact_match.json``); Trainer checkpoints and the corpus live in the hidden
``.train/`` beside them. Runs the requested stages of :data:`~helixmoe.training.stages.STAGES` under one
wall-clock budget.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from helixmoe.atomic import read_json
from helixmoe.config import SystemConfig
from helixmoe.errors import ConfigError
from helixmoe.models.layout import SystemLayout, save_system_skeleton
from helixmoe.training.checkpoints import write_json_atomic
from helixmoe.training.context import StageContext, process_state
from helixmoe.training.guard import check_rewrite
from helixmoe.training.metrics import plot_curves
from helixmoe.training.stages import check_inputs, check_stages, run_stages

__all__ = ["merge_summary", "train_system"]

logger = logging.getLogger(__name__)


def merge_summary(
    path: Path, summary: dict[str, Any], *, resume: bool, wall_is_total: bool = False
) -> dict[str, Any]:
    """``summary`` on top of the one saved at ``path`` by an earlier run of the same system directory.

    A later ``--stage router`` run keeps the base's figures; a stage (or expert) skipped as already done keeps
    its earlier summary, or the figures recorded when it finished where there is none. ``wall_time_s`` is the
    training's total: with ``resume``, or when stages of the earlier run are kept (a later ``--stage router``
    run), this run's wall time adds to the saved one; a run that redoes every stage replaces it;
    ``wall_is_total`` says the summary's own figure is the total already.
    """
    try:
        earlier = read_json(path)
    except (OSError, ValueError):
        return summary
    if not isinstance(earlier, dict) or not isinstance(earlier.get("stages"), dict):
        return summary
    stages = summary.get("stages", {})
    merged_stages = {k: _merge_stage(earlier["stages"].get(k), v) for k, v in stages.items()}
    # the earlier exact_match stays
    merged = {**earlier, **summary, "stages": {**earlier["stages"], **merged_stages}}
    before, now = earlier.get("wall_time_s"), summary.get("wall_time_s")
    kept = set(earlier["stages"]) - {k for k, v in stages.items() if not _done_before(v)}
    if (
        not wall_is_total
        and (resume or kept)
        and isinstance(before, (int, float))
        and isinstance(now, (int, float))
    ):
        merged["wall_time_s"] = round(before + now, 1)
    return merged


def _done_before(stage: Any) -> bool:
    """Whether a stage's (or an expert's) summary says it was skipped as finished by an earlier run."""
    return isinstance(stage, dict) and stage.get("skipped") == "done"


def _merge_stage(earlier: Any, fresh: Any) -> Any:
    """A stage's summary after this run: the earlier run's where this run skipped it (or one of its experts or
    sub-phases) as done, else this run's. A skipped one keeps the figures recorded when it finished
    (:meth:`StageContext.skipped_done`) where no earlier summary has them: a run killed before writing it."""
    if _done_before(fresh):
        return earlier if earlier is not None else fresh
    if isinstance(fresh, dict) and isinstance(earlier, dict) and any(map(_done_before, fresh.values())):
        return {k: _merge_stage(earlier.get(k), v) for k, v in fresh.items()}
    return fresh


def train_system(
    config: SystemConfig,
    output_dir: str | Path,
    *,
    stages: Sequence[str] = ("all",),
    resume: bool = False,
    experts: Sequence[str] | None = None,
    final_eval_limit: int | None = 200,
) -> dict[str, Any]:
    """Run training stages and write/update the system directory ``output_dir``.

    Args:
        config: the resolved system config (``training.time_budget`` bounds the whole call).
        output_dir: the system directory to write.
        stages: stage names, or ``["all"]``.
        resume: continue from the last complete checkpoints and skip finished stages/experts.
        experts: restrict the experts stage to these experts.
        final_eval_limit: after the experts stage, grade each expert on up to this many test and ood
            examples into ``reports/exact_match.json`` (0 or ``None`` = skip).

    Returns:
        The summary also written to ``reports/training_summary.json``.
    """
    started = time.monotonic()
    if config.training.num_threads is not None:
        import torch

        torch.set_num_threads(config.training.num_threads)
    # user mistakes are refused before anything is written (an existing system's system.yaml included):
    # unknown experts here, unknown stages and missing inputs in check_inputs below
    unknown = [name for name in experts or () if name not in config.experts]
    if unknown:
        raise ConfigError(
            f"unknown expert(s) {', '.join(unknown)}; the config has {', '.join(config.experts)}"
        )
    root = Path(output_dir)
    if root.exists() and not root.is_dir():
        raise ConfigError(f"{root}: not a directory; the output is the system directory training writes")
    budget = config.training.time_budget
    ctx = StageContext(
        config=config,
        layout=SystemLayout(root),
        resume=resume,
        deadline=None if budget is None else started + budget,
        started=started,
        experts=list(experts) if experts else None,
    )
    check_inputs(ctx, stages)
    check_rewrite(ctx, check_stages(stages))
    ctx.check_state()
    state = process_state()
    if state.is_main_process:
        save_system_skeleton(root, config)
    state.wait_for_everyone()
    results = run_stages(ctx, list(stages))
    summary: dict[str, Any] = {"stages": results, "time_budget_s": budget, "interrupted": ctx.interrupted}
    if final_eval_limit and "experts" in results and not ctx.interrupted and state.is_main_process:
        from helixmoe.training.report import evaluate_experts

        summary["exact_match"] = evaluate_experts(
            root,
            ctx.corpus_dir,
            limit=final_eval_limit,
            experts=ctx.experts,
            out_path=ctx.layout.reports_dir / "exact_match.json",
        )
    summary["wall_time_s"] = ctx.elapsed_s()
    if state.is_main_process:
        # earlier invocations killed before writing a summary recorded their time up to their last finished
        # stage in .train/state.json: a resumed run counts it (a run that starts over does not)
        killed = ctx.take_unsummarised_s()
        if resume and killed:
            summary["wall_time_s"] = round(summary["wall_time_s"] + killed, 1)
            summary["unsummarised_runs_s"] = killed
        path = ctx.layout.reports_dir / "training_summary.json"
        write_json_atomic(path, merge_summary(path, summary, resume=resume))
        if ctx.metrics_path.is_file():
            plot_curves(ctx.metrics_path, ctx.plot_path, title=f"{config.name} training")
    state.wait_for_everyone()
    return summary
