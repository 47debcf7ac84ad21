"""A bank of N LoRA experts for one linear layer.

Owns :class:`LoRAExpertBank`: parameters ``A`` (N, r, in) and ``B`` (N, out, r) with scale α/r, so expert
e maps x to (α/r) · B_e A_e x. ``B`` starts at zero (as in LoRA, Hu et al. 2021), so an injected model
computes exactly the base model until training moves it; ``A`` gets PEFT's Kaiming-uniform init per expert.

Hand-written: PEFT adapts a layer with one LoRA at a time (or X-LoRA's dense mixture); a stacked bank that
a top-k router can index is not offered by any maintained library.
"""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["LoRAExpertBank"]


class LoRAExpertBank(nn.Module):
    """N low-rank experts sharing one input and output size.

    Args:
        in_features: input size of the adapted linear layer.
        out_features: output size of the adapted linear layer.
        num_experts: N.
        rank: LoRA rank r.
        alpha: LoRA alpha; the update is scaled by alpha / rank.
        dtype: parameter dtype (fp32 by default, also under a bf16 base, as PEFT does for adapters).
    """

    def __init__(
        self,
        *,
        in_features: int,
        out_features: int,
        num_experts: int,
        rank: int = 16,
        alpha: float = 32.0,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        super().__init__()
        if min(in_features, out_features, num_experts, rank) < 1:
            raise ValueError("in_features, out_features, num_experts and rank must be >= 1")
        self.in_features = in_features
        self.out_features = out_features
        self.num_experts = num_experts
        self.rank = rank
        self.alpha = float(alpha)
        self.scale = self.alpha / rank
        self.A = nn.Parameter(torch.empty(num_experts, rank, in_features, dtype=dtype))
        self.B = nn.Parameter(torch.zeros(num_experts, out_features, rank, dtype=dtype))
        for e in range(num_experts):
            nn.init.kaiming_uniform_(self.A.data[e], a=math.sqrt(5))

    @property
    def dtype(self) -> torch.dtype:
        return self.A.dtype

    def expert(self, x: torch.Tensor, e: int) -> torch.Tensor:
        """Apply expert ``e`` to every row.

        Args:
            x: (T, in) features.
            e: expert id.

        Returns:
            (T, out) = (α/r) · x A_eᵀ B_eᵀ.
        """
        return (x @ self.A[e].t()) @ self.B[e].t() * self.scale  # (T, r) -> (T, out)

    def grouped(self, x: torch.Tensor) -> torch.Tensor:
        """Apply expert e to group e, all experts in two batched matmuls.

        Args:
            x: (N, C, in) tokens grouped by expert (C rows per expert, zero-padded).

        Returns:
            (N, C, out) expert outputs.
        """
        h = torch.bmm(x, self.A.transpose(1, 2))  # (N, C, r)
        return torch.bmm(h, self.B.transpose(1, 2)) * self.scale  # (N, C, out)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"num_experts={self.num_experts}, rank={self.rank}, alpha={self.alpha}"
        )
