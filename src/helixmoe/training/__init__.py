"""Training on HF ``Trainer`` + PEFT + accelerate: stages, the harness (callbacks, safe checkpoints), sinks.

Public API::

    train_system(config, output_dir, stages=("all",), resume=False, experts=None) -> summary
    STAGES  register_stage(name)  run_stages(ctx, names)  StageContext
    HelixTrainer  GenerativeEvalMixin  SafeCheckpointMixin  HarnessOptions  harness_callbacks  run_trainer
    WallClockBudgetCallback  PeriodicCheckpointCallback  GracefulStopCallback  JsonlMetricsCallback
    CurvePlotCallback  plot_curves  read_jsonl
    last_complete_checkpoint  complete_checkpoints  discard_incomplete_checkpoints  is_complete_checkpoint
    ExactMatchEvaluator  EvalSample  build_training_arguments  EncodedDataset  TextPair  make_collator
    evaluate_experts

Reusing the harness for another trainer (e.g. the token-level MoE)::

    class MoETrainer(GenerativeEvalMixin, SafeCheckpointMixin, Trainer): ...
    options = HarnessOptions(output_dir=run_dir, budget_s=600, checkpoint_every_s=300, patience=3,
                             metrics_path=reports / "moe_metrics.jsonl", plot_path=reports / "moe_curves.png")
    trainer = MoETrainer(..., callbacks=harness_callbacks(options))
    outcome = run_trainer(trainer, options)          # outcome.stopped_by: completed|budget|signal|early_stopping

Extra per-step metrics (router usage, entropy) reach every sink when logged with ``trainer.log({...})``.
"""

from helixmoe.training.arguments import build_training_arguments
from helixmoe.training.callbacks import (
    GracefulStopCallback,
    JsonlMetricsCallback,
    PeriodicCheckpointCallback,
    WallClockBudgetCallback,
    any_process,
)
from helixmoe.training.checkpoints import (
    SafeCheckpointMixin,
    complete_checkpoints,
    discard_incomplete_checkpoints,
    is_complete_checkpoint,
    last_complete_checkpoint,
)
from helixmoe.training.context import StageContext
from helixmoe.training.data import EncodedDataset, TextPair, make_collator
from helixmoe.training.exact_match import EvalSample, ExactMatchEvaluator
from helixmoe.training.harness import (
    GenerativeEvalMixin,
    HarnessOptions,
    HelixTrainer,
    RunOutcome,
    harness_callbacks,
    run_trainer,
)
from helixmoe.training.metrics import CurvePlotCallback, plot_curves, read_jsonl
from helixmoe.training.pipeline import train_system
from helixmoe.training.report import evaluate_experts
from helixmoe.training.stages import STAGES, register_stage, run_stages

__all__ = [
    "STAGES",
    "CurvePlotCallback",
    "EncodedDataset",
    "EvalSample",
    "ExactMatchEvaluator",
    "GenerativeEvalMixin",
    "GracefulStopCallback",
    "HarnessOptions",
    "HelixTrainer",
    "JsonlMetricsCallback",
    "PeriodicCheckpointCallback",
    "RunOutcome",
    "SafeCheckpointMixin",
    "StageContext",
    "TextPair",
    "WallClockBudgetCallback",
    "any_process",
    "build_training_arguments",
    "complete_checkpoints",
    "discard_incomplete_checkpoints",
    "evaluate_experts",
    "harness_callbacks",
    "is_complete_checkpoint",
    "last_complete_checkpoint",
    "make_collator",
    "plot_curves",
    "read_jsonl",
    "register_stage",
    "run_stages",
    "run_trainer",
    "train_system",
]
