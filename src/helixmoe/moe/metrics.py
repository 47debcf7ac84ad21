"""Routing metrics for the mixture of LoRA experts.

Owns :class:`RoutingStats`, an accumulator over one or many forward passes that reports, as a flat
``dict[str, float]`` ready for any metric sink:

* ``moe/usage_<i>`` — share of top-k assignments sent to expert i, averaged over the adapted layers;
  ``moe/usage_min`` / ``moe/usage_max`` — the extreme share over every (layer, expert) pair;
* ``moe/routing_entropy`` — entropy in nats of each layer's expert-usage distribution, averaged over layers
  (ln N for perfectly even load, 0 for collapse);
* ``moe/token_entropy`` — mean entropy in nats of the per-token router distribution (how sure routers are);
* ``moe/balance_loss``, ``moe/z_loss`` — the unscaled aux losses (see :mod:`helixmoe.moe.losses`);
* ``moe/dropped_fraction`` — share of assignments dropped by the capacity limit.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F

from helixmoe.moe.losses import load_balancing_loss, router_z_loss, token_mask
from helixmoe.moe.router import RouterOutput

__all__ = ["RoutingStats", "routing_metrics"]


def _entropy(p: torch.Tensor) -> torch.Tensor:
    """Entropy in nats along the last dim, with 0·log 0 = 0."""
    return -(p * p.clamp_min(1e-12).log()).sum(-1)


class RoutingStats:
    """Accumulates routing statistics; call :meth:`update` after forward passes, :meth:`summary` to read."""

    def __init__(self) -> None:
        self.counts: torch.Tensor | None = None  # (L, N) assignments per layer and expert
        self.tokens = 0  # tokens summed over layers
        self.token_entropy = 0.0
        self.balance = 0.0
        self.z = 0.0
        self.kept = 0
        self.assigned = 0
        self.updates = 0

    @torch.no_grad()
    def update(self, routes: Sequence[RouterOutput], attention_mask: torch.Tensor | None = None) -> None:
        """Add the routes of one forward pass (one per adapted layer, same order every call)."""
        if not routes:
            return
        counts = []
        for r in routes:
            m = token_mask(r, attention_mask)
            idx, keep, probs = (
                (r.indices, r.keep, r.probs) if m is None else (r.indices[m], r.keep[m], r.probs[m])
            )
            counts.append(F.one_hot(idx, r.num_experts).sum(dim=(0, 1)).cpu())  # (N,)
            self.tokens += probs.shape[0]
            self.token_entropy += float(_entropy(probs).sum())
            self.kept += int(keep.sum())
            self.assigned += keep.numel()
            self.balance += float(load_balancing_loss(r.probs, r.indices, m))
            self.z += float(router_z_loss(r.logits, m))
        stacked = torch.stack(counts).double()  # (L, N)
        self.counts = stacked if self.counts is None else self.counts + stacked
        self.updates += 1

    def usage(self) -> torch.Tensor:
        """(L, N) share of assignments per layer and expert (rows sum to 1)."""
        if self.counts is None:
            raise ValueError("no routes recorded yet")
        return self.counts / self.counts.sum(-1, keepdim=True).clamp_min(1.0)

    def summary(self) -> dict[str, float]:
        """Flat metrics over everything accumulated (see the module docstring for names)."""
        usage = self.usage()  # (L, N)
        n_layers = usage.shape[0]
        calls = max(self.updates * n_layers, 1)
        out = {f"moe/usage_{i}": float(u) for i, u in enumerate(usage.mean(0))}
        out["moe/usage_min"] = float(usage.min())
        out["moe/usage_max"] = float(usage.max())
        out["moe/routing_entropy"] = float(_entropy(usage).mean())
        out["moe/token_entropy"] = self.token_entropy / max(self.tokens, 1)
        out["moe/balance_loss"] = self.balance / calls
        out["moe/z_loss"] = self.z / calls
        out["moe/dropped_fraction"] = 1.0 - self.kept / max(self.assigned, 1)
        out["moe/max_entropy"] = math.log(usage.shape[1])
        return out


def routing_metrics(
    routes: Sequence[RouterOutput], attention_mask: torch.Tensor | None = None
) -> dict[str, float]:
    """Metrics of a single forward pass (a one-shot :class:`RoutingStats`)."""
    stats = RoutingStats()
    stats.update(routes, attention_mask)
    return stats.summary()
