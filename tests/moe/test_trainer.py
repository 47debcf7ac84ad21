"""MoETrainer on the shared harness: aux losses, routing metrics in the sink, MoE-only checkpoints,
exact resume, wall-clock budget and early stopping (tiny Qwen3, synthetic two-domain data, CPU)."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file

from helixmoe.config.training import PhaseConfig, TrainingConfig
from helixmoe.moe import MoEConfig, calibrate_routers, collect_aux_losses, inject_moe_lora, moe_parameters
from helixmoe.training import HarnessOptions, build_training_arguments, harness_callbacks, run_trainer
from helixmoe.training.moe_trainer import MoETrainer, attach_domain_head

MOE = MoEConfig(layers=2, r=4, balance_coef=0.1, domain_head=True)


def _rows(make_batch, n: int, seed: int) -> list[dict]:
    ids, domain = make_batch(torch.Generator().manual_seed(seed), batch=n)
    return [
        {"input_ids": i, "attention_mask": torch.ones_like(i), "labels": i.clone(), "domain": int(d)}
        for i, d in zip(ids, domain)
    ]


def _collate(rows: list[dict]) -> dict:
    batch = {k: torch.stack([r[k] for r in rows]) for k in ("input_ids", "attention_mask", "labels")}
    batch["domain"] = torch.tensor([r["domain"] for r in rows])
    return batch


def _run(
    make_model,
    make_batch,
    tmp_path,
    *,
    steps: int,
    resume: bool = False,
    lr: float = 1e-2,
    budget: float | None = None,
    patience: int | None = None,
    eval_steps: int = 4,
):
    model = make_model(seed=0)
    model.train()
    inject_moe_lora(model, MOE, seed=0)
    attach_domain_head(model, 6, MOE, ["a", "b"])
    train = _rows(make_batch, 64, seed=1)
    calibrate_routers(model, _collate(train[:16])["input_ids"])
    phase = PhaseConfig(
        max_steps=steps,
        lr=lr,
        batch_size=8,
        eval_steps=eval_steps,
        patience=patience,
        warmup_ratio=0.0,
        scheduler="constant",
    )
    training = TrainingConfig(logging_steps=2, progress_bars=False, checkpoint_every=None)
    run_dir = tmp_path / "run"
    args = build_training_arguments(training, phase, run_dir, has_eval=True, exact_match=False)
    options = HarnessOptions(
        output_dir=run_dir,
        budget_s=budget,
        patience=patience,
        handle_signals=False,
        metrics_path=tmp_path / "metrics.jsonl",
        phase="moe",
        resume=resume,
    )
    trainer = MoETrainer(
        model=model,
        args=args,
        train_dataset=train,
        eval_dataset=_rows(make_batch, 16, seed=2),
        data_collator=_collate,
        callbacks=harness_callbacks(options),
        moe=MOE,
    )
    return model, trainer, run_trainer(trainer, options)


def test_loss_adds_aux_and_scales_it_under_accumulation(make_model, make_batch, tmp_path) -> None:
    model, trainer, _ = _run(make_model, make_batch, tmp_path, steps=1)
    batch = _collate(_rows(make_batch, 8, seed=3))
    model.train()
    with torch.no_grad():
        total = trainer.compute_loss(model, dict(batch))
        lm = model(**{k: v for k, v in batch.items() if k != "domain"}).loss
        aux = collect_aux_losses(
            model,
            balance_coef=0.1,
            z_coef=1e-3,
            attention_mask=batch["attention_mask"],
            domain_head=model.moe_domain_head,
            domain_labels=batch["domain"],
        )
        assert float(total) == pytest.approx(float(lm + aux.total), rel=1e-5)
        trainer.current_gradient_accumulation_steps = 4
        n_items = int((batch["labels"][:, 1:] != -100).sum()) * 4
        scaled = trainer.compute_loss(model, dict(batch), num_items_in_batch=n_items)
        lm_scaled = model(
            **{k: v for k, v in batch.items() if k != "domain"}, num_items_in_batch=n_items
        ).loss
    assert trainer.model_accepts_loss_kwargs
    assert float(scaled) == pytest.approx(float(lm_scaled + aux.total / 4), rel=1e-5)


def test_metrics_sink_and_moe_only_checkpoints(make_model, make_batch, tmp_path) -> None:
    model, _, outcome = _run(make_model, make_batch, tmp_path, steps=8)
    assert outcome.stopped_by == "completed" and outcome.global_step == 8
    records = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    train_logs = [r for r in records if "loss" in r]
    assert train_logs and all("moe/usage_0" in r and "moe/routing_entropy" in r for r in train_logs)
    assert all("moe/domain_accuracy" in r and "moe/z_loss" in r for r in train_logs)
    assert any("eval_loss" in r for r in records)
    saved = load_file(str(tmp_path / "run" / "checkpoint-8" / "model.safetensors"))
    expected = {n for n, p in model.named_parameters() if p.requires_grad}
    assert expected <= set(saved) and not any(".base." in k or "embed_tokens" in k for k in saved)
    assert any(k.endswith("router.center") for k in saved)


def test_resume_continues_exactly(make_model, make_batch, tmp_path) -> None:
    straight, _, _ = _run(make_model, make_batch, tmp_path / "a", steps=8)
    _run(make_model, make_batch, tmp_path / "b", steps=4)
    resumed, _, outcome = _run(make_model, make_batch, tmp_path / "b", steps=8, resume=True)
    assert outcome.resumed_from is not None and outcome.resumed_from.endswith("checkpoint-4")
    for a, b in zip(moe_parameters(straight), moe_parameters(resumed)):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_budget_stops_training(make_model, make_batch, tmp_path) -> None:
    _, _, outcome = _run(make_model, make_batch, tmp_path, steps=10_000, budget=1.0, eval_steps=10_000)
    assert outcome.stopped_by == "budget" and 0 < outcome.global_step < 10_000


def test_early_stopping_triggers(make_model, make_batch, tmp_path) -> None:
    # With a vanishing learning rate the eval loss cannot improve, so patience 1 stops at the second eval.
    _, _, outcome = _run(make_model, make_batch, tmp_path, steps=200, lr=1e-12, patience=1, eval_steps=2)
    assert outcome.stopped_by == "early_stopping" and outcome.global_step < 200
