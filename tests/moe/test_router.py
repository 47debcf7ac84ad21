"""TopKRouter: top-k choice, renormalisation, fp32, jitter, capacity and dropped-token accounting."""

from __future__ import annotations

import math

import pytest
import torch

from helixmoe.moe import TopKRouter
from helixmoe.moe.router import capacity_keep_mask


def _router(**kw) -> TopKRouter:
    torch.manual_seed(0)
    return TopKRouter(dim=8, num_experts=4, **kw)


def test_picks_top_k_and_renormalises() -> None:
    router = _router(top_k=2)
    x = torch.randn(5, 3, 8)
    out = router(x)
    assert out.lead_shape == (5, 3)
    assert out.probs.shape == (15, 4) and out.indices.shape == (15, 2)
    expected = torch.softmax(x.reshape(15, 8) @ router.gate.weight.t(), dim=-1)
    torch.testing.assert_close(out.probs, expected)
    sorted_idx = expected.argsort(dim=-1, descending=True)[:, :2]
    assert torch.equal(out.indices, sorted_idx)
    top = expected.gather(1, sorted_idx)
    torch.testing.assert_close(out.weights, top / top.sum(-1, keepdim=True))
    torch.testing.assert_close(out.weights.sum(-1), torch.ones(15))
    assert out.keep.all() and float(out.dropped_fraction) == 0.0


def test_top1_weight_is_one_and_fp32_under_bf16_input() -> None:
    router = _router(top_k=1)
    out = router(torch.randn(6, 8, dtype=torch.bfloat16))
    assert out.logits.dtype == torch.float32 and out.probs.dtype == torch.float32
    assert torch.equal(out.weights, torch.ones(6, 1))


def test_jitter_only_in_training() -> None:
    router = _router(jitter=0.1)
    x = torch.randn(32, 8)
    router.eval()
    assert torch.equal(router(x).logits, router(x).logits)
    router.train()
    torch.manual_seed(1)
    noisy = router(x).logits
    assert not torch.equal(noisy, router.eval()(x).logits)
    # multiplicative noise within ±10% of each input feature keeps logits close
    assert (noisy - router(x).logits).abs().max() < 0.5 * router(x).logits.abs().max()


def test_capacity_mask_hand_example() -> None:
    # 4 tokens, top-2, 3 experts, capacity 2: first choices are served before second choices.
    indices = torch.tensor([[0, 1], [0, 2], [0, 1], [1, 0]])
    keep = capacity_keep_mask(indices, 3, 2)
    # slot 0: experts 0,0,0,1 -> third 0 dropped; slot 1: 1,2,1,0 -> expert 1 gets 2 (1 from slot 0 + first
    # of slot 1), second slot-1 choice of expert 1 dropped; expert 0 is full.
    expected = torch.tensor([[True, True], [True, True], [False, False], [True, False]])
    assert torch.equal(keep, expected)


def test_capacity_factor_drops_and_accounts() -> None:
    router = _router(top_k=2, capacity_factor=0.5)
    out = router(torch.randn(64, 8))
    cap = math.ceil(0.5 * 64 * 2 / 4)
    assert router.capacity(64) == cap
    for e in range(4):
        assert int(((out.indices == e) & out.keep).sum()) <= cap
    assert float(out.dropped_fraction) >= 0.5  # at most 4*cap = 64 of 128 assignments fit
    assert torch.equal(out.weights == 0, ~out.keep)


@pytest.mark.parametrize("kw", [{"top_k": 5}, {"top_k": 0}, {"jitter": -1.0}, {"capacity_factor": 0.0}])
def test_bad_arguments(kw) -> None:
    with pytest.raises(ValueError):
        TopKRouter(dim=8, num_experts=4, **kw)


def test_center_removes_a_shared_direction() -> None:
    # Inputs dominated by one shared vector: a random gate sends every token to the same experts ...
    router = _router(top_k=2)
    gen = torch.Generator().manual_seed(1)
    common = 20.0 * torch.randn(8, generator=gen)
    x = common + torch.randn(256, 8, generator=gen)
    collapsed = router(x).indices
    assert collapsed[:, 0].unique().numel() == 1
    # ... centring on the mean input routes by the per-token variation instead.
    router.center.copy_(x.mean(0))
    spread = torch.bincount(router(x).indices.reshape(-1), minlength=4) / 512
    assert spread.min() > 0.1
    assert "center" in router.state_dict()
