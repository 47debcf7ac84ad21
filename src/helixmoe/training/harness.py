"""The training harness: a Trainer with safe checkpoints and generative eval, plus the run wrapper.

Owns the glue every Helix MoE training run shares, whatever the model (LoRA experts, the from-scratch base,
the token-level MoE of :mod:`helixmoe.moe`):

* :class:`GenerativeEvalMixin` adds metrics computed by generating (e.g. ``exact_match`` graded by the task
  families) to the Trainer's evaluation, *before* they are logged, so they reach every sink, can be
  ``metric_for_best_model`` (best-at-end by exact match, not loss) and drive ``EarlyStoppingCallback``.
* :class:`HelixTrainer` = that mixin + :class:`~helixmoe.training.checkpoints.SafeCheckpointMixin` +
  ``transformers.Trainer``, whose training loss projects only the labelled positions onto the vocabulary
  (:meth:`HelixTrainer.compute_loss`; hand-written: HF's causal-LM forward computes logits everywhere, and
  ``logits_to_keep`` selects one suffix for the whole batch, not each row's answer).
* :func:`harness_callbacks` builds the callback set from :class:`HarnessOptions`; :func:`run_trainer` resumes
  from the last *complete* checkpoint when asked, trains, and reports why training stopped.

To reuse with another Trainer: ``class MoETrainer(GenerativeEvalMixin, SafeCheckpointMixin, Trainer)``,
pass ``callbacks=harness_callbacks(options)`` and call ``run_trainer(trainer, options)``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch.optim.lr_scheduler import LambdaLR, LRScheduler
from transformers import EarlyStoppingCallback, Trainer, TrainerCallback
from transformers.trainer_utils import has_length

from helixmoe.models.template import IGNORE_INDEX
from helixmoe.training.callbacks import (
    GracefulStopCallback,
    JsonlMetricsCallback,
    LossTargetCallback,
    PeriodicCheckpointCallback,
    WallClockBudgetCallback,
)
from helixmoe.training.checkpoints import (
    SafeCheckpointMixin,
    discard_incomplete_checkpoints,
    last_complete_checkpoint,
    set_aside_damaged,
)
from helixmoe.training.data import ShuffledLengthGroupedSampler
from helixmoe.training.metrics import CurvePlotCallback

__all__ = [
    "GenerativeEvalMixin",
    "HarnessOptions",
    "HelixTrainer",
    "RunOutcome",
    "harness_callbacks",
    "run_trainer",
]

logger = logging.getLogger(__name__)

#: Causal LMs whose logits are ``lm_head(decoder(...).last_hidden_state)`` and nothing more (no soft-capping,
#: logit scaling or router losses): :meth:`HelixTrainer.compute_loss` may split them.
_PLAIN_HEAD_MODELS = frozenset({"qwen3", "qwen2", "llama", "mistral"})

#: ``evaluator(model) -> {"exact_match": 0.97, ...}``; names get the ``eval_`` prefix.
Evaluator = Callable[[Any], dict[str, float]]


class GenerativeEvalMixin:
    """Merge ``self.generative_evaluator(model)`` metrics into every evaluation's metrics dict."""

    generative_evaluator: Evaluator | None = None

    def evaluation_loop(
        self,
        dataloader: Any,
        description: str,
        prediction_loss_only: bool | None = None,
        ignore_keys: list[str] | None = None,
        metric_key_prefix: str = "eval",
    ) -> Any:
        output = super().evaluation_loop(  # type: ignore[misc]
            dataloader, description, prediction_loss_only, ignore_keys, metric_key_prefix
        )
        if self.generative_evaluator is not None:
            model = self.accelerator.unwrap_model(self.model)  # type: ignore[attr-defined]
            was_training = model.training
            model.eval()
            try:
                extra = self.generative_evaluator(model)
            finally:
                model.train(was_training)
            output.metrics.update({f"{metric_key_prefix}_{k}": float(v) for k, v in extra.items()})
        return output


class HelixTrainer(GenerativeEvalMixin, SafeCheckpointMixin, Trainer):
    """``transformers.Trainer`` with manifest-stamped checkpoints and generation-based eval metrics.

    Args:
        generative_evaluator: optional ``model -> metrics`` callable run at every evaluation.
        *args, **kwargs: passed to ``transformers.Trainer``.
    """

    #: Project only the labelled positions onto the vocabulary in training steps (:meth:`compute_loss`).
    labelled_logits_only = True

    def __init__(self, *args: Any, generative_evaluator: Evaluator | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.generative_evaluator = generative_evaluator

    def compute_loss(
        self,
        model: Any,
        inputs: dict[str, Any],
        return_outputs: bool = False,
        num_items_in_batch: Any = None,
    ) -> Any:
        """HF's causal-LM loss, with the vocabulary projection run only at positions that have a label.

        With ``loss_on: response`` (the built-in config's base and every expert) about half the positions of a
        batch carry no label, yet the model's own forward projects every position onto the vocabulary (the
        ``lm_head`` is ~18 % of the tiny base's forward FLOPs) and takes its log-softmax. Here the decoder runs
        as usual, then the head and the cross-entropy see the labelled positions only: the same loss (the
        reduction and normalisation of transformers' ``ForCausalLMLoss``, ``num_items_in_batch`` included) and
        the same gradients, in less time (``python benchmarks/bench_training.py``, "labelled logits only" row).
        HF's path runs instead where outputs are wanted (evaluation), with a label smoother or a custom loss,
        for a model wrapped for several processes, and for models other than :data:`_PLAIN_HEAD_MODELS`.
        """
        parts = None if return_outputs else self._decoder_and_head(model, inputs)
        if parts is None:
            return super().compute_loss(
                model, inputs, return_outputs=return_outputs, num_items_in_batch=num_items_in_batch
            )
        decoder, head = parts
        labels = inputs["labels"]
        targets = torch.nn.functional.pad(labels, (0, 1), value=IGNORE_INDEX)[:, 1:]  # (B, T): next token
        keep = targets != IGNORE_INDEX  # (B, T)
        features = {k: v for k, v in inputs.items() if k != "labels"}
        hidden = decoder(**features, use_cache=False).last_hidden_state  # (B, T, H)
        logits = head(hidden[keep]).float()  # (N, V)
        items = num_items_in_batch if self.model_accepts_loss_kwargs else None
        loss = torch.nn.functional.cross_entropy(
            logits, targets[keep], reduction="mean" if items is None else "sum"
        )
        if items is not None:
            loss = loss / (items.to(loss.device) if torch.is_tensor(items) else items)
        return loss

    def _decoder_and_head(self, model: Any, inputs: dict[str, Any]) -> tuple[Any, Any] | None:
        """``(decoder, lm_head)`` of ``model`` where :meth:`compute_loss` may split them, else ``None``."""
        if (
            not self.labelled_logits_only
            or "labels" not in inputs
            or self.label_smoother is not None
            or self.compute_loss_func is not None
            or self.accelerator.num_processes != 1
            or self.accelerator.unwrap_model(model) is not model
        ):
            return None
        peft_config = getattr(model, "peft_config", None)
        if peft_config is not None:
            if any(getattr(c, "peft_type", None) != "LORA" for c in peft_config.values()):
                return None  # prompt tuning and the like change the inputs in PEFT's own forward
            model = model.get_base_model()
        config = getattr(model, "config", None)
        if getattr(config, "model_type", None) not in _PLAIN_HEAD_MODELS:
            return None
        decoder, head = getattr(model, "model", None), model.get_output_embeddings()
        if decoder is None or head is None:
            return None
        return decoder, head

    def _get_train_sampler(self, train_dataset: Any = None) -> Any:
        """``group_by_length`` batches come in random order (:class:`ShuffledLengthGroupedSampler`), not in
        HF's long-to-short sweeps."""
        dataset = train_dataset if train_dataset is not None else self.train_dataset
        if self.args.train_sampling_strategy != "group_by_length" or not has_length(dataset):
            return super()._get_train_sampler(train_dataset)
        rows = [dataset[i] for i in range(len(dataset))]  # type: ignore[index]
        if not all(isinstance(row, dict) and "input_ids" in row for row in rows):
            return super()._get_train_sampler(train_dataset)  # HF's sampler explains what it needs
        batch = self.args.train_batch_size * self.args.gradient_accumulation_steps
        return ShuffledLengthGroupedSampler([len(row["input_ids"]) for row in rows], batch)

    def create_scheduler(self, num_training_steps: int, optimizer: Any = None) -> LRScheduler:
        """HF's schedule; with an annealing :class:`WallClockBudgetCallback`, it runs over the time budget.

        The schedule is evaluated at ``max(step, fraction × num_training_steps)``, ``fraction`` being the
        share of the budget used: a run the budget stops at step 1 400 of 2 000 has still decayed its
        learning rate to the end of the schedule, instead of stopping at 18 % of the peak (cosine).
        """
        created = self.lr_scheduler is None
        scheduler = super().create_scheduler(num_training_steps, optimizer)
        budget = next(
            (
                cb
                for cb in self.callback_handler.callbacks
                if isinstance(cb, WallClockBudgetCallback) and cb.anneal
            ),
            None,
        )
        if created and budget is not None and isinstance(scheduler, LambdaLR):
            scheduler.lr_lambdas = [
                _over_budget(fn, budget, num_training_steps) for fn in scheduler.lr_lambdas
            ]
        return scheduler


def _over_budget(
    schedule: Callable[[int], float], budget: WallClockBudgetCallback, total_steps: int
) -> Callable[[int], float]:
    """``schedule`` advanced to the step the budget's used share corresponds to, when that is further."""

    def factor(step: int) -> float:
        return schedule(max(step, math.floor(budget.fraction * total_steps)))

    return factor


@dataclass
class HarnessOptions:
    """What the harness adds around one Trainer run (all optional but ``output_dir``)."""

    output_dir: Path
    """The Trainer's ``output_dir`` (holds ``checkpoint-N/``)."""
    budget_s: float | None = None
    """Wall-clock budget of this invocation in seconds; ``None`` = unlimited."""
    checkpoint_every_s: float | None = None
    """Also checkpoint every this many seconds; ``None`` = only at step-based saves."""
    patience: int | None = None
    """Early-stopping patience in evaluations (needs ``metric_for_best_model``); ``None`` = off."""
    metrics_path: Path | None = None
    """JSONL metrics sink; ``None`` = none."""
    plot_path: Path | None = None
    """Curve PNG redrawn from ``metrics_path`` at the end; ``None`` = none."""
    phase: str = "train"
    """Label of this run in the metrics file."""
    handle_signals: bool = True
    """Install the SIGINT/SIGTERM graceful-stop handlers."""
    has_eval: bool = True
    """Whether the run has an eval set (a budget or signal stop then evaluates before saving)."""
    resume: bool = False
    """Resume from the last complete checkpoint of ``output_dir`` (fresh start when there is none)."""
    stop_at_loss: float | None = None
    """Stop once a logged training loss is at or below this; ``None`` = off."""
    anneal_to_budget: bool = False
    """Run the learning-rate schedule over ``budget_s`` when the budget ends the run before ``max_steps``
    (:meth:`HelixTrainer.create_scheduler`)."""


@dataclass
class RunOutcome:
    """What happened in :func:`run_trainer`."""

    stopped_by: str
    """``completed``, ``budget``, ``signal``, ``early_stopping`` or ``loss_target``."""
    global_step: int
    best_metric: float | None
    best_checkpoint: str | None
    resumed_from: str | None
    metrics: dict[str, float]


def harness_callbacks(options: HarnessOptions) -> list[TrainerCallback]:
    """The callbacks :class:`HarnessOptions` asks for, in the order they must run."""
    callbacks: list[TrainerCallback] = []
    if options.handle_signals:
        callbacks.append(GracefulStopCallback(evaluate_on_stop=options.has_eval))
    if options.budget_s is not None:
        callbacks.append(
            WallClockBudgetCallback(
                options.budget_s, evaluate_on_stop=options.has_eval, anneal=options.anneal_to_budget
            )
        )
    if options.checkpoint_every_s is not None:
        callbacks.append(PeriodicCheckpointCallback(options.checkpoint_every_s))
    if options.stop_at_loss is not None:
        callbacks.append(LossTargetCallback(options.stop_at_loss))
    if options.patience is not None:
        callbacks.append(EarlyStoppingCallback(early_stopping_patience=options.patience))
    if options.metrics_path is not None:
        callbacks.append(JsonlMetricsCallback(options.metrics_path, phase=options.phase))
        if options.plot_path is not None:
            callbacks.append(CurvePlotCallback(options.metrics_path, options.plot_path, title=options.phase))
    return callbacks


def _stop_reason(trainer: Trainer) -> str:
    by_type = {type(cb).__name__: cb for cb in trainer.callback_handler.callbacks}
    if getattr(by_type.get("GracefulStopCallback"), "stopped", False):
        return "signal"
    if getattr(by_type.get("WallClockBudgetCallback"), "triggered", False):
        return "budget"
    if getattr(by_type.get("LossTargetCallback"), "triggered", False):
        return "loss_target"
    early = by_type.get("EarlyStoppingCallback")
    if early is not None and early.early_stopping_patience_counter >= early.early_stopping_patience:
        return "early_stopping"
    return "completed"


def run_trainer(trainer: Trainer, options: HarnessOptions) -> RunOutcome:
    """Train with ``trainer`` (built with :func:`harness_callbacks`), resuming if ``options.resume``.

    Incomplete checkpoints (a run killed mid-save) are removed first, so neither this run nor HF's rotation
    ever sees them; a complete one whose files changed since it was saved is set aside (``.damaged``).
    """
    resume_from = None
    if options.resume:
        if trainer.args.should_save:
            discard_incomplete_checkpoints(options.output_dir)
            set_aside_damaged(options.output_dir)
        trainer.accelerator.wait_for_everyone()
        found = last_complete_checkpoint(options.output_dir)
        resume_from = str(found) if found is not None else None
        logger.info("resuming from %s", resume_from or "scratch (no complete checkpoint)")
    result = trainer.train(resume_from_checkpoint=resume_from)
    return RunOutcome(
        stopped_by=_stop_reason(trainer),
        global_step=trainer.state.global_step,
        best_metric=trainer.state.best_metric,
        best_checkpoint=trainer.state.best_model_checkpoint,
        resumed_from=resume_from,
        metrics=dict(result.metrics),
    )
