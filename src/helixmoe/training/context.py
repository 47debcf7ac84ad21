"""What every training stage receives: the resolved config, the system layout, the work dir and the clock.

Owns the shared run state of one ``helixmoe train`` invocation: where the corpus and the Trainer run
directories live (``<system>/.train/``, hidden so system loaders ignore it), the wall-clock deadline shared
by the stages, which stages/experts are finished (``.train/state.json``, so ``--resume`` skips them), and
the metric sinks every phase appends to (``reports/training_metrics.jsonl``, ``reports/training_curves.png``).
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from accelerate import PartialState

from helixmoe.atomic import read_json
from helixmoe.config import SystemConfig
from helixmoe.errors import DataError
from helixmoe.models.layout import SystemLayout
from helixmoe.training.checkpoints import write_json_atomic

__all__ = ["StageContext", "process_state"]

#: The ``state.json`` key of each invocation's wall time up to its last finished stage (by run id).
_RUNS = "_runs"

logger = logging.getLogger(__name__)


def process_state() -> PartialState:
    """The accelerate process state, created CPU-aware on first use.

    ``PartialState`` is a process-wide singleton: whoever creates it first decides the backend. Created
    with the default ``cpu=False`` on a machine without CUDA it reports a single process even under
    ``torchrun``/``accelerate launch``, and the Trainer then inherits that. So every stage asks here, with
    ``cpu=True`` when there is no CUDA or ``ACCELERATE_USE_CPU`` is set (gloo backend across processes).
    """
    import os

    import torch

    cpu = (
        os.environ.get("ACCELERATE_USE_CPU", "").lower() in ("1", "true", "yes")
        or not torch.cuda.is_available()
    )
    return PartialState(cpu=cpu)


@dataclass
class StageContext:
    """Shared state of the stages of one training invocation.

    Attributes:
        config: the resolved system config (already saved as ``system.yaml``).
        layout: paths of the system directory being written.
        resume: continue from checkpoints and skip finished stages/experts.
        deadline: ``time.monotonic()`` value at which the whole invocation must stop (``None`` = none).
        experts: restrict the experts stage to these names (``None`` = all in the config).
        results: per-stage summaries, written to ``reports/training_summary.json``.
        interrupted: a SIGINT/SIGTERM stopped a phase; the remaining stages are skipped.
        started: ``time.monotonic()`` when the invocation began (its wall time is recorded from it).
    """

    config: SystemConfig
    layout: SystemLayout
    resume: bool = False
    deadline: float | None = None
    experts: list[str] | None = None
    results: dict[str, Any] = field(default_factory=dict)
    interrupted: bool = False
    started: float = field(default_factory=time.monotonic)
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])

    @property
    def work_dir(self) -> Path:
        return self.layout.root / ".train"

    @property
    def corpus_dir(self) -> Path:
        return self.work_dir / "corpus"

    def run_dir(self, *parts: str) -> Path:
        """Trainer ``output_dir`` of one phase run (``.train/runs/<parts...>``)."""
        return self.work_dir.joinpath("runs", *parts)

    @property
    def metrics_path(self) -> Path:
        return self.layout.reports_dir / "training_metrics.jsonl"

    @property
    def plot_path(self) -> Path:
        return self.layout.reports_dir / "training_curves.png"

    def remaining_s(self) -> float | None:
        """Seconds left before the deadline (``None`` = unlimited; never below 1 s)."""
        if self.deadline is None:
            return None
        return max(1.0, self.deadline - time.monotonic())

    def out_of_time(self) -> bool:
        return self.deadline is not None and time.monotonic() >= self.deadline

    def finished(self, stopped_by: str) -> bool:
        """Whether a phase that stopped this way is complete (else ``--resume`` continues its checkpoints).

        A signal never finishes a phase; a budget stop finishes it only when it was the phase's own share
        (the base's), not the end of the whole invocation's budget.
        """
        return stopped_by != "signal" and not (stopped_by == "budget" and self.out_of_time())

    def record(self, key: str, summary: dict[str, Any]) -> None:
        """Mark ``key`` done with ``summary`` if its phase :meth:`finished`."""
        if self.finished(str(summary.get("stopped_by", "completed"))):
            self.mark_done(key, summary)

    # -- finished-work bookkeeping (``--resume`` skips what is recorded here) --

    def _state_file(self) -> Path:
        return self.work_dir / "state.json"

    def _state(self) -> dict[str, Any]:
        """The record of finished stages; none yet is ``{}``. A damaged one is an error when resuming (read as
        empty, ``--resume`` would train every finished stage again and write over what they made); a run that
        does not resume trains every stage anyway and writes a new record."""
        path = self._state_file()
        try:
            data = read_json(path)
            problem = None if isinstance(data, dict) else "not a JSON object"
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as err:
            problem = str(err)
        if problem is None:
            return data  # type: ignore[no-any-return]
        if self.resume:
            raise DataError(
                f"{path}: unreadable record of the finished stages ({problem}); repair it, or delete it to "
                "train every stage again"
            )
        return {}

    def check_state(self) -> None:
        """Raise now, before anything is written, if ``--resume`` cannot read the record of finished stages."""
        self._state()

    def is_done(self, key: str) -> bool:
        """Whether ``key`` (``"base"``, ``"experts/ascii"``...) finished in an earlier resumed run."""
        return self.resume and bool(self._state().get(key))

    def skipped_done(self, key: str) -> dict[str, Any]:
        """What a stage or expert skipped as finished reports: ``{"skipped": "done"}`` with the figures recorded
        when it finished, so the summary of a run resumed after a kill (which wrote no summary) still has them."""
        recorded = self._state().get(key)
        return {**recorded, "skipped": "done"} if isinstance(recorded, dict) else {"skipped": "done"}

    def mark_done(self, key: str, summary: dict[str, Any] | None = None) -> None:
        state = self._state()
        state[key] = summary or True
        # this invocation's wall time so far: a run killed before it writes its summary leaves it here, and
        # the run that resumes it counts it (take_unsummarised_s)
        runs = state.get(_RUNS)
        state[_RUNS] = {**(runs if isinstance(runs, dict) else {}), self.run_id: self.elapsed_s()}
        write_json_atomic(self._state_file(), state)

    def elapsed_s(self) -> float:
        """Seconds since the invocation began (0.1 s resolution)."""
        return round(time.monotonic() - self.started, 1)

    def take_unsummarised_s(self) -> float:
        """The wall time earlier invocations recorded up to their last finished stage without writing a
        summary (killed), then forgotten, as this invocation's summary now counts it."""
        state = self._state()
        if _RUNS not in state:
            return 0.0
        runs = state.pop(_RUNS)
        write_json_atomic(self._state_file(), state)
        if not isinstance(runs, dict):
            return 0.0
        return float(sum(v for k, v in runs.items() if k != self.run_id and isinstance(v, (int, float))))

    def forget(self, key: str) -> None:
        state = self._state()
        if state.pop(key, None) is not None:
            write_json_atomic(self._state_file(), state)
