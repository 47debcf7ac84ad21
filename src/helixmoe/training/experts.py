"""The ``experts`` stage: LoRA fine-tuning per expert, the two-phase curriculum and continuous mode.

* **Specialisation** (always): a fresh PEFT LoRA (``lora_for(expert)``: r=16, α=32, dropout 0.05 on the
  seven projections by default) on the shared base, trained on the expert's slice with the loss on the
  response only, evaluated by exact match on a fixed validation sample graded by the task families,
  early-stopped with patience, best-by-exact-match restored at the end.
* **Curriculum** (``training.curriculum.general_steps > 0``): first one *general* adapter on every expert's
  data (response only); each expert then starts from it instead of from zero. (The from-scratch base
  pretraining is the curriculum's general phase for the base weights.)
* **Continuous mode** (``training.continuous.enabled``): after the corpus round, keep training each expert on
  freshly generated examples (new seed per round) until its validation exact match reaches the target, the
  round limit or the time budget.

Experts are written in the PEFT layout + ``expert.json`` (what :class:`~helixmoe.models.ExpertPool` loads).
"""

from __future__ import annotations

import json
import logging
import math
import time
from pathlib import Path
from typing import Any

from helixmoe.training.context import StageContext, process_state
from helixmoe.training.phases import train_phase
from helixmoe.training.stages import (
    eval_samples_of,
    grade_sample,
    load_split,
    load_stage_tokenizer,
    pairs_of,
    register_stage,
)

__all__ = ["answer_budget", "experts_stage", "save_expert"]

logger = logging.getLogger(__name__)

_VAL_LOSS_EXAMPLES = 256


def _load_training_base(ctx: StageContext) -> Any:
    from helixmoe.models.base import load_base

    cfg = ctx.config.model
    return load_base(
        ctx.layout.base_source(ctx.config),
        quantization=cfg.quantization,
        dtype=cfg.dtype,
        device=cfg.device,
        for_training=True,
    )


def _peft_model(ctx: StageContext, name: str | None, init_dir: Path | None) -> Any:
    from peft import PeftModel, get_peft_model

    from helixmoe.models.experts import lora_to_peft, wrapping_quietly

    base = _load_training_base(ctx)
    with wrapping_quietly():
        if init_dir is not None:
            return PeftModel.from_pretrained(base, str(init_dir), is_trainable=True)
        lora = ctx.config.lora_for(name) if name is not None else ctx.config.lora
        return get_peft_model(base, lora_to_peft(lora))


def answer_budget(tokenizer: Any, pairs: list[Any], *, margin: int = 8) -> dict[str, float]:
    """How many new tokens an answer of this expert may take: ``offset + slope * prompt_tokens``.

    Fitted on the expert's training pairs so that every one of them fits with ``margin`` to spare: the
    slope is the 90th percentile of answer/prompt length over prompts of 16+ tokens (conversions grow with
    their input), the offset covers the rest (short questions with long answers, e.g. "Explain a handle.").
    The system caps generation with it (``expert.json`` ``answer_tokens``), so babbling stops early and no
    right answer is cut.
    """
    from helixmoe.models.template import encode_texts, render_prompt

    prompts = encode_texts(tokenizer, [render_prompt(p.prompt) for p in pairs])
    answers = encode_texts(tokenizer, [p.response for p in pairs])
    lengths = [(len(q), len(a)) for q, a in zip(prompts, answers, strict=True)]
    ratios = sorted(a / q for q, a in lengths if q >= 16) or [1.0]
    slope = round(ratios[min(len(ratios) - 1, int(0.9 * len(ratios)))], 3)
    offset = max(0.0, max((a - slope * q for q, a in lengths), default=0.0)) + margin
    return {"offset": float(math.ceil(offset)), "slope": slope}


def save_expert(model: Any, directory: Path, info: dict[str, Any]) -> Path:
    """Write a single-adapter PEFT model as an expert directory (PEFT layout + ``expert.json``), atomically."""
    from helixmoe.models.layout import EXPERT_META, atomic_dir

    with atomic_dir(directory) as tmp:
        model.save_pretrained(str(tmp))  # the "default" adapter lands at the top level
        (tmp / EXPERT_META).write_text(json.dumps(info, indent=2, sort_keys=True, default=str) + "\n")
    return directory


def _general_phase(ctx: StageContext, tokenizer: Any, names: list[str]) -> Path | None:
    """Train the curriculum's general adapter on all experts' data; return its directory."""
    out = ctx.work_dir / "general_adapter"
    if ctx.is_done("experts/_general") and (out / "adapter_config.json").is_file():
        return out
    cfg = ctx.config.training
    phase = cfg.experts.model_copy(update={"max_steps": cfg.curriculum.general_steps, "patience": None})
    train = [e for e in load_split(ctx, "train") if e.expert in names]
    val = [e for e in load_split(ctx, "val") if e.expert in names]
    model = _peft_model(ctx, None, None)
    result = train_phase(
        ctx,
        name="experts/_general",
        model=model,
        tokenizer=tokenizer,
        phase=phase,
        train=pairs_of(train, cfg.prompt_style),
        val=pairs_of(val, cfg.prompt_style)[:_VAL_LOSS_EXAMPLES],
        response_only=True,
        budget_s=_share(ctx, len(names) + 1),
    )
    if ctx.interrupted:
        return None
    if process_state().is_main_process:
        from helixmoe.models.layout import atomic_dir

        with atomic_dir(out) as tmp:
            model.save_pretrained(str(tmp))
    process_state().wait_for_everyone()
    ctx.record("experts/_general", result.summary())
    return out


def _share(ctx: StageContext, parts_left: int) -> float | None:
    remaining = ctx.remaining_s()
    return None if remaining is None else remaining / max(1, parts_left)


def _continuous_rounds(
    ctx: StageContext,
    name: str,
    model: Any,
    tokenizer: Any,
    first: dict[str, Any],
    val: list[Any],
    seed_offset: int,
) -> list[dict[str, Any]]:
    """Fresh-data rounds after the corpus round, until the target exact match, round limit or budget."""
    from helixmoe.tasks import generate

    cfg = ctx.config.training
    cont = cfg.continuous
    rounds = [first]
    spec = ctx.config.experts[name]
    for index in range(1, cont.max_rounds):
        best = rounds[-1].get("best_metric")
        if (best is not None and best >= cont.target_exact_match) or ctx.out_of_time() or ctx.interrupted:
            break
        fresh = generate(
            cont.round_examples, cfg.seed + 7919 * index, spec.families or None, "train", experts=[name]
        )
        result = train_phase(
            ctx,
            name=f"experts/{name}/round{index}",
            model=model,
            tokenizer=tokenizer,
            phase=cfg.experts,
            train=pairs_of(fresh, cfg.prompt_style),
            val=pairs_of(val, cfg.prompt_style)[:_VAL_LOSS_EXAMPLES],
            eval_samples=eval_samples_of(val, cfg.experts.eval_samples, cfg.prompt_style),
            grade=grade_sample,
            budget_s=ctx.remaining_s(),
            seed_offset=seed_offset + index,
        )
        rounds.append(result.summary())
    return rounds


def train_expert(
    ctx: StageContext,
    name: str,
    tokenizer: Any,
    init_dir: Path | None,
    budget_s: float | None,
    seed_offset: int,
) -> dict[str, Any]:
    """Train one expert on its slice (+ continuous rounds) and write ``experts/<name>/``."""
    cfg = ctx.config
    phase = cfg.training.experts
    lora = cfg.lora_for(name)
    if init_dir is not None and lora != cfg.lora:
        logger.warning(
            "expert %s has its own LoRA shape: it starts from scratch, not from the general adapter", name
        )
        init_dir = None
    started = time.monotonic()
    model = _peft_model(ctx, name, init_dir)
    train, val = load_split(ctx, "train", name), load_split(ctx, "val", name)
    style = cfg.training.prompt_style
    train_pairs = pairs_of(train, style)
    val_pairs = pairs_of(val, style)[:_VAL_LOSS_EXAMPLES]
    eval_samples = eval_samples_of(val, phase.eval_samples, style)
    if budget_s is not None:  # loading and framing the slice count against the expert's share
        budget_s = max(0.0, budget_s - (time.monotonic() - started))
    result = train_phase(
        ctx,
        name=f"experts/{name}",
        model=model,
        tokenizer=tokenizer,
        phase=phase,
        train=train_pairs,
        val=val_pairs,
        eval_samples=eval_samples,
        grade=grade_sample,
        budget_s=budget_s,
        seed_offset=seed_offset,
    )
    summary = result.summary()
    if cfg.training.continuous.enabled:
        summary["rounds"] = _continuous_rounds(
            ctx, name, model, tokenizer, dict(summary), val, seed_offset * 100
        )
        summary["best_metric"] = summary["rounds"][-1].get("best_metric")
    if ctx.interrupted:
        return summary
    spec = cfg.experts[name]
    info = {
        "name": name,
        "lora": lora.model_dump(mode="json"),
        "description": spec.description,
        "families": list(spec.families),
        "training": summary,
        "curriculum_init": init_dir is not None,
        "answer_tokens": answer_budget(tokenizer, train_pairs),
    }
    if process_state().is_main_process:
        save_expert(model, ctx.layout.expert_dir(name), info)
    process_state().wait_for_everyone()
    return summary


@register_stage("experts", needs=("corpus", "tokenizer", "base"))
def experts_stage(ctx: StageContext) -> dict[str, Any]:
    """Train every expert of the config (or ``ctx.experts``), splitting the remaining budget equally."""
    names = ctx.experts or list(ctx.config.experts)
    tokenizer = load_stage_tokenizer(ctx)
    init_dir = _general_phase(ctx, tokenizer, names) if ctx.config.training.curriculum.general_steps else None
    if ctx.interrupted:
        return {"_general": {"stopped_by": "signal"}}
    results: dict[str, Any] = {}
    for index, name in enumerate(names):
        key = f"experts/{name}"
        if ctx.is_done(key) and (ctx.layout.expert_dir(name) / "adapter_model.safetensors").is_file():
            results[name] = ctx.skipped_done(key)
            continue
        results[name] = train_expert(
            ctx, name, tokenizer, init_dir, _share(ctx, len(names) - index), index + 1
        )
        if ctx.interrupted:
            break
        ctx.record(key, results[name])
    return results
