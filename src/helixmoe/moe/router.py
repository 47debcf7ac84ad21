"""Top-k token router for the mixture of LoRA experts.

Owns :class:`TopKRouter` and its output record :class:`RouterOutput`. The router is a bias-free linear gate
computed in fp32 (router logits are numerically sensitive, ST-MoE §2.2), a softmax over the N experts, the
top-k choice with weights renormalised to sum to one, optional multiplicative input jitter during training
(Switch Transformer, Fedus et al. 2021, §2.4) and an optional expert capacity with dropped-assignment
accounting (GShard/Switch: capacity = ceil(capacity_factor · T · k / N), first choices take priority over
second choices, then earlier tokens over later ones).

The router subtracts a fixed ``center`` (a buffer, zero by default) from its input before the gate.
Hidden states of trained LMs share a dominant common direction (on the tiny base, each token's MLP input
is almost parallel to the mean input), so a random gate sends *every* token to the same top-k experts at
initialisation and the balancing loss must first undo that collapse. :func:`helixmoe.moe.calibrate_routers`
sets ``center`` to the mean router input over a calibration batch, so routing starts from the per-token
variation instead; it is equivalent to a gate bias tied to ``-W·center`` and is saved with the weights.

Hand-written: no maintained library offers this router for LoRA experts inside an HF model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["RouterOutput", "TopKRouter", "capacity_keep_mask"]


@dataclass
class RouterOutput:
    """What one routing call decided, kept for the layer, the aux losses and the metrics.

    Attributes:
        weights: (T, k) fp32 combine weights; renormalised top-k probabilities, zero where dropped.
        indices: (T, k) long expert ids, best first.
        logits: (T, N) fp32 router logits (for the z-loss and the domain head).
        probs: (T, N) fp32 softmax of ``logits`` (for the balancing loss and entropy).
        keep: (T, k) bool, False where the assignment exceeded the expert capacity.
        lead_shape: leading shape of the routed input (e.g. ``(B, S)``) so per-example pooling works.
    """

    weights: torch.Tensor
    indices: torch.Tensor
    logits: torch.Tensor
    probs: torch.Tensor
    keep: torch.Tensor
    lead_shape: tuple[int, ...] = ()

    @property
    def num_experts(self) -> int:
        return self.probs.shape[-1]

    @property
    def dropped_fraction(self) -> torch.Tensor:
        """Fraction of the T·k assignments dropped by the capacity limit (0-dim tensor)."""
        return 1.0 - self.keep.float().mean()


def capacity_keep_mask(indices: torch.Tensor, num_experts: int, capacity: int) -> torch.Tensor:
    """Which top-k assignments fit in each expert's capacity.

    Priority order is slot-major: every token's first choice is served before any second choice, and within
    a slot earlier tokens come first (as in GShard and Switch Transformer).

    Args:
        indices: (T, k) expert ids.
        num_experts: N.
        capacity: maximum assignments per expert.

    Returns:
        (T, k) bool mask, True where the assignment is kept.
    """
    t, k = indices.shape
    slot_major = indices.t().reshape(-1)  # (k*T,) slot 0 for all tokens, then slot 1, ...
    one_hot = F.one_hot(slot_major, num_experts)  # (k*T, N)
    position = (one_hot.cumsum(0) - 1).gather(1, slot_major[:, None]).squeeze(1)  # (k*T,) rank in expert
    keep = position < capacity  # (k*T,)
    return keep.reshape(k, t).t()  # (T, k)


class TopKRouter(nn.Module):
    """Softmax top-k router over ``num_experts`` experts, computed in fp32.

    Args:
        dim: input feature size D.
        num_experts: number of experts N (>= 2).
        top_k: experts per token k (1 <= k <= N).
        jitter: multiplicative input noise ε; in training the input is scaled by U(1-ε, 1+ε). 0 disables.
        capacity_factor: if set, each expert takes at most ceil(cf · T · k / N) assignments per call and the
            rest are dropped (their weight is zero: the token keeps only the base output for that slot).
    """

    center: torch.Tensor

    def __init__(
        self,
        *,
        dim: int,
        num_experts: int,
        top_k: int = 2,
        jitter: float = 0.0,
        capacity_factor: float | None = None,
    ) -> None:
        super().__init__()
        if num_experts < 2 or not 1 <= top_k <= num_experts:
            raise ValueError(
                f"need num_experts >= 2 and 1 <= top_k <= num_experts, got {num_experts}, {top_k}"
            )
        if jitter < 0 or (capacity_factor is not None and capacity_factor <= 0):
            raise ValueError(f"jitter must be >= 0 and capacity_factor > 0, got {jitter}, {capacity_factor}")
        self.num_experts = num_experts
        self.top_k = top_k
        self.jitter = jitter
        self.capacity_factor = capacity_factor
        # Kept in fp32 even when the base model is bf16: softmax over logits is precision-sensitive.
        self.gate = nn.Linear(dim, num_experts, bias=False, dtype=torch.float32)
        nn.init.normal_(self.gate.weight, std=dim**-0.5)
        self.register_buffer("center", torch.zeros(dim, dtype=torch.float32))

    def capacity(self, num_tokens: int) -> int | None:
        """Assignments each expert may take for ``num_tokens`` tokens, or None when unlimited."""
        if self.capacity_factor is None:
            return None
        return math.ceil(self.capacity_factor * num_tokens * self.top_k / self.num_experts)

    def forward(self, x: torch.Tensor) -> RouterOutput:
        """Route each row of ``x``.

        Args:
            x: (..., D) token features; all leading dims are flattened into T tokens.

        Returns:
            The :class:`RouterOutput` for the T tokens.
        """
        lead_shape = tuple(x.shape[:-1])
        h = x.reshape(-1, x.shape[-1]).float() - self.center  # (T, D)
        if self.training and self.jitter > 0:
            h = h * torch.empty_like(h).uniform_(1.0 - self.jitter, 1.0 + self.jitter)
        logits = self.gate(h)  # (T, N)
        probs = logits.softmax(dim=-1)  # (T, N)
        top_p, indices = probs.topk(self.top_k, dim=-1)  # (T, k), (T, k)
        weights = top_p / top_p.sum(dim=-1, keepdim=True)  # (T, k) renormalised
        cap = self.capacity(h.shape[0])
        if cap is None:
            keep = torch.ones_like(indices, dtype=torch.bool)
        else:
            keep = capacity_keep_mask(indices, self.num_experts, cap)
            weights = weights * keep
        return RouterOutput(weights, indices, logits, probs, keep, lead_shape)

    def extra_repr(self) -> str:
        return (
            f"num_experts={self.num_experts}, top_k={self.top_k}, jitter={self.jitter}, "
            f"capacity_factor={self.capacity_factor}"
        )
