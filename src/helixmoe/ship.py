"""The demo pipeline and the built-in default system: train → route → evaluate → (ship).

One code path behind ``helixmoe demo`` and ``make default-system``:

* :func:`train_and_evaluate` runs the training stages of :func:`~helixmoe.training.train_system` one at a
  time (so a caller can show progress per stage), the ``router`` right after the tokenizer (it needs the
  corpus only, so the base and the experts split what it really left of the budget, on a slow machine as
  on a fast one), then evaluates the
  trained system on the configured splits with :func:`helixmoe.evaluation.evaluate_system`, which writes
  ``reports/eval-<split>/``.
* :func:`build_default_system` does the same in a temporary sibling of the target, strips what a user
  does not need (``.train/`` checkpoints and the corpus), refuses a result over 20 MB, and swaps it into
  ``helixmoe/default_system`` with ``os.replace`` (:func:`helixmoe.models.layout.atomic_dir`).

The built-in config ships as package data (``helixmoe/configs/hlx-tiny.yaml``, see
:func:`builtin_config_path`; the settings and the time plan live in :mod:`helixmoe.demo_plan` and are
re-exported here). Library code: progress goes to an ``on_stage`` callback, never to stdout.
It sits above training, evaluation and system (it composes them) and imports them, and so torch, only
inside functions: ``helixmoe demo`` can check its options and config before paying for torch.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from helixmoe.atomic import read_json
from helixmoe.config import SystemConfig, save_config
from helixmoe.demo_plan import (
    DEMO_TARGET_S,
    MAX_SHIPPED_BYTES,
    QUICK_OVERRIDES,
    SHIPPED_PARTS,
    TRAIN_STAGES,
    builtin_config_path,
    demo_config,
    demo_training_budget,
    estimate_seconds,
    expert_setup_reserve_s,
    fit_training_budget,
    machine_slowness,
    router_reserve_s,
    with_budget,
)
from helixmoe.errors import SystemLoadError

__all__ = [
    "DEMO_TARGET_S",
    "MAX_SHIPPED_BYTES",
    "QUICK_OVERRIDES",
    "SHIPPED_PARTS",
    "TRAIN_STAGES",
    "PipelineResult",
    "build_default_system",
    "builtin_config_path",
    "demo_config",
    "demo_training_budget",
    "describe_fit",
    "directory_bytes",
    "estimate_seconds",
    "expert_setup_reserve_s",
    "fit_training_budget",
    "machine_slowness",
    "router_reserve_s",
    "sample_queries",
    "strip_system",
    "summary_rows",
    "train_and_evaluate",
    "write_summary",
]

logger = logging.getLogger(__name__)


StageHook = Callable[[str, str, dict[str, Any]], None]
"""``on_stage(stage, event, info)``: ``event`` is ``"start"`` or ``"end"``; ``stage`` is a training stage
name or ``"eval:<split>"``."""


@dataclass
class PipelineResult:
    """What :func:`train_and_evaluate` did.

    Attributes:
        root: the system directory.
        training: per-stage training summaries (also in ``reports/training_summary.json``).
        reports: split -> evaluation :class:`~helixmoe.evaluation.Report`.
        report_files: split -> the files written for it (``markdown``, ``json``, plots...).
        seconds: stage (or ``eval:<split>``) -> wall seconds.
        fitted: with ``finish_in_s``: the measured ``slowness``, the ``training_budget_s`` it fitted and the
            ``expert_reserve_s`` the base left (empty when the run did not fit itself).
        interrupted: a signal stopped training; checkpoints are under ``.train/`` for ``--resume``.
    """

    root: Path
    training: dict[str, Any] = field(default_factory=dict)
    reports: dict[str, Any] = field(default_factory=dict)
    report_files: dict[str, dict[str, Path]] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    interrupted: bool = False
    fitted: dict[str, float] = field(default_factory=dict)


def train_and_evaluate(
    config: SystemConfig,
    output_dir: str | Path,
    *,
    resume: bool = False,
    on_stage: StageHook | None = None,
    finish_in_s: float | None = None,
) -> PipelineResult:
    """Train every stage into ``output_dir``, then evaluate the system on ``config.evaluation.splits``.

    With ``finish_in_s`` (the demo's deadline, from this call), the run fits itself to the machine once the
    router is fitted: :func:`machine_slowness` from the router's time, the training budget cut so that the
    evaluation's estimate scaled by it still fits (:func:`fit_training_budget`), and the base leaving the
    experts their fixed costs (:func:`expert_setup_reserve_s`). A resumed run whose router was fitted
    earlier has nothing to measure and keeps the config's budget.

    ``training.time_budget`` bounds the training stages (in :data:`TRAIN_STAGES` order); the ``router``
    stage runs unbudgeted (the training pipeline never skips it) before the base, and the base and the
    experts share what is left. ``system.yaml`` ends up holding ``config``.

    Raises:
        HelixMoEError: a bad config or corpus, or a system that does not load after training.
    """
    from helixmoe.training.pipeline import train_system

    hook = on_stage or (lambda stage, event, info: None)
    result = PipelineResult(root=Path(output_dir))
    started = time.monotonic()
    earlier_s = _training_wall_s(result.root) if resume else 0.0
    budget = config.training.time_budget
    reserve = 0.0
    try:
        for stage in TRAIN_STAGES:
            # the router is fitted unbudgeted (run_stages never skips it), before the stages that split the
            # budget, so they see what it really took
            left = None if budget is None or stage == "router" else budget - (time.monotonic() - started)
            if left is not None:
                left = max(1.0, left - (reserve if stage == "base" else 0.0))
            hook(stage, "start", {"budget_s": left, "root": str(result.root)})
            t0 = time.monotonic()
            summary = train_system(
                with_budget(config, left), result.root, stages=[stage], resume=resume, final_eval_limit=0
            )
            result.training[stage] = summary["stages"].get(stage, {})
            result.seconds[stage] = round(time.monotonic() - t0, 1)
            hook(stage, "end", {"summary": result.training[stage], "seconds": result.seconds[stage]})
            if stage == "router" and finish_in_s is not None and "skipped" not in result.training[stage]:
                slowness = machine_slowness(config, result.seconds[stage])
                budget = fit_training_budget(config, finish_in_s, slowness)
                reserve = expert_setup_reserve_s(config, slowness)
                result.fitted = {
                    "slowness": round(slowness, 2),
                    "training_budget_s": round(budget),
                    "expert_reserve_s": round(reserve),
                }
                logger.info("fitted to the machine: %s", result.fitted)
            if summary.get("interrupted"):
                result.interrupted = True
                return result
    finally:
        _finish_training_record(config, result, earlier_s + time.monotonic() - started)
    _evaluate(config, result, hook)
    write_summary(result, summary_rows(result))
    return result


def _training_wall_s(root: Path) -> float:
    """The training wall time recorded so far in ``root`` (0 when none)."""
    try:
        wall = read_json(root / "reports" / "training_summary.json")["wall_time_s"]
    except (OSError, ValueError, KeyError, TypeError):
        return 0.0
    return float(wall) if isinstance(wall, (int, float)) else 0.0


def _finish_training_record(config: SystemConfig, result: PipelineResult, wall_s: float) -> None:
    """Restore ``system.yaml`` to the run's config and write the merged ``training_summary.json`` (stages
    finished by an earlier run keep their figures; ``wall_s`` is the training's total wall time)."""
    from helixmoe.atomic import write_json_atomic
    from helixmoe.models.layout import SystemLayout
    from helixmoe.training.pipeline import merge_summary

    layout = SystemLayout(result.root)
    if not layout.root.is_dir():
        return
    save_config(config, layout.system_file)
    summary = {
        "stages": result.training,
        "stage_seconds": result.seconds,
        "time_budget_s": config.training.time_budget,
        "interrupted": result.interrupted,
        "wall_time_s": round(wall_s, 1),
    }
    path = layout.reports_dir / "training_summary.json"
    write_json_atomic(path, merge_summary(path, summary, resume=False, wall_is_total=True), default=str)


def _evaluate(config: SystemConfig, result: PipelineResult, hook: StageHook) -> None:
    from helixmoe.evaluation import evaluate_system
    from helixmoe.system import HelixMoE

    ev = config.evaluation
    moe = HelixMoE.load(result.root, verify=ev.verify, max_new_tokens=ev.max_new_tokens)
    for split in ev.splits:
        name = f"eval:{split}"
        hook(name, "start", {"n": ev.n})
        t0 = time.monotonic()
        report, files = evaluate_system(moe, split, config=ev)
        result.reports[split], result.report_files[split] = report, files
        result.seconds[name] = round(time.monotonic() - t0, 1)
        hook(name, "end", {"seconds": result.seconds[name], "summary": report.summary})


def summary_rows(result: PipelineResult) -> list[dict[str, Any]]:
    """One row per expert and an ``all`` row: model-only exact match on test/ood, verified accuracy on test,
    routing accuracy on test/ood and single-query latency p50 (per expert when the report has it)."""
    test, ood = result.reports.get("test"), result.reports.get("ood")

    def pick(report: Any, expert: str, key: str) -> Any:
        if report is None:
            return None
        group = report.summary if expert == "all" else report.by_expert.get(expert, {})
        return group.get(key)

    experts = list(test.by_expert if test is not None else ood.by_expert if ood is not None else [])
    rows = []
    for expert in [*experts, "all"]:
        latency = pick(test, expert, "single_query_p50_ms" if expert == "all" else "latency_p50_ms")
        rows.append(
            {
                "expert": expert,
                "exact_test": pick(test, expert, "exact"),
                "exact_ood": pick(ood, expert, "exact"),
                "verified_test": pick(test, expert, "verified_accuracy"),
                "routed_test": pick(test, expert, "routing_accuracy"),
                "routed_ood": pick(ood, expert, "routing_accuracy"),
                "n_test": pick(test, expert, "n"),
                "n_ood": pick(ood, expert, "n"),
                "latency_p50_ms": latency,
            }
        )
    return rows


def write_summary(result: PipelineResult, rows: list[dict[str, Any]]) -> Path:
    """Write ``reports/summary.json`` and ``reports/summary.md`` (the demo's table); return the ``.md``."""
    from helixmoe.atomic import write_json_atomic, write_text_atomic

    reports = result.root / "reports"
    write_json_atomic(
        reports / "summary.json",
        {"rows": rows, "seconds": result.seconds, "fitted": result.fitted},
        default=str,
    )

    def pct(x: Any) -> str:
        return "—" if x is None else f"{100 * x:.1f} %"

    lines = [
        "| expert | exact test | exact ood | verified test | routed test | routed ood | latency p50 |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        ms = "—" if r["latency_p50_ms"] is None else f"{r['latency_p50_ms']:.0f} ms"
        cells = [pct(r[k]) for k in ("exact_test", "exact_ood", "verified_test", "routed_test", "routed_ood")]
        lines.append(f"| {r['expert']} | {' | '.join(cells)} | {ms} |")
    seconds = ", ".join(f"{k} {v:.0f} s" for k, v in result.seconds.items())
    total = _training_wall_s(result.root)
    text = (
        "# Demo summary\n\n"
        + "\n".join(lines)
        + f"\n\nWall time per stage in this run (a stage finished by an earlier run shows ~0 s): {seconds}."
        + f"\nTraining wall time in all (training_summary.json): {total / 60:.1f} min.\n"
    )
    if result.fitted:
        text += describe_fit(result.fitted) + "\n"
    return write_text_atomic(reports / "summary.md", text)


def describe_fit(fitted: dict[str, float]) -> str:
    """One sentence on how a run fitted itself to the machine (:attr:`PipelineResult.fitted`)."""
    return (
        f"The run fitted itself to this machine: it fitted the router {fitted['slowness']:.2f}x as slowly as "
        f"the plan assumes, so training got {fitted['training_budget_s']:.0f} s, and the base left the "
        f"experts {fitted['expert_reserve_s']:.0f} s for their set-up."
    )


def sample_queries(config: SystemConfig) -> list[str]:
    """A few requests that show each expert: one conversion per notation, a question, math if present."""
    queries = [
        "Convert to LC-T: {14: {@0: 42}}",
        "Convert to LC-R: [1, 2, 3]",
        'Transcode from HLXL to LC-B bracket notation: {name: "Alice", age: 30}',
        "Serialise &h_pipeline as LC-B hex",
        "Decode 🜃1, 2, 3🜄 to HLXL",
        "What is the HLX contract 14?",
    ]
    if "math" in config.experts:
        queries.append("How much is 74 + 19?")
    return queries


def directory_bytes(root: str | Path) -> int:
    """Total size of the regular files under ``root``."""
    return sum(p.stat().st_size for p in Path(root).rglob("*") if p.is_file() and not p.is_symlink())


def strip_system(root: str | Path) -> None:
    """Remove everything but :data:`SHIPPED_PARTS` from a system directory (``.train/``, leftovers)."""
    for entry in Path(root).iterdir():
        if entry.name in SHIPPED_PARTS:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def _relabel_reports(tmp: Path, target: Path) -> None:
    """Reports name the system directory they measured: point them at the install location, not the temp."""
    old, new = str(tmp), str(target)
    for path in (tmp / "reports").rglob("*"):
        if path.suffix in (".json", ".md") and path.is_file():
            text = path.read_text(encoding="utf-8")
            if old in text:
                from helixmoe.atomic import write_text_atomic

                write_text_atomic(path, text.replace(old, new))


def build_default_system(
    config: SystemConfig | None = None,
    out: str | Path | None = None,
    *,
    max_bytes: int = MAX_SHIPPED_BYTES,
    on_stage: StageHook | None = None,
    trained: str | Path | None = None,
) -> PipelineResult:
    """Train, evaluate and install a system as the built-in default (``helixmoe/default_system``).

    ``trained``: a system directory trained earlier (e.g. with a longer budget by ``helixmoe train``): its
    finished stages are kept (the pipeline resumes on a copy; the original is not touched), the rest run.

    The run happens in a temporary sibling of ``out``; only a complete, stripped result within
    ``max_bytes`` replaces ``out`` (atomically), so a failed or interrupted build leaves the old one.

    Args:
        config: the config to train (default: :func:`demo_config` of the built-in one).
        out: where to install (default: :func:`helixmoe.system.default_system_path`).
        max_bytes: refuse a larger result.
        on_stage: progress callback (see :data:`StageHook`).

    Returns:
        The pipeline result, with ``root`` set to the installed directory.

    Raises:
        SystemLoadError: training was interrupted, or the result is over ``max_bytes``.
    """
    from helixmoe.models.layout import atomic_dir
    from helixmoe.system import default_system_path

    config = config or demo_config()
    target = Path(out) if out is not None else default_system_path()
    with atomic_dir(target) as tmp:
        if trained is not None:
            if not (Path(trained) / "system.yaml").is_file():
                raise SystemLoadError(f"{trained}: not a trained system directory (no system.yaml)")
            shutil.copytree(trained, tmp, dirs_exist_ok=True)
        result = train_and_evaluate(config, tmp, resume=trained is not None, on_stage=on_stage)
        if result.interrupted:
            raise SystemLoadError(f"building {target} was interrupted; the previous system is unchanged")
        strip_system(tmp)
        _relabel_reports(tmp, target)
        size = directory_bytes(tmp)
        if size > max_bytes:
            raise SystemLoadError(
                f"the trained system is {size / 2**20:.1f} MB, over the {max_bytes / 2**20:.1f} MB limit "
                f"for {target}; use a smaller model or fewer experts"
            )
        logger.info("installing the default system (%.1f MB) at %s", size / 2**20, target)
    result.root = target
    return result
