"""The harness guarantees on a tiny Qwen3: learning, exact resume, budget, early stopping, best-at-end."""

from __future__ import annotations

import json
from itertools import pairwise

import torch
from harness_utils import ScriptedEvaluator, build_trainer
from safetensors.torch import load_file
from transformers import TrainerCallback

from helixmoe.training.checkpoints import MANIFEST_NAME, last_complete_checkpoint
from helixmoe.training.harness import run_trainer
from helixmoe.training.metrics import read_jsonl


class StopAt(TrainerCallback):
    """Simulates an interruption: save and stop at ``step``."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_step_end(self, args, state, control, **kw):
        if state.global_step == self.step:
            control.should_save = True
            control.should_training_stop = True


def _losses(trainer) -> dict[int, float]:
    return {r["step"]: r["loss"] for r in trainer.state.log_history if "loss" in r}


def test_a_few_steps_lower_the_loss(tmp_path, toy_data, tokenizer):
    trainer, options = build_trainer(tmp_path / "run", toy_data, tokenizer, max_steps=30, eval_steps=None)
    outcome = run_trainer(trainer, options)
    losses = _losses(trainer)
    assert outcome.stopped_by == "completed" and outcome.global_step == 30
    assert losses[30] < 0.7 * losses[1]
    records = read_jsonl(tmp_path / "run" / "metrics.jsonl")
    assert any("eval_loss" in r for r in records) and (tmp_path / "run" / "curves.png").stat().st_size > 1000


def test_resume_matches_uninterrupted_run(tmp_path, toy_data, tokenizer):
    full, options = build_trainer(tmp_path / "full", toy_data, tokenizer, max_steps=12, eval_steps=None)
    run_trainer(full, options)

    first, options = build_trainer(
        tmp_path / "cut", toy_data, tokenizer, max_steps=12, eval_steps=None, extra_callbacks=[StopAt(5)]
    )
    assert run_trainer(first, options).global_step == 5
    second, options = build_trainer(
        tmp_path / "cut", toy_data, tokenizer, max_steps=12, eval_steps=None, resume=True
    )
    outcome = run_trainer(second, options)
    assert outcome.resumed_from is not None and outcome.resumed_from.endswith("checkpoint-5")
    assert outcome.global_step == 12
    assert _losses(second)[12] == _losses(full)[12]
    for (name, a), (_, b) in zip(
        full.model.state_dict().items(), second.model.state_dict().items(), strict=True
    ):
        assert torch.equal(a, b), name


def test_checkpoints_are_stamped_and_pickle_free(tmp_path, toy_data, tokenizer):
    trainer, options = build_trainer(tmp_path / "run", toy_data, tokenizer, max_steps=4, eval_steps=2)
    run_trainer(trainer, options)
    ckpt = last_complete_checkpoint(tmp_path / "run")
    assert ckpt is not None and ckpt.name == "checkpoint-4"
    names = {p.name for p in ckpt.iterdir()}
    assert {"model.safetensors", "training_args.json", MANIFEST_NAME, "trainer_state.json"} <= names
    assert "training_args.bin" not in names
    manifest = json.loads((ckpt / MANIFEST_NAME).read_text())
    assert manifest["step"] == 4 and "model.safetensors" in manifest["files"]


def test_time_budget_stops_evaluates_and_saves(tmp_path, toy_data, tokenizer):
    trainer, options = build_trainer(
        tmp_path / "run", toy_data, tokenizer, max_steps=100_000, eval_steps=None, budget_s=1.0
    )
    outcome = run_trainer(trainer, options)
    assert outcome.stopped_by == "budget" and outcome.global_step < 100_000
    ckpt = last_complete_checkpoint(tmp_path / "run")
    assert ckpt is not None and ckpt.name == f"checkpoint-{outcome.global_step}"
    evals = [r for r in trainer.state.log_history if "eval_loss" in r]
    assert evals and evals[-1]["step"] == outcome.global_step


def test_early_stopping_triggers_on_flat_exact_match(tmp_path, toy_data, tokenizer):
    evaluator = ScriptedEvaluator([0.5])
    trainer, options = build_trainer(
        tmp_path / "run", toy_data, tokenizer, max_steps=100, eval_steps=2, patience=2, evaluator=evaluator
    )
    outcome = run_trainer(trainer, options)
    assert outcome.stopped_by == "early_stopping"
    assert outcome.global_step == 6 and evaluator.calls == 3


def test_best_at_end_is_the_exact_match_best(tmp_path, toy_data, tokenizer):
    evaluator = ScriptedEvaluator([0.1, 0.9, 0.3, 0.2])
    trainer, options = build_trainer(
        tmp_path / "run", toy_data, tokenizer, max_steps=8, eval_steps=2, evaluator=evaluator
    )
    outcome = run_trainer(trainer, options)
    assert outcome.best_metric == 0.9 and outcome.best_checkpoint.endswith("checkpoint-4")
    best = load_file(str(tmp_path / "run" / "checkpoint-4" / "model.safetensors"))
    final = trainer.model.state_dict()
    assert all(torch.equal(best[k], final[k]) for k in best)
    last = load_file(str(tmp_path / "run" / "checkpoint-8" / "model.safetensors"))
    assert not all(torch.equal(last[k], final[k]) for k in last)
    logged = [
        r["eval_exact_match"]
        for r in read_jsonl(tmp_path / "run" / "metrics.jsonl")
        if "eval_exact_match" in r
    ]
    assert logged == [0.1, 0.9, 0.3, 0.2]


def test_budget_keeps_room_for_the_final_evaluation(monkeypatch):
    from transformers import TrainerControl, TrainerState

    from helixmoe.training import callbacks

    clock = [100.0]
    monkeypatch.setattr(callbacks.time, "monotonic", lambda: clock[0])
    cb = callbacks.WallClockBudgetCallback(60.0)
    state, control = TrainerState(), TrainerControl()
    cb.on_train_begin(None, state, control)
    clock[0] = 110.0
    cb.on_step_end(None, state, control)
    clock[0] = 130.0  # an evaluation right after that step took 20 s
    cb.on_evaluate(None, state, control)
    clock[0] = 135.0  # 35 s used: 35 + 20 < 60, keep going
    cb.on_step_end(None, state, control)
    assert not control.should_training_stop
    clock[0] = 141.0  # 41 s used: the final 20 s evaluation would end past the budget, so stop now
    cb.on_step_end(None, state, control)
    assert control.should_training_stop and control.should_evaluate


def test_a_budget_stop_anneals_the_learning_rate_to_the_end_of_its_schedule(
    tmp_path, toy_data, tokenizer, monkeypatch
):
    from helixmoe.training import callbacks

    clock = [0.0]
    monkeypatch.setattr(callbacks.time, "monotonic", lambda: clock[0])

    class TickAndRecord(TrainerCallback):
        """Each step takes one fake second; records the learning rate the step used."""

        def __init__(self) -> None:
            self.lrs: list[float] = []

        def on_step_begin(self, args, state, control, **kw):
            clock[0] += 1.0
            self.lrs.append(kw["lr_scheduler"].get_last_lr()[0])

    used = {}
    for anneal in (False, True):
        clock[0] = 0.0
        record = TickAndRecord()
        trainer, options = build_trainer(
            tmp_path / f"anneal-{anneal}",
            toy_data,
            tokenizer,
            max_steps=1000,
            eval_steps=None,
            scheduler="cosine",
            extra_callbacks=[record],
            budget_s=10.0,
            has_eval=False,
            anneal_to_budget=anneal,
        )
        outcome = run_trainer(trainer, options)
        assert outcome.stopped_by == "budget" and outcome.global_step == 10
        used[anneal] = record.lrs
    peak = used[False][0]
    # by steps, the budget stops a 1 000-step cosine at 1 %: the rate is still at its peak
    assert min(used[False]) > 0.99 * peak
    # over the budget it decays every step, ending near zero: step 10 runs at the 800th step's rate (the
    # schedule reads the share of the budget used at the end of the step before last, 8 s of 10)
    annealed = used[True]
    assert annealed[0] == peak and all(b < a for a, b in pairwise(annealed))
    assert annealed[-1] < 0.1 * peak


def test_a_loss_target_stops_and_saves_at_the_first_step_that_reaches_it(tmp_path, toy_data, tokenizer):
    full, options = build_trainer(tmp_path / "full", toy_data, tokenizer, max_steps=30, eval_steps=None)
    run_trainer(full, options)
    losses = _losses(full)
    target = losses[15]
    first = min(step for step, loss in losses.items() if loss <= target)

    trainer, options = build_trainer(
        tmp_path / "run", toy_data, tokenizer, max_steps=30, eval_steps=None, stop_at_loss=target
    )
    outcome = run_trainer(trainer, options)
    assert outcome.stopped_by == "loss_target" and outcome.global_step == first < 30
    ckpt = last_complete_checkpoint(tmp_path / "run")
    assert ckpt is not None and ckpt.name == f"checkpoint-{first}"


def _loss_and_grads(trainer, model, batch, items):
    model.zero_grad()
    loss = trainer.compute_loss(model, batch, num_items_in_batch=items)
    loss.backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    return loss.detach(), grads


def test_labelled_logits_only_is_hf_loss_with_hf_gradients(tmp_path, toy_data, tokenizer):
    from peft import LoraConfig, get_peft_model
    from training_helpers import make_model

    from helixmoe.models.experts import wrapping_quietly

    trainer, _ = build_trainer(tmp_path / "run", toy_data, tokenizer, max_steps=1, eval_steps=None)
    batch = next(iter(trainer.get_train_dataloader()))
    labelled = int((batch["labels"][:, 1:] != -100).sum())
    assert 0 < labelled < batch["labels"].numel() // 2  # response-only labels: most positions have none
    with wrapping_quietly():
        lora = get_peft_model(make_model(seed=1), LoraConfig(r=4, target_modules=["q_proj", "down_proj"]))
    for model in (trainer.model, lora):
        head_inputs: list[int] = []  # dimensions of what the vocabulary projection sees
        hook = model.get_output_embeddings().register_forward_hook(
            lambda m, args, out, seen=head_inputs: seen.append(args[0].dim())
        )
        for items in (None, torch.tensor(labelled + 5)):
            trainer.labelled_logits_only = True
            fast, fast_grads = _loss_and_grads(trainer, model, batch, items)
            trainer.labelled_logits_only = False
            hf, hf_grads = _loss_and_grads(trainer, model, batch, items)
            assert torch.allclose(fast, hf, atol=1e-6, rtol=1e-5)
            assert fast_grads.keys() == hf_grads.keys() and fast_grads
            for name, grad in fast_grads.items():
                assert torch.allclose(grad, hf_grads[name], atol=1e-6, rtol=1e-4), name
        hook.remove()
        assert head_inputs == [2, 3, 2, 3]  # (labelled positions, H) here, (B, T, H) in HF's forward
    trainer.labelled_logits_only = True
    _, outputs = trainer.compute_loss(trainer.model, batch, return_outputs=True)  # evaluation: HF's path
    assert outputs.logits.shape[:2] == batch["input_ids"].shape
