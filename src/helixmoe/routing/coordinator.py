"""The coordinator router: the coordinator expert scores every expert name and the best one wins.

The language model is asked which expert should answer and, instead of free generation, each expert
name is scored as a continuation (its log-likelihood); the softmax over the names is the decision. The
answer therefore can never be anything but a valid expert. The scorer is supplied by the system layer
(:mod:`helixmoe.system`), which owns the model; this module stays free of torch.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from helixmoe.errors import SystemLoadError
from helixmoe.routing.base import RouteDecision, register_router, write_json_atomic

__all__ = ["ROUTE_PROMPT", "CoordinatorRouter", "Scorer"]

#: How a routing question is put to the coordinator; the corpus' routing family uses the same text.
ROUTE_PROMPT = "Which expert should answer this request? {text}"
#: ``scorer(prompt, candidates) -> log-likelihood of each candidate as the answer``
Scorer = Callable[[str, Sequence[str]], Sequence[float]]


@register_router("coordinator")
class CoordinatorRouter:
    """Route by the coordinator expert's likelihood of each expert name."""

    kind = "coordinator"

    def __init__(self, *, scorer: Scorer | None, experts: Sequence[str], prompt: str = ROUTE_PROMPT) -> None:
        if not experts:
            raise ValueError("the coordinator router needs at least one expert name")
        self.scorer = scorer
        self.experts = tuple(experts)
        self.prompt = prompt

    def route(self, text: str) -> RouteDecision:
        if self.scorer is None:
            raise SystemLoadError(
                "the coordinator router has no model attached (load it through HelixMoE.load)"
            )
        logliks = list(self.scorer(self.prompt.format(text=text), self.experts))
        top = max(logliks)
        weights = [math.exp(v - top) for v in logliks]
        total = sum(weights)
        probs = [w / total for w in weights]
        best = max(range(len(probs)), key=probs.__getitem__)
        scores = dict(zip(self.experts, probs))
        return RouteDecision(self.experts[best], probs[best], scores, self.kind)

    def save(self, directory: str | Path) -> None:
        write_json_atomic(
            Path(directory) / "router.json",
            {"kind": self.kind, "experts": list(self.experts), "prompt": self.prompt},
        )

    @classmethod
    def load(
        cls, directory: Path, meta: dict[str, Any], *, scorer: Scorer | None = None, **_: Any
    ) -> CoordinatorRouter:
        if scorer is None:
            raise SystemLoadError(f"{directory}: the coordinator router needs the coordinator model (scorer)")
        return cls(scorer=scorer, experts=meta["experts"], prompt=meta.get("prompt", ROUTE_PROMPT))
