"""LoRA expert bank and MoELoRALayer: expert forward, base at init, batched == loop (values and grads)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from helixmoe.moe import (
    LoRAExpertBank,
    MoELoRALayer,
    TopKRouter,
    moe_delta_batched,
    moe_delta_dense,
    moe_delta_loop,
)


def _bank(n=4, din=12, dout=10, r=3, alpha=6.0, seed=0) -> LoRAExpertBank:
    torch.manual_seed(seed)
    bank = LoRAExpertBank(in_features=din, out_features=dout, num_experts=n, rank=r, alpha=alpha)
    nn.init.normal_(bank.B)  # nonzero so the update is visible
    return bank


def test_expert_forward_matches_formula() -> None:
    bank = _bank()
    x = torch.randn(7, 12)
    for e in range(4):
        expected = 2.0 * x @ (bank.B[e] @ bank.A[e]).t()  # alpha / r = 6 / 3
        torch.testing.assert_close(bank.expert(x, e), expected)
    grouped = bank.grouped(x.expand(4, 7, 12).contiguous())
    for e in range(4):
        torch.testing.assert_close(grouped[e], bank.expert(x, e))


def test_b_starts_at_zero_so_layer_equals_base() -> None:
    torch.manual_seed(0)
    base = nn.Linear(12, 10)
    bank = LoRAExpertBank(in_features=12, out_features=10, num_experts=4, rank=3)
    assert torch.count_nonzero(bank.B) == 0 and torch.count_nonzero(bank.A) > 0
    layer = MoELoRALayer(base=base, router=TopKRouter(dim=12, num_experts=4), experts=bank)
    x = torch.randn(2, 5, 12)
    assert torch.equal(layer(x), base(x))
    assert not any(p.requires_grad for p in base.parameters())


def _loop_reference(x, route, bank):
    """Independent per-token reference: Σ_slots w · (α/r) B A x."""
    out = torch.zeros(x.shape[0], bank.out_features)
    for t in range(x.shape[0]):
        for slot in range(route.indices.shape[1]):
            if route.keep[t, slot]:
                e = int(route.indices[t, slot])
                out[t] += route.weights[t, slot] * bank.scale * (bank.B[e] @ (bank.A[e] @ x[t]))
    return out


@pytest.mark.parametrize(
    ("tokens", "n", "k", "cf"),
    [
        (1, 4, 2, None),
        (9, 4, 2, None),
        (33, 8, 2, None),
        (20, 4, 1, None),
        (40, 4, 3, None),
        (64, 4, 2, 0.5),
        (50, 8, 2, 1.0),
        (17, 2, 2, 0.75),
    ],
)
def test_batched_equals_loop(tokens, n, k, cf) -> None:
    bank = _bank(n=n, seed=tokens)
    router = TopKRouter(dim=12, num_experts=n, top_k=k, capacity_factor=cf)
    x = torch.randn(tokens, 12)
    route = router(x)
    if cf is not None and cf < 1:
        assert not route.keep.all()
    loop = moe_delta_loop(x, route, bank)
    torch.testing.assert_close(moe_delta_batched(x, route, bank), loop)
    torch.testing.assert_close(moe_delta_dense(x, route, bank), loop)
    torch.testing.assert_close(loop, _loop_reference(x, route, bank))


def test_fast_paths_and_loop_gradients_match() -> None:
    grads = {}
    for impl in ("loop", "sorted", "dense"):
        torch.manual_seed(3)
        base = nn.Linear(12, 10)
        bank = _bank(seed=3)
        layer = MoELoRALayer(
            base=base, router=TopKRouter(dim=12, num_experts=4, capacity_factor=1.0), experts=bank, impl=impl
        )
        x = torch.randn(3, 11, 12, generator=torch.Generator().manual_seed(4), requires_grad=True)
        layer(x).square().sum().backward()
        grads[impl] = [
            p.grad.clone() for p in (layer.experts.A, layer.experts.B, layer.router.gate.weight, x)
        ]
    for impl in ("sorted", "dense"):
        for a, b in zip(grads["loop"], grads[impl]):
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-4)  # fp32 sums in another order


def test_layer_rejects_mismatched_parts() -> None:
    bank = _bank()
    with pytest.raises(ValueError):
        MoELoRALayer(base=nn.Linear(12, 9), router=TopKRouter(dim=12, num_experts=4), experts=bank)
    with pytest.raises(ValueError):
        MoELoRALayer(base=nn.Linear(12, 10), router=TopKRouter(dim=12, num_experts=3), experts=bank)
    with pytest.raises(ValueError):
        MoELoRALayer(base=nn.Linear(12, 10), router=TopKRouter(dim=12, num_experts=4), experts=bank, impl="x")
