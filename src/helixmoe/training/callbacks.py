"""Trainer callbacks of the training harness: budget, periodic checkpoints, graceful stop, metric sinks.

Each is a plain ``transformers.TrainerCallback`` so any Trainer (the expert trainer here, the token-level
MoE trainer of :mod:`helixmoe.moe`) can reuse it. Stops and saves are requested through ``TrainerControl``
flags, so the Trainer itself finishes the current optimizer step, evaluates, writes the checkpoint (through
:class:`~helixmoe.training.checkpoints.SafeCheckpointMixin`) and leaves its loop; nothing is interrupted
halfway. Under ``accelerate launch`` every decision based on wall-clock time or a signal is agreed across
processes (:func:`any_process`), otherwise one rank would stop while the other waits in a collective.

Hand-written because transformers has no time-based stop, time-based save or signal handling; early
stopping reuses HF ``EarlyStoppingCallback``, progress bars HF ``ProgressCallback``, TensorBoard/W&B the
``report_to`` integrations.
"""

from __future__ import annotations

import logging
import signal
import time
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments

from helixmoe.training.metrics import append_jsonl

__all__ = [
    "GracefulStopCallback",
    "JsonlMetricsCallback",
    "LossTargetCallback",
    "PeriodicCheckpointCallback",
    "WallClockBudgetCallback",
    "any_process",
    "max_over_processes",
]

logger = logging.getLogger(__name__)


def max_over_processes(value: float) -> float:
    """The largest ``value`` over all processes of an initialised ``torch.distributed`` group (else ``value``)."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return value
    backend = dist.get_backend()
    device = torch.device("cuda", torch.cuda.current_device()) if backend == "nccl" else torch.device("cpu")
    tensor = torch.tensor([value], dtype=torch.float64, device=device)
    dist.all_reduce(tensor, op=dist.ReduceOp.MAX)
    return float(tensor.item())


def any_process(flag: bool) -> bool:
    """``flag`` OR-ed over all processes of an initialised ``torch.distributed`` group (else ``flag``)."""
    return max_over_processes(1.0 if flag else 0.0) > 0.0


def _stop_now(control: TrainerControl) -> None:
    control.should_training_stop = True
    control.should_save = True
    control.should_evaluate = True


class WallClockBudgetCallback(TrainerCallback):
    """Stop once ``budget_s`` seconds of this run have passed: finish the step, evaluate, checkpoint, stop.

    The clock starts at ``on_train_begin`` of each invocation, so a resumed run gets a fresh budget.
    ``evaluate_on_stop=False`` skips the final evaluation (for runs with no eval set). The final evaluation
    fits inside the budget: the run stops early by the longest evaluation seen so far (a generative
    exact-match evaluation can take a minute on a busy CPU, which would otherwise eat the next run's time).

    :attr:`fraction` is the share of the budget used so far (the reserve for the final evaluation counted as
    used), the same on every process: :class:`~helixmoe.training.harness.HelixTrainer` anneals the learning
    rate by it when ``anneal=True``, so a run the budget stops still ends its schedule at the stop.
    """

    def __init__(self, budget_s: float, *, evaluate_on_stop: bool = True, anneal: bool = False) -> None:
        self.budget_s = float(budget_s)
        self.evaluate_on_stop = evaluate_on_stop
        self.anneal = anneal
        self.started: float | None = None
        self.triggered = False
        self.fraction = 0.0
        self.eval_s = 0.0  # the longest evaluation so far: reserved for the final one
        self._step_ended: float | None = None

    def on_evaluate(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kw: Any
    ) -> None:
        if self._step_ended is not None:
            self.eval_s = max(self.eval_s, time.monotonic() - self._step_ended)

    def on_train_begin(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kw: Any
    ) -> None:
        self.started = time.monotonic()

    def on_step_end(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kw: Any
    ) -> None:
        now = time.monotonic()
        self._step_ended = now
        reserve = self.eval_s if self.evaluate_on_stop else 0.0
        used = 0.0 if self.started is None else (now - self.started + reserve) / max(self.budget_s, 1e-9)
        self.fraction = min(1.0, max_over_processes(used))
        if self.fraction >= 1.0 and not self.triggered:
            self.triggered = True
            logger.warning(
                "time budget of %.0f s reached at step %d: saving and stopping",
                self.budget_s,
                state.global_step,
            )
            _stop_now(control)
            control.should_evaluate = self.evaluate_on_stop
        elif self.triggered:
            control.should_training_stop = True


class LossTargetCallback(TrainerCallback):
    """Stop (and checkpoint) once a logged training loss is at or below ``target``.

    For phases whose only goal is a skill that shows as a sudden loss drop (the copy warm-up): running on
    after it only spends the budget the next phase needs. The logged loss is the mean over the last
    ``logging_steps`` steps (the Trainer gathers it over processes), so one lucky batch does not stop it.
    """

    def __init__(self, target: float) -> None:
        self.target = float(target)
        self.triggered = False

    def on_log(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        logs: dict[str, float] | None = None,
        **kw: Any,
    ) -> None:
        loss = (logs or {}).get("loss")
        if any_process(loss is not None and loss <= self.target) and not self.triggered:
            self.triggered = True
            logger.info(
                "training loss %.3f <= %.3f at step %d: stopping", loss, self.target, state.global_step
            )
            control.should_training_stop = True
            control.should_save = True


class PeriodicCheckpointCallback(TrainerCallback):
    """Request a checkpoint every ``every_s`` seconds of wall-clock time (in addition to step-based saves)."""

    def __init__(self, every_s: float) -> None:
        self.every_s = float(every_s)
        self.last: float | None = None

    def on_train_begin(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kw: Any
    ) -> None:
        self.last = time.monotonic()

    def on_step_end(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kw: Any
    ) -> None:
        due = self.last is not None and time.monotonic() - self.last >= self.every_s
        if any_process(due):
            control.should_save = True

    def on_save(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kw: Any
    ) -> None:
        self.last = time.monotonic()


class GracefulStopCallback(TrainerCallback):
    """On SIGINT/SIGTERM: finish the current step, evaluate, checkpoint and leave the training loop.

    Handlers are installed at ``on_train_begin`` (main thread only) and the previous ones restored at
    ``on_train_end``. A second signal while stopping restores the previous handler's behaviour (e.g. a
    second Ctrl-C raises ``KeyboardInterrupt``). ``stopped`` tells the caller to exit after training.
    """

    def __init__(
        self, signals: tuple[int, ...] = (signal.SIGINT, signal.SIGTERM), *, evaluate_on_stop: bool = True
    ) -> None:
        self.signals = signals
        self.evaluate_on_stop = evaluate_on_stop
        self.requested: int | None = None
        self.stopped = False
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, frame: Any) -> None:
        if self.requested is not None:  # second signal: give up being graceful
            signal.signal(signum, self._previous.get(signum, signal.SIG_DFL))
            signal.raise_signal(signum)
            return
        logger.warning("received signal %d: finishing the current step, then saving and stopping", signum)
        self.requested = signum

    def on_train_begin(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kw: Any
    ) -> None:
        import threading

        if threading.current_thread() is not threading.main_thread():
            return
        for sig in self.signals:
            self._previous[sig] = signal.signal(sig, self._handle)

    def on_step_end(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kw: Any
    ) -> None:
        if any_process(self.requested is not None) and not self.stopped:
            self.stopped = True
            _stop_now(control)
            control.should_evaluate = self.evaluate_on_stop
        elif self.stopped:
            control.should_training_stop = True

    def on_train_end(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kw: Any
    ) -> None:
        for sig, previous in self._previous.items():
            signal.signal(sig, previous)
        self._previous.clear()


class JsonlMetricsCallback(TrainerCallback):
    """Append every ``Trainer.log`` record (loss, lr, eval metrics, ...) as one JSON line to ``path``.

    Each line carries ``step``, ``epoch``, ``time`` (Unix seconds) and ``phase`` (a label such as
    ``"experts/ascii"``). Only the main process writes.
    """

    def __init__(self, path: str | Path, *, phase: str = "train") -> None:
        self.path = Path(path)
        self.phase = phase

    def on_log(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        logs: dict[str, Any] | None = None,
        **kw: Any,
    ) -> None:
        if not state.is_world_process_zero or not logs:
            return
        record = {"phase": self.phase, "step": state.global_step, "epoch": state.epoch, "time": time.time()}
        record.update({k: v for k, v in logs.items() if isinstance(v, (int, float, str, bool))})
        append_jsonl(self.path, record)
