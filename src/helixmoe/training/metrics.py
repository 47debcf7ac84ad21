"""Metric sinks of the training harness: the JSONL log and the loss/accuracy curve PNG.

The JSONL file (one object per ``Trainer.log`` call, see
:class:`~helixmoe.training.callbacks.JsonlMetricsCallback`) is the source of truth; the PNG is drawn from
it with matplotlib's Agg backend (no display needed). TensorBoard and W&B are HF ``report_to``
integrations and need nothing here. Any trainer that logs through ``Trainer.log`` gets all three.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from helixmoe.atomic import atomic_path

__all__ = ["CurvePlotCallback", "append_jsonl", "plot_curves", "read_jsonl"]


logger = logging.getLogger(__name__)

_LOSS_KEYS = ("loss", "eval_loss")


def append_jsonl(path: str | Path, record: dict[str, Any]) -> None:
    """Append ``record`` as one JSON line (line-buffered, flushed, so a killed run keeps every full line)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(record, sort_keys=True, default=str) + "\n")


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """Every complete JSON line of ``path`` (a torn last line from a killed run is skipped)."""
    records = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


def _series(records: list[dict[str, Any]], key: str) -> tuple[list[float], list[float]]:
    xs, ys = [], []
    for index, rec in enumerate(records):
        if isinstance(rec.get(key), (int, float)):
            xs.append(float(rec.get("_x", index)))
            ys.append(float(rec[key]))
    return xs, ys


def plot_curves(jsonl_path: str | Path, png_path: str | Path, *, title: str = "training") -> Path | None:
    """Draw loss (left axis) and every ``eval_*exact_match*`` metric (right axis) per phase into a PNG.

    The x axis counts optimizer steps cumulatively across phases (``experts/ascii`` after ``base``).
    Returns the PNG path, or ``None`` when the log holds no plottable record.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    records = read_jsonl(jsonl_path)
    offset, last_phase, last_step = 0, None, 0
    for rec in records:  # cumulative x across phases
        if rec.get("phase") != last_phase:
            offset += last_step
            last_phase = rec.get("phase")
        last_step = int(rec.get("step") or 0)
        rec["_x"] = offset + last_step
    acc_keys = sorted({k for r in records for k in r if k.startswith("eval_") and "exact_match" in k})
    if not any(_series(records, k)[0] for k in (*_LOSS_KEYS, *acc_keys)):
        return None
    fig, ax = plt.subplots(figsize=(9, 5))
    for key in _LOSS_KEYS:
        xs, ys = _series(records, key)
        if xs:
            ax.plot(xs, ys, label=key, linewidth=1)
    ax.set_xlabel("optimizer step (cumulative over phases)")
    ax.set_ylabel("loss")
    ax.set_yscale("log")
    if acc_keys:
        ax2 = ax.twinx()
        for key in acc_keys:
            xs, ys = _series(records, key)
            ax2.plot(xs, ys, "o--", label=key, markersize=3)
        ax2.set_ylabel("exact match")
        ax2.set_ylim(-0.02, 1.02)
        ax2.legend(loc="center right", fontsize="small")
    ax.legend(loc="upper right", fontsize="small")
    ax.set_title(title)
    fig.tight_layout()
    png_path = Path(png_path)
    try:
        with atomic_path(png_path) as tmp:
            fig.savefig(tmp, dpi=110, format="png")
    finally:
        plt.close(fig)
    return png_path


class CurvePlotCallback(TrainerCallback):
    """At ``on_train_end`` (main process), redraw ``png_path`` from the JSONL metrics file."""

    def __init__(self, jsonl_path: str | Path, png_path: str | Path, *, title: str = "training") -> None:
        self.jsonl_path = Path(jsonl_path)
        self.png_path = Path(png_path)
        self.title = title

    def on_train_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        if state.is_world_process_zero and self.jsonl_path.exists():
            plot_curves(self.jsonl_path, self.png_path, title=self.title)
