"""Config of request routing (pure Python, layer 0): the ``routing:`` section of ``system.yaml``."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from helixmoe.config.base import Section

__all__ = ["RoutingConfig"]


class RoutingConfig(Section):
    """Which router picks the expert for a request, and how the ``router`` training stage fits it."""

    kind: Literal["classifier", "cascade"] = "cascade"
    """Router saved by the ``router`` stage (``keyword`` and ``coordinator`` are chosen at load time)."""
    target_precision: float = Field(default=0.995, gt=0.0, le=1.0)
    """Accuracy the cascade's accepted classifier decisions must reach on the validation split."""
    coordinator_stage: bool = False
    """Escalate unsure decisions to the coordinator expert (worth it once it is trained on routing)."""
    extra_prompts: int = Field(default=20000, ge=0)
    """Freshly generated training prompts added to the corpus' train split (routing needs phrasing variety,
    not answers, and prompts are cheap: about 8 000 per second)."""
    max_prompts: int | None = Field(default=None, ge=100)
    """Fit on at most this many of those prompts (a seeded random sample; ``None``: all of them). The fit
    takes time in proportion to its prompts, and past about 40 000 the routers gain next to nothing
    (``benchmarks/bench_routing.py --train N``)."""
    seed: int = 0
    """Seed of the extra prompts and of the sample."""
