"""The MoE-LoRA linear layer: ``base(x) + Σ_topk w_i · (α/r) B_i A_i x``.

Owns :class:`MoELoRALayer` and the two ways of computing the routed low-rank update:

* :func:`moe_delta_loop` — the reference: for every expert and every top-k slot, pick the tokens routed
  there with a mask and add their weighted expert output. Obviously correct, N·k small matmuls.
* :func:`moe_delta_batched` (``"sorted"``) — sparse and batched: flatten the T·k assignments, sort them by
  expert, scatter the token rows into a zero-padded (N, C, in) block, run all experts with two ``bmm``
  calls, and ``index_add`` the weighted rows back to their tokens. Work grows with k, not N.
* :func:`moe_delta_dense` (``"dense"``, the default) — two dense matmuls: project every token through all N
  ``A`` (a rank-N·r product), scale each expert's r columns by its combine weight (zero unless chosen),
  then one matmul with the stacked ``B``. It does N/k times the low-rank FLOPs but no gathers or scatters,
  which is faster for the few experts used here (see ``benchmarks/bench_moe.py``); prefer ``"sorted"`` for
  many experts.

Tests check both fast paths equal the loop, in values and gradients.

The layer receives its parts (torchtune ``MoE(*, router, experts)`` style) and remembers the last
:class:`~helixmoe.moe.router.RouterOutput` so the aux losses and metrics can be collected after a forward
pass (overwritten on each call, so gradient-checkpoint recomputation is harmless).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from helixmoe.moe.experts import LoRAExpertBank
from helixmoe.moe.router import RouterOutput, TopKRouter

__all__ = ["IMPLEMENTATIONS", "MoELoRALayer", "moe_delta_batched", "moe_delta_dense", "moe_delta_loop"]


def moe_delta_loop(x: torch.Tensor, route: RouterOutput, experts: LoRAExpertBank) -> torch.Tensor:
    """Reference routed update, one masked matmul per (expert, slot).

    Args:
        x: (T, in) features in the experts' dtype.
        route: routing of the T tokens.
        experts: the expert bank.

    Returns:
        (T, out) update Σ_slots w · expert(x).
    """
    out = x.new_zeros(x.shape[0], experts.out_features)  # (T, out)
    for e in range(experts.num_experts):
        for slot in range(route.indices.shape[1]):
            rows = torch.nonzero((route.indices[:, slot] == e) & route.keep[:, slot]).squeeze(1)  # (n,)
            if rows.numel() == 0:
                continue
            w = route.weights[rows, slot, None].to(x.dtype)  # (n, 1)
            out = out.index_add(0, rows, w * experts.expert(x[rows], e))
    return out


def moe_delta_batched(x: torch.Tensor, route: RouterOutput, experts: LoRAExpertBank) -> torch.Tensor:
    """Batched routed update: sort assignments by expert, two ``bmm`` calls, ``index_add`` back.

    Args:
        x: (T, in) features in the experts' dtype.
        route: routing of the T tokens.
        experts: the expert bank.

    Returns:
        (T, out) update, equal to :func:`moe_delta_loop` up to float rounding.
    """
    t, k = route.indices.shape
    n = experts.num_experts
    expert_ids = route.indices.reshape(-1)  # (T*k,)
    weights = route.weights.reshape(-1)  # (T*k,)
    tokens = torch.arange(t, device=x.device).repeat_interleave(k)  # (T*k,)
    if not bool(route.keep.all()):
        kept = torch.nonzero(route.keep.reshape(-1)).squeeze(1)  # (M,)
        expert_ids, weights, tokens = expert_ids[kept], weights[kept], tokens[kept]
    order = torch.argsort(expert_ids, stable=True)  # (M,)
    expert_ids, weights, tokens = expert_ids[order], weights[order], tokens[order]
    counts = torch.bincount(expert_ids, minlength=n)  # (N,)
    starts = counts.cumsum(0) - counts  # (N,)
    slots = torch.arange(expert_ids.numel(), device=x.device) - starts[expert_ids]  # (M,) row in group
    width = int(counts.max()) if expert_ids.numel() else 0
    grouped = x.new_zeros(n, width, x.shape[1])  # (N, C, in)
    grouped = grouped.index_put((expert_ids, slots), x[tokens])
    y = experts.grouped(grouped)[expert_ids, slots]  # (M, out)
    y = y * weights[:, None].to(y.dtype)  # (M, out)
    return x.new_zeros(t, experts.out_features).index_add(0, tokens, y)  # (T, out)


def moe_delta_dense(x: torch.Tensor, route: RouterOutput, experts: LoRAExpertBank) -> torch.Tensor:
    """Dense-combine routed update: all experts' ``A`` at once, combine weights, stacked ``B``.

    Args:
        x: (T, in) features in the experts' dtype.
        route: routing of the T tokens.
        experts: the expert bank.

    Returns:
        (T, out) update, equal to :func:`moe_delta_loop` up to float rounding.
    """
    t, n, r = x.shape[0], experts.num_experts, experts.rank
    combine = x.new_zeros(t, n).scatter_add(
        1, route.indices, route.weights.to(x.dtype)
    )  # (T, N), 0 if unused
    h = x @ experts.A.reshape(n * r, -1).t()  # (T, N*r)
    h = (h.view(t, n, r) * combine[:, :, None]).view(t, n * r)  # (T, N*r) weighted per expert
    b = experts.B.permute(0, 2, 1).reshape(n * r, -1)  # (N*r, out)
    return (h @ b) * experts.scale  # (T, out)


IMPLEMENTATIONS: dict[str, Callable[[torch.Tensor, RouterOutput, LoRAExpertBank], torch.Tensor]] = {
    "loop": moe_delta_loop,
    "sorted": moe_delta_batched,
    "dense": moe_delta_dense,
}


class MoELoRALayer(nn.Module):
    """A frozen linear layer plus a top-k routed bank of LoRA experts.

    Args:
        base: the wrapped ``nn.Linear`` (its parameters are frozen here).
        router: a :class:`TopKRouter` whose ``dim`` is ``base.in_features``.
        experts: a :class:`LoRAExpertBank` matching ``base``'s shape and the router's expert count.
        impl: ``"dense"`` (default), ``"sorted"`` (sparse bmm) or ``"loop"`` (the reference).
    """

    def __init__(
        self, *, base: nn.Linear, router: TopKRouter, experts: LoRAExpertBank, impl: str = "dense"
    ) -> None:
        super().__init__()
        if (experts.in_features, experts.out_features) != (base.in_features, base.out_features):
            raise ValueError("expert bank shape does not match the base linear layer")
        if router.num_experts != experts.num_experts or router.gate.in_features != base.in_features:
            raise ValueError("router does not match the expert bank / base layer")
        if impl not in IMPLEMENTATIONS:
            raise ValueError(f"impl must be one of {sorted(IMPLEMENTATIONS)}, got {impl!r}")
        self.base = base
        self.router = router
        self.experts = experts
        self.impl = impl
        self.last_route: RouterOutput | None = None
        for p in self.base.parameters():
            p.requires_grad_(False)

    @property
    def in_features(self) -> int:
        return self.base.in_features

    @property
    def out_features(self) -> int:
        return self.base.out_features

    @property
    def weight(self) -> torch.Tensor:
        """The base weight, for code that inspects ``module.weight`` (dtype/device probes)."""
        return self.base.weight

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Args: x: (..., in). Returns: (..., out) = base(x) + routed LoRA update."""
        y: torch.Tensor = self.base(x)  # (..., out)
        route = self.router(x)
        self.last_route = route
        h = x.reshape(-1, x.shape[-1]).to(self.experts.dtype)  # (T, in)
        delta = IMPLEMENTATIONS[self.impl](h, route, self.experts)  # (T, out)
        return y + delta.reshape(y.shape).to(y.dtype)  # (..., out)
