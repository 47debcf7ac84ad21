"""The ``router`` training stage: fit the routers of a system from its corpus.

It needs only the corpus, so it runs right after the tokenizer: its time (about 1 to 3 minutes on 2 cores,
which no budget can cut short) comes out of the training budget before the base and the experts split what
is left, and ``training.time_budget`` bounds the whole ``helixmoe train`` run.

Runs :func:`helixmoe.routing.train.train_routers` on the corpus' train split plus freshly generated prompts
(``routing.extra_prompts``), at most ``routing.max_prompts`` of them, calibrates on the validation split, and writes ``<system>/router/``.
"""

from __future__ import annotations

import random
from typing import Any

from helixmoe.training.context import StageContext, process_state
from helixmoe.training.stages import load_split, register_stage

__all__ = ["router_stage"]


@register_stage("router", after="tokenizer", needs=("corpus",))
def router_stage(ctx: StageContext) -> dict[str, Any]:
    """Fit and calibrate the classifier/cascade and the intent model; save them under ``router/``."""
    from helixmoe.routing.train import train_routers
    from helixmoe.tasks import generate

    routing = ctx.config.routing
    if ctx.is_done("router") and (ctx.layout.router_dir / "router.json").is_file():
        return ctx.skipped_done("router")
    state = process_state()
    if not state.is_main_process:  # under accelerate launch one process fits and writes, the others wait
        state.wait_for_everyone()
        return {"skipped": "fitted by the main process"}
    experts = list(ctx.config.experts)
    train = load_split(ctx, "train")
    if routing.extra_prompts:
        train += generate(routing.extra_prompts, routing.seed + 7919, None, "train", experts=experts)
    if routing.max_prompts is not None and len(train) > routing.max_prompts:
        train = random.Random(routing.seed).sample(train, routing.max_prompts)
    val = load_split(ctx, "val")
    metrics = train_routers(
        train,
        val,
        ctx.layout.router_dir,
        kind=routing.kind,
        target=routing.target_precision,
        coordinator=routing.coordinator_stage and "coordinator" in experts,
    )
    ctx.mark_done("router", metrics)
    state.wait_for_everyone()
    return metrics
