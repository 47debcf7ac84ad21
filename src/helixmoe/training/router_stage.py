"""The ``router`` training stage: fit the routers of a system from its corpus (after the experts).

Runs :func:`helixmoe.routing.train.train_routers` on the corpus' train split plus freshly generated prompts
(``routing.extra_prompts``), calibrates on the validation split, and writes ``<system>/router/``.
"""

from __future__ import annotations

from typing import Any

from helixmoe.training.context import StageContext
from helixmoe.training.stages import load_split, register_stage

__all__ = ["router_stage"]


@register_stage("router")
def router_stage(ctx: StageContext) -> dict[str, Any]:
    """Fit and calibrate the classifier/cascade and the intent model; save them under ``router/``."""
    from helixmoe.routing.train import train_routers
    from helixmoe.tasks import generate

    routing = ctx.config.routing
    if ctx.is_done("router") and (ctx.layout.router_dir / "router.json").is_file():
        return {"skipped": "done"}
    experts = list(ctx.config.experts)
    train = load_split(ctx, "train")
    if routing.extra_prompts:
        train += generate(routing.extra_prompts, routing.seed + 7919, None, "train", experts=experts)
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
    return metrics
