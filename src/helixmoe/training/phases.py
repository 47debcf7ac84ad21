"""One training phase run: datasets + TrainingArguments + HelixTrainer + harness, from a stage's inputs.

Owns :func:`train_phase`, the single place where the stages (base pretraining, the general curriculum
phase, each expert's specialisation, each continuous round) turn ``(model, examples, PhaseConfig)`` into a
harnessed Trainer run with the shared sinks, the invocation's time budget, resume and early stopping.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from helixmoe.config.training import PhaseConfig
from helixmoe.training.arguments import build_training_arguments
from helixmoe.training.context import StageContext, process_state
from helixmoe.training.data import EncodedDataset, TextPair, make_collator
from helixmoe.training.exact_match import EvalSample, ExactMatchEvaluator, Grader, exact_string
from helixmoe.training.harness import HarnessOptions, HelixTrainer, RunOutcome, harness_callbacks, run_trainer

__all__ = ["PhaseResult", "train_phase"]

logger = logging.getLogger(__name__)


@dataclass
class PhaseResult:
    """A finished phase run: the outcome and throughput figures."""

    outcome: RunOutcome
    train_tokens_per_step: float
    """Mean tokens (incl. padding-free counts) in one optimizer step's examples."""
    skipped_long: int
    world_size: int = 1

    def summary(self) -> dict[str, Any]:
        out = self.outcome
        return {
            "stopped_by": out.stopped_by,
            "steps": out.global_step,
            "best_metric": out.best_metric,
            "resumed_from": out.resumed_from,
            "train_runtime_s": out.metrics.get("train_runtime"),
            "train_tokens_per_s": (out.metrics.get("train_steps_per_second") or 0.0)
            * self.train_tokens_per_step,
            "skipped_long_examples": self.skipped_long,
            "world_size": self.world_size,
        }


def train_phase(
    ctx: StageContext,
    *,
    name: str,
    model: Any,
    tokenizer: Any,
    phase: PhaseConfig,
    train: Sequence[TextPair],
    val: Sequence[TextPair] = (),
    eval_samples: Sequence[EvalSample] = (),
    grade: Grader | None = None,
    response_only: bool = True,
    budget_s: float | None = None,
    seed_offset: int = 0,
    stop_at_loss: float | None = None,
) -> PhaseResult:
    """Train ``model`` for one phase under the harness and return how it went.

    Args:
        ctx: the stage context (sinks, resume flag, run directories).
        name: run label, e.g. ``"base"`` or ``"experts/ascii"``; also the run directory under ``.train/runs``.
        model: the model to train in place (a base, or a PEFT model for experts).
        tokenizer: its tokenizer.
        phase: optimisation settings.
        train: training examples as text.
        val: examples for the eval loss (none = no evaluation, no best-at-end).
        eval_samples: prompts graded by exact match at each evaluation (makes it the best-model metric).
        grade: grader of ``eval_samples`` (default: exact string match).
        response_only: loss on the response only (experts) or on every token (base); ``phase.loss_on``
            overrides it.
        budget_s: wall-clock budget of this run (``None`` = none), from this call: tokenising the examples
            and building the trainer count against it.
        seed_offset: added to the training seed (each expert gets its own).
        stop_at_loss: stop once a logged training loss is at or below this (``None`` = off).
    """
    started = time.monotonic()
    training = ctx.config.training
    max_len = ctx.config.model.max_seq_len
    if phase.loss_on != "default":
        response_only = phase.loss_on == "response"
    train_ds = EncodedDataset(tokenizer, train, max_len=max_len, response_only=response_only, skip_long=True)
    val_ds = (
        EncodedDataset(tokenizer, val, max_len=max_len, response_only=response_only, skip_long=True)
        if val
        else None
    )
    if train_ds.skipped:
        logger.warning(
            "%s: skipped %d training examples longer than max_seq_len=%d", name, train_ds.skipped, max_len
        )
    evaluator = None
    if val_ds is not None and eval_samples:
        evaluator = ExactMatchEvaluator(
            tokenizer, eval_samples, grade=grade or exact_string, batch_size=phase.batch_size * 2
        )
    run_dir = ctx.run_dir(*name.split("/"))
    state = process_state()
    if not ctx.resume and run_dir.exists() and state.is_main_process:
        shutil.rmtree(run_dir)
    state.wait_for_everyone()
    args = build_training_arguments(
        training,
        phase,
        run_dir,
        has_eval=val_ds is not None,
        exact_match=evaluator is not None,
        seed_offset=seed_offset,
    )
    if budget_s is not None:
        budget_s = max(0.0, budget_s - (time.monotonic() - started))
    options = HarnessOptions(
        output_dir=run_dir,
        budget_s=budget_s,
        checkpoint_every_s=training.checkpoint_every,
        patience=phase.patience if val_ds is not None else None,
        metrics_path=ctx.metrics_path,
        plot_path=ctx.plot_path,
        phase=name,
        has_eval=val_ds is not None,
        resume=ctx.resume,
        stop_at_loss=stop_at_loss,
        anneal_to_budget=training.anneal_to_budget,
    )
    trainer = HelixTrainer(
        model=model,
        args=args,
        train_dataset=train_ds,
        eval_dataset=val_ds,
        data_collator=make_collator(tokenizer),
        callbacks=harness_callbacks(options),
        generative_evaluator=evaluator,
    )
    outcome = run_trainer(trainer, options)
    if outcome.stopped_by == "signal":
        ctx.interrupted = True
    per_step = train_ds.num_tokens / len(train_ds) * phase.batch_size * phase.grad_accum * args.world_size
    logger.info(
        "%s: %s after %d steps (best %s)", name, outcome.stopped_by, outcome.global_step, outcome.best_metric
    )
    return PhaseResult(
        outcome=outcome,
        train_tokens_per_step=per_step,
        skipped_long=train_ds.skipped,
        world_size=args.world_size,
    )
