"""Balancing and z-loss on hand-computed examples; collection across layers; metrics; domain head."""

from __future__ import annotations

import math

import pytest
import torch

from helixmoe.moe import (
    DomainHead,
    MoEConfig,
    RouterOutput,
    RoutingStats,
    collect_aux_losses,
    inject_moe_lora,
    load_balancing_loss,
    moe_routes,
    router_z_loss,
    routing_metrics,
)

PROBS = torch.tensor([[0.8, 0.2], [0.6, 0.4], [0.3, 0.7], [0.9, 0.1]])


def test_balancing_loss_hand_example() -> None:
    indices = torch.tensor([[0], [0], [1], [0]])
    # f = (3/4, 1/4), P = (0.65, 0.35): N Σ f P = 2 (0.4875 + 0.0875) = 1.15
    assert float(load_balancing_loss(PROBS, indices)) == pytest.approx(1.15)
    mask = torch.tensor([True, False, True, False])
    # tokens 0 and 2: f = (1/2, 1/2), P = (0.55, 0.45): 2 (0.275 + 0.225) = 1.0
    assert float(load_balancing_loss(PROBS, indices, mask)) == pytest.approx(1.0)


def test_balancing_loss_uniform_is_one_and_collapse_is_n() -> None:
    uniform = torch.full((8, 4), 0.25)
    indices = torch.arange(8).remainder(4)[:, None]
    assert float(load_balancing_loss(uniform, indices)) == pytest.approx(1.0)
    collapsed = torch.tensor([[1.0, 0, 0, 0]]).repeat(8, 1)
    assert float(load_balancing_loss(collapsed, torch.zeros(8, 2, dtype=torch.long))) == pytest.approx(4.0)


def test_balancing_loss_top2_counts_both_slots() -> None:
    indices = torch.tensor([[0, 1], [0, 1], [1, 0], [0, 1]])  # every expert gets half the assignments
    assert float(load_balancing_loss(PROBS, indices)) == pytest.approx(2 * (0.5 * 0.65 + 0.5 * 0.35))


def test_z_loss_hand_example() -> None:
    logits = torch.tensor([[0.0, 0.0], [math.log(3.0), 0.0]])
    # logsumexp = ln 2 and ln 4 = 2 ln 2 -> mean of squares = (1 + 4) / 2 · (ln 2)²
    assert float(router_z_loss(logits)) == pytest.approx(2.5 * math.log(2.0) ** 2)
    assert float(router_z_loss(logits, torch.tensor([True, False]))) == pytest.approx(math.log(2.0) ** 2)


def _route(probs: torch.Tensor, indices: torch.Tensor) -> RouterOutput:
    logits = probs.log()
    return RouterOutput(
        torch.ones_like(indices, dtype=torch.float),
        indices,
        logits,
        probs,
        torch.ones_like(indices, dtype=torch.bool),
        (probs.shape[0],),
    )


def test_metrics_hand_example() -> None:
    route = _route(PROBS, torch.tensor([[0], [0], [1], [0]]))
    m = routing_metrics([route])
    assert m["moe/usage_0"] == pytest.approx(0.75) and m["moe/usage_1"] == pytest.approx(0.25)
    assert m["moe/routing_entropy"] == pytest.approx(-(0.75 * math.log(0.75) + 0.25 * math.log(0.25)))
    h = [-(p * math.log(p) + (1 - p) * math.log(1 - p)) for p in (0.8, 0.6, 0.3, 0.9)]
    assert m["moe/token_entropy"] == pytest.approx(sum(h) / 4, rel=1e-5)
    assert m["moe/balance_loss"] == pytest.approx(1.15)
    assert m["moe/dropped_fraction"] == 0.0
    assert (m["moe/usage_min"], m["moe/usage_max"]) == (pytest.approx(0.25), pytest.approx(0.75))


def test_stats_accumulate_over_steps_and_count_drops() -> None:
    stats = RoutingStats()
    stats.update([_route(PROBS, torch.tensor([[0], [0], [0], [0]]))])
    r = _route(PROBS, torch.tensor([[1], [1], [1], [1]]))
    r.keep = torch.tensor([[True], [True], [False], [False]])
    stats.update([r])
    m = stats.summary()
    assert m["moe/usage_0"] == pytest.approx(0.5) and m["moe/routing_entropy"] == pytest.approx(math.log(2))
    assert m["moe/dropped_fraction"] == pytest.approx(2 / 8)


def test_collect_over_layers_and_domain_head(tiny_model) -> None:
    with pytest.raises(ValueError, match="no MoE routes"):
        collect_aux_losses(tiny_model)
    inject_moe_lora(tiny_model, MoEConfig(layers=2, r=4, targets=["gate_proj", "down_proj"]))
    ids = torch.randint(0, 64, (3, 8), generator=torch.Generator().manual_seed(0))
    mask = torch.ones(3, 8, dtype=torch.long)
    mask[0, 5:] = 0
    tiny_model(ids, attention_mask=mask)
    routes = moe_routes(tiny_model)
    assert len(routes) == 4 and all(r.lead_shape == (3, 8) for r in routes)
    keep = mask.reshape(-1).bool()
    expected_b = sum(float(load_balancing_loss(r.probs.detach(), r.indices, keep)) for r in routes) / 4
    expected_z = sum(float(router_z_loss(r.logits.detach(), keep)) for r in routes) / 4
    head = DomainHead(in_features=4 * 4, num_domains=2)
    labels = torch.tensor([0, 1, 1])
    aux = collect_aux_losses(
        tiny_model,
        attention_mask=mask,
        balance_coef=0.5,
        z_coef=0.25,
        domain_head=head,
        domain_labels=labels,
        domain_coef=2.0,
    )
    assert float(aux.balance.detach()) == pytest.approx(expected_b, rel=1e-5)
    assert float(aux.z.detach()) == pytest.approx(expected_z, rel=1e-5)
    assert float(aux.total.detach()) == pytest.approx(
        0.5 * expected_b + 0.25 * expected_z + 2.0 * float(aux.domain.detach()), rel=1e-5
    )
    aux.total.backward()
    assert all(layer_param.grad is not None for layer_param in head.parameters())
    gate = next(m for m in tiny_model.modules() if hasattr(m, "router")).router.gate.weight
    assert gate.grad is not None and gate.grad.abs().sum() > 0
