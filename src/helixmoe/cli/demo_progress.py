"""The Rich progress display of ``helixmoe demo``: one line per stage plus the whole run against its estimate.

Stages report start/end through the pipeline's ``on_stage`` hook; inside the base and experts stages a
background thread follows ``reports/training_metrics.jsonl`` (one JSON line per logged Trainer step, with
its ``phase`` and ``step``) to move the bar step by step.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn

from helixmoe.ship import TRAIN_STAGES, estimate_seconds

__all__ = ["StageProgress"]

_LABELS = {
    "corpus": "build the corpus",
    "tokenizer": "train the tokenizer",
    "base": "pretrain the base",
    "experts": "train the experts",
    "router": "fit the router",
}


class StageProgress:
    """Context manager: a Rich ``Progress`` with a task per stage; :meth:`hook` is the pipeline callback."""

    def __init__(self, console: Console, config: Any, *, poll_s: float = 1.0) -> None:
        self.config = config
        self.poll_s = poll_s
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description:<28}"),
            BarColumn(bar_width=32),
            TextColumn("{task.fields[detail]}"),
            TimeElapsedColumn(),
            console=console,
            transient=False,
            redirect_stdout=False,
            redirect_stderr=False,
        )
        self.tasks: dict[str, TaskID] = {}
        self.ended: set[str] = set()
        self.root: Path | None = None
        self._offset = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._follow, name="demo-progress", daemon=True)
        self._started = time.monotonic()
        self._estimate = estimate_seconds(config)["total"]

    def __enter__(self) -> StageProgress:
        p = self.progress
        self.tasks["total"] = p.add_task(
            "whole run", total=self._estimate, detail=f"estimate {self._estimate / 60:.0f} min"
        )
        train, experts = self.config.training, list(self.config.experts)
        totals = {"base": train.base.max_steps, "experts": train.experts.max_steps * len(experts)}
        for stage in TRAIN_STAGES:
            self.tasks[stage] = p.add_task(
                _LABELS[stage], total=totals.get(stage, 1), start=False, detail="waiting"
            )
        for split in self.config.evaluation.splits:
            self.tasks[f"eval:{split}"] = p.add_task(
                f"evaluate on {split}", total=1, start=False, detail="waiting"
            )
        p.start()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        elapsed = time.monotonic() - self._started
        self.progress.update(self.tasks["total"], completed=elapsed, total=elapsed, detail="")
        self.progress.stop()

    def hook(self, stage: str, event: str, info: dict[str, Any]) -> None:
        """The pipeline's ``on_stage`` callback."""
        if "root" in info:
            self.root = Path(info["root"])
        task = self.tasks.get(stage)
        if task is None:
            return
        p = self.progress
        if event == "start":
            budget = info.get("budget_s")
            p.start_task(task)
            p.update(task, detail="running" if budget is None else f"budget {budget / 60:.1f} min")
        else:
            self.ended.add(stage)
            summary = info.get("summary") or {}
            p.update(task, completed=p.tasks[task].total, detail=_end_detail(summary, info))
            p.stop_task(task)
        self._tick()

    def _tick(self) -> None:
        elapsed = time.monotonic() - self._started
        total = max(self._estimate, elapsed)
        self.progress.update(self.tasks["total"], completed=elapsed, total=total)

    def _follow(self) -> None:
        while not self._stop.wait(self.poll_s):
            self._tick()
            try:
                self._read_metrics()
            except (OSError, ValueError):
                continue  # a line being written; read it next time

    def _read_metrics(self) -> None:
        if self.root is None:
            return
        path = self.root / "reports" / "training_metrics.jsonl"
        if not path.is_file() or path.stat().st_size <= self._offset:
            return
        with open(path, encoding="utf-8") as handle:
            handle.seek(self._offset)
            chunk = handle.read()
        complete = chunk[: chunk.rfind("\n") + 1]
        self._offset += len(complete.encode("utf-8"))
        for line in complete.splitlines():
            if line.strip():
                self._apply(json.loads(line))

    def _apply(self, record: dict[str, Any]) -> None:
        phase, step = str(record.get("phase", "")), record.get("step")
        if not isinstance(step, int):
            return
        experts = list(self.config.experts)
        per_expert = self.config.training.experts.max_steps
        if phase.split("/")[0] in self.ended:
            return  # a line read after its stage ended
        if phase == "base":
            detail = f"step {step}/{self.config.training.base.max_steps}"
            self.progress.update(self.tasks["base"], completed=step, detail=_with_loss(detail, record))
        elif phase.startswith("experts/") and phase.split("/")[1] in experts:
            name = phase.split("/")[1]
            done = experts.index(name) * per_expert + min(step, per_expert)
            detail = f"{name} step {step}/{per_expert}"
            self.progress.update(self.tasks["experts"], completed=done, detail=_with_loss(detail, record))


def _with_loss(detail: str, record: dict[str, Any]) -> str:
    if "eval_exact_match" in record:
        return f"{detail} · val exact {100 * record['eval_exact_match']:.0f}%"
    if "loss" in record:
        return f"{detail} · loss {record['loss']:.3f}"
    return detail


def _end_detail(summary: dict[str, Any], info: dict[str, Any]) -> str:
    seconds = info.get("seconds")
    took = "" if seconds is None else f"done in {seconds:.0f}s"
    if "skipped" in summary:
        return f"skipped ({summary['skipped']})"
    if "exact" in summary:
        return f"{took} · exact {100 * (summary['exact'] or 0):.1f}%"
    stopped = summary.get("stopped_by")
    return f"{took} · {stopped}" if stopped and stopped != "completed" else took
