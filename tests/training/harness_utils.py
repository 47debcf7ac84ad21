"""Builds a HelixTrainer on the toy task for the harness tests (also used by the SIGTERM subprocess)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from helixmoe.training.arguments import build_training_arguments
from helixmoe.training.data import make_collator
from helixmoe.training.harness import HarnessOptions, HelixTrainer, harness_callbacks


class ScriptedEvaluator:
    """Returns the given exact-match values in order (then repeats the last), counting calls."""

    def __init__(self, values: Sequence[float]) -> None:
        self.values = list(values)
        self.calls = 0

    def __call__(self, model: Any) -> dict[str, float]:
        value = self.values[min(self.calls, len(self.values) - 1)]
        self.calls += 1
        return {"exact_match": value}


def build_trainer(
    run_dir: Path,
    data,
    tokenizer,
    *,
    max_steps: int,
    eval_steps: int | None = 4,
    patience: int | None = None,
    evaluator: Any = None,
    extra_callbacks: Sequence[Any] = (),
    scheduler: str = "constant",
    **option_kwargs: Any,
) -> tuple[HelixTrainer, HarnessOptions]:
    from training_helpers import make_model, tiny_training

    train, val, _ = data
    training, phase = tiny_training(
        max_steps=max_steps, eval_steps=eval_steps, patience=patience, scheduler=scheduler
    )
    args = build_training_arguments(
        training, phase, run_dir, has_eval=True, exact_match=evaluator is not None
    )
    options = HarnessOptions(
        output_dir=run_dir,
        patience=patience,
        metrics_path=run_dir / "metrics.jsonl",
        plot_path=run_dir / "curves.png",
        **option_kwargs,
    )
    trainer = HelixTrainer(
        model=make_model(),
        args=args,
        train_dataset=train,
        eval_dataset=val,
        data_collator=make_collator(tokenizer),
        callbacks=[*harness_callbacks(options), *extra_callbacks],
        generative_evaluator=evaluator,
    )
    return trainer, options
