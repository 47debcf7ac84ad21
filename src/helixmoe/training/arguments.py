"""Map the typed training config onto ``transformers.TrainingArguments`` in one place.

Owns the harness-wide choices: steps-based eval and save on the same grid (required by
``load_best_model_at_end``), best model by ``eval_exact_match`` when a generative evaluator exists (else by
``eval_loss``), callback state restored on resume (early-stopping counters), bf16 on CUDA, fused AdamW,
no HF-side reporting unless ``report_to`` asks for it (JSONL is our own sink; TensorBoard event files go to
``<output_dir>/runs/`` or ``$TENSORBOARD_LOGGING_DIR``).
"""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import TrainingArguments

from helixmoe.config.training import PhaseConfig, TrainingConfig
from helixmoe.errors import ConfigError

__all__ = ["build_training_arguments"]


# transformers 5 renamed gradient_checkpointing (deprecated alias until v6).
_CHECKPOINTING_FIELD = (
    "activation_checkpointing"
    if "activation_checkpointing" in TrainingArguments.__dataclass_fields__
    else "gradient_checkpointing"
)


def _check_sinks(report_to: list[str]) -> None:
    from transformers import integrations

    checks = {
        "tensorboard": "is_tensorboard_available",
        "wandb": "is_wandb_available",
        "mlflow": "is_mlflow_available",
        "comet_ml": "is_comet_available",
    }
    for sink in report_to:
        check = getattr(integrations, checks.get(sink, ""), None)
        if check is not None and not check():
            raise ConfigError(f"training.report_to: {sink!r} is not installed (pip install {sink})")


def _on(switch: str, default: bool) -> bool:
    return default if switch == "auto" else switch == "on"


def build_training_arguments(
    training: TrainingConfig,
    phase: PhaseConfig,
    output_dir: str | Path,
    *,
    has_eval: bool,
    exact_match: bool,
    seed_offset: int = 0,
) -> TrainingArguments:
    """TrainingArguments for one phase run.

    Args:
        training: the ``training:`` section (seed, sinks, precision switches, checkpoint limits).
        phase: the phase's optimisation settings.
        output_dir: where ``checkpoint-N/`` directories go.
        has_eval: the run has an eval dataset (enables steps-based eval, best-at-end, early stopping).
        exact_match: a generative evaluator reports ``exact_match`` (else best model by eval loss).
        seed_offset: added to the seed so each expert has its own but reproducible randomness.

    Raises:
        ConfigError: a ``report_to`` sink whose package is not installed.
    """
    _check_sinks(training.report_to)
    cuda = torch.cuda.is_available()
    bf16 = _on(training.bf16, cuda and torch.cuda.is_bf16_supported())
    eval_steps = phase.eval_steps or phase.max_steps
    evaluate = has_eval
    grouped = training.group_by_length if phase.group_by_length is None else phase.group_by_length
    return TrainingArguments(
        output_dir=str(output_dir),
        max_steps=phase.max_steps,
        learning_rate=phase.lr,
        lr_scheduler_type=phase.scheduler,
        warmup_steps=int(phase.warmup_ratio * phase.max_steps),
        weight_decay=phase.weight_decay,
        per_device_train_batch_size=phase.batch_size,
        per_device_eval_batch_size=phase.batch_size,
        gradient_accumulation_steps=phase.grad_accum,
        seed=training.seed + seed_offset,
        data_seed=training.seed + seed_offset,
        eval_strategy="steps" if evaluate else "no",
        eval_steps=eval_steps if evaluate else None,
        save_strategy="steps",
        save_steps=eval_steps,
        save_total_limit=training.save_total_limit,
        load_best_model_at_end=evaluate,
        metric_for_best_model=("eval_exact_match" if exact_match else "eval_loss") if evaluate else None,
        greater_is_better=exact_match if evaluate else None,
        restore_callback_states_from_checkpoint=True,
        logging_steps=training.logging_steps,
        logging_first_step=True,
        report_to=list(training.report_to) or "none",
        disable_tqdm=not training.progress_bars,
        bf16=bf16,
        # torch's fused AdamW runs on CUDA and on the CPU (the two devices the Trainer gets here); on the CPU
        # its step took 1.75 ms instead of 5.26 ms for the tiny base (benchmarks/bench_training.py)
        optim="adamw_torch_fused" if _on(training.fused_adamw, True) else "adamw_torch",
        **{_CHECKPOINTING_FIELD: training.gradient_checkpointing},  # type: ignore[arg-type]
        use_cpu=not cuda,
        dataloader_num_workers=0,
        train_sampling_strategy="group_by_length" if grouped else "random",
        remove_unused_columns=False,
    )
