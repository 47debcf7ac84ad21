"""``train_moe``: the pipeline behind ``helixmoe train-moe``.

Runs the system's ``corpus``, ``tokenizer`` and ``base`` stages with :func:`helixmoe.training.train_system`
(skipped when already done, or when ``model.path`` names a pretrained base), loads the base, injects
MoE-LoRA layers (:func:`~helixmoe.moe.inject.inject_moe_lora`), trains them with
:class:`~helixmoe.training.moe_trainer.MoETrainer` under the harness (:func:`helixmoe.training.run_trainer`) on the
mixed-domain data split 90/10, and writes ``<system>/moe/`` (safetensors + JSON) and
``reports/moe_report.json``. Trainer checkpoints go to ``<system>/.train/runs/moe/``; metrics are appended
to ``reports/training_metrics.jsonl`` under the phase ``moe``.
"""

from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path
from typing import Any

from accelerate import PartialState

from helixmoe.config import SystemConfig
from helixmoe.moe.calibrate import calibrate_routers
from helixmoe.moe.inject import inject_moe_lora, save_moe
from helixmoe.training.moe_data import DomainDataset, domain_collator, split_train_eval
from helixmoe.training.moe_report import grade_example, interleave_domains, moe_report
from helixmoe.training.moe_trainer import MoETrainer, attach_domain_head, load_domain_examples

__all__ = ["MOE_DIR", "missing_stages", "train_moe"]

logger = logging.getLogger(__name__)

MOE_DIR = "moe"


def _evaluator(tokenizer: Any, eval_examples: list[Any], n: int) -> Any:
    from helixmoe.training.exact_match import EvalSample, ExactMatchEvaluator

    samples = [
        EvalSample(e.prompt, e.response, {"example": e}) for e in interleave_domains(eval_examples)[:n]
    ]
    return ExactMatchEvaluator(tokenizer, samples, grade=lambda s, p: grade_example(s.meta["example"], p))


def missing_stages(config: SystemConfig, root: Path) -> list[str]:
    """The system stages whose outputs ``train_moe`` needs but ``root`` lacks (in run order)."""
    from helixmoe.models.layout import SystemLayout

    layout = SystemLayout(root)
    need_base = config.builds_base and not (layout.base_dir / "config.json").is_file()
    need_tok = config.builds_tokenizer and not layout.tokenizer_dir.is_dir()
    need_corpus = not (root / ".train" / "corpus" / "train.jsonl").is_file() and (
        config.moe.data is None or need_tok or need_base
    )
    wanted = {"corpus": need_corpus, "tokenizer": need_tok, "base": need_base}
    return [name for name, needed in wanted.items() if needed]


def _calibrate(model: Any, tokenizer: Any, dataset: DomainDataset, batch_size: int) -> None:
    """Centre the routers on one training batch (a resumed run restores the centres from its checkpoint)."""
    batch = domain_collator(tokenizer)([dataset[i] for i in range(min(batch_size, len(dataset)))])
    device = next(model.parameters()).device
    norms = calibrate_routers(model, batch["input_ids"].to(device), batch["attention_mask"].to(device))
    logger.info("router centres: %s", {k: round(v, 2) for k, v in norms.items()})


def _trainer(
    config: SystemConfig,
    root: Path,
    model: Any,
    tokenizer: Any,
    data: tuple[Any, Any, list[Any]],
    budget_s: float | None,
    resume: bool,
) -> tuple[MoETrainer, Any]:
    from helixmoe.models.layout import SystemLayout
    from helixmoe.training.arguments import build_training_arguments
    from helixmoe.training.harness import HarnessOptions, harness_callbacks

    train_ds, eval_ds, eval_examples = data
    phase = config.moe.train
    run_dir = root / ".train" / "runs" / MOE_DIR
    state = PartialState()
    if not resume and run_dir.exists() and state.is_main_process:
        shutil.rmtree(run_dir)
    state.wait_for_everyone()
    by_exact_match = config.moe.select_by == "exact_match"
    args = build_training_arguments(
        config.training, phase, run_dir, has_eval=True, exact_match=by_exact_match
    )
    args.gradient_checkpointing_kwargs = {"use_reentrant": False}  # aux losses need router grads
    reports = SystemLayout(root).reports_dir
    options = HarnessOptions(
        output_dir=run_dir,
        budget_s=budget_s,
        checkpoint_every_s=config.training.checkpoint_every,
        patience=phase.patience,
        metrics_path=reports / "training_metrics.jsonl",
        plot_path=reports / "moe_curves.png",
        phase=MOE_DIR,
        resume=resume,
    )
    trainer = MoETrainer(
        model=model,
        args=args,
        train_dataset=train_ds,
        eval_dataset=eval_ds,
        data_collator=domain_collator(tokenizer),
        callbacks=harness_callbacks(options),
        moe=config.moe,
        generative_evaluator=_evaluator(tokenizer, eval_examples, phase.eval_samples),
    )
    return trainer, options


def train_moe(
    config: SystemConfig, output_dir: str | Path, *, resume: bool = False, prepare: bool = True
) -> dict[str, Any]:
    """Train the token-level MoE-LoRA of ``config.moe`` on a system's base and write ``<system>/moe/``.

    Args:
        config: a system config; its ``moe`` section says what to inject and how to train it.
        output_dir: the system directory (created by the base stages when ``prepare``).
        resume: continue from the last complete checkpoint of the MoE run (and of the base stages).
        prepare: run the corpus/tokenizer/base stages whose outputs are missing (all three, resumable,
            with ``resume``); an existing system's base and tokenizer are reused as they are.

    Returns:
        The summary also written to ``reports/moe_report.json``; ``interrupted`` is true when SIGINT/SIGTERM
        stopped a base stage (then nothing else ran) or the MoE run (both checkpointed for ``resume``).
    """
    from helixmoe.models.base import load_base
    from helixmoe.models.layout import SystemLayout
    from helixmoe.models.tokenizer import load_tokenizer
    from helixmoe.training.checkpoints import write_json_atomic
    from helixmoe.training.harness import run_trainer
    from helixmoe.training.pipeline import train_system

    started = time.monotonic()
    root = Path(output_dir)
    stages = missing_stages(config, root) if not resume else ["corpus", "tokenizer", "base"]
    # a user's data file is read first: a mistake in it fails now, not after the base has trained
    user_data = (
        load_domain_examples(config, root / ".train" / "corpus") if config.moe.data is not None else None
    )
    if prepare and stages:
        prepared = train_system(config, root, stages=stages, resume=resume, final_eval_limit=0)
        if prepared.get("interrupted"):  # SIGINT/SIGTERM: the stage checkpointed; --resume continues it
            return {"interrupted": True, "stages": prepared["stages"]}
    layout, moe, seed = SystemLayout(root), config.moe, config.training.seed
    tokenizer = load_tokenizer(layout.tokenizer_source(config))
    model = load_base(
        layout.base_source(config),
        quantization=config.model.quantization,
        dtype=config.model.dtype,
        device=config.model.device,
        for_training=True,
    )
    examples = (
        user_data if user_data is not None else load_domain_examples(config, root / ".train" / "corpus")
    )
    train_ex, eval_ex = split_train_eval(examples, moe.eval_fraction, seed)
    domains = sorted({e.domain for e in examples})
    names = inject_moe_lora(model, moe, seed=seed)
    head = attach_domain_head(model, len(names), moe, domains) if moe.domain_head else None
    max_len = config.model.max_seq_len
    data = (
        DomainDataset(tokenizer, train_ex, domains, max_len=max_len),
        DomainDataset(tokenizer, eval_ex, domains, max_len=max_len),
        eval_ex,
    )
    if not resume or not (root / ".train" / "runs" / MOE_DIR).exists():
        _calibrate(model, tokenizer, data[0], config.moe.train.batch_size)
    budget = config.training.time_budget
    remaining = None if budget is None else max(1.0, budget - (time.monotonic() - started))
    trainer, options = _trainer(config, root, model, tokenizer, data, remaining, resume)
    outcome = run_trainer(trainer, options)
    summary: dict[str, Any] = {
        "interrupted": outcome.stopped_by == "signal",
        "stopped_by": outcome.stopped_by,
        "steps": outcome.global_step,
        "best_metric": outcome.best_metric,
        "resumed_from": outcome.resumed_from,
        "train_runtime_s": outcome.metrics.get("train_runtime"),
        "domains": domains,
        "moe_layers": len(names),
        "train_examples": len(data[0]),
        "eval_examples": len(data[1]),
        "trainable_parameters": sum(p.numel() for p in model.parameters() if p.requires_grad),
    }
    if PartialState().is_main_process:
        extra: dict[str, Any] | None = {"domain_head": head} if head is not None else None
        save_moe(model, root / MOE_DIR, moe, extra=extra, info={"domains": domains})
        summary["report"] = moe_report(
            model,
            tokenizer,
            eval_ex,
            domains,
            max_len=max_len,
            per_domain=moe.eval_per_domain,
            batch_size=moe.train.batch_size,
        )
        summary["wall_time_s"] = round(time.monotonic() - started, 1)
        write_json_atomic(layout.reports_dir / "moe_report.json", summary)
    PartialState().wait_for_everyone()
    return summary
