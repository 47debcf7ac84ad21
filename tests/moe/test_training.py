"""Short CPU training runs on synthetic two-domain data: loss falls, load stays balanced, domains separate.

Measured with the plain loop below (the HF-Trainer path is tested in test_trainer.py): at lr 1e-2, 300
steps, 5 seeds, balance_coef 0.1 kept every (layer, expert) share within 16–31% (routing entropy >= 1.377
nats); the Switch default 1e-2 kept it within 15–35% for 3 of 5 seeds, and no balancing loss for 2 of 5.
"""

from __future__ import annotations

import pytest
import torch

from helixmoe.moe import (
    DomainHead,
    MoEConfig,
    RoutingStats,
    collect_aux_losses,
    inject_moe_lora,
    moe_parameters,
    moe_routes,
)


def _train(make_model, make_batch, *, coef: float, steps: int, seed: int, lr: float = 1e-2, head=None):
    """Train MoE-LoRA on mixed batches; returns (model, routing stats of the last 10 steps, losses)."""
    model = make_model(seed=seed)
    model.train()
    inject_moe_lora(model, MoEConfig(layers=2, r=4, balance_coef=coef), seed=seed)
    params = list(moe_parameters(model)) + (list(head.parameters()) if head is not None else [])
    opt = torch.optim.AdamW(params, lr=lr)
    gen = torch.Generator().manual_seed(seed)
    stats, losses = RoutingStats(), []
    for step in range(steps):
        ids, domain = make_batch(gen)
        out = model(ids, labels=ids)
        aux = collect_aux_losses(model, balance_coef=coef, domain_head=head, domain_labels=domain)
        (out.loss + aux.total).backward()
        opt.step()
        opt.zero_grad()
        losses.append(out.loss.item())
        if step >= steps - 10:
            stats.update(moe_routes(model))
    return model, stats, losses


def _eval_loss(model, make_batch) -> float:
    ids, _ = make_batch(torch.Generator().manual_seed(999), batch=32)
    model.eval()
    with torch.no_grad():
        return float(model(ids, labels=ids).loss)


def test_short_training_lowers_loss(make_model, make_batch) -> None:
    before = _eval_loss(make_model(seed=0), make_batch)
    model, _, losses = _train(make_model, make_batch, coef=1e-2, steps=100, seed=0)
    after = _eval_loss(model, make_batch)
    assert after < before - 0.2, (before, after)
    assert sum(losses[-10:]) < sum(losses[:10])


def test_balance_and_entropy_on_mixed_domains(make_model, make_batch) -> None:
    _, balanced, _ = _train(make_model, make_batch, coef=0.1, steps=300, seed=1)
    m = balanced.summary()
    assert m["moe/usage_min"] >= 0.15 and m["moe/usage_max"] <= 0.35, m
    assert m["moe/routing_entropy"] > 1.0, m
    # The same run without the balancing loss drifts further from even load.
    _, free, _ = _train(make_model, make_batch, coef=0.0, steps=300, seed=1)
    f = free.summary()
    assert f["moe/usage_max"] - f["moe/usage_min"] > m["moe/usage_max"] - m["moe/usage_min"]
    assert f["moe/balance_loss"] > m["moe/balance_loss"]


def test_domain_head_learns_domains(make_model, make_batch) -> None:
    head = DomainHead(in_features=6 * 4, num_domains=2)
    model, _, _ = _train(make_model, make_batch, coef=1e-2, steps=60, seed=0, head=head)
    ids, domain = make_batch(torch.Generator().manual_seed(5), batch=64)
    model.eval()
    with torch.no_grad():
        model(ids)
        aux = collect_aux_losses(model, domain_head=head, domain_labels=domain)
    assert aux.domain_accuracy is not None and aux.domain_accuracy >= 0.9


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4])
def test_balance_holds_across_seeds(make_model, make_batch, seed) -> None:
    _, stats, _ = _train(make_model, make_batch, coef=0.1, steps=300, seed=seed)
    m = stats.summary()
    assert m["moe/usage_min"] >= 0.15 and m["moe/usage_max"] <= 0.35 and m["moe/routing_entropy"] > 1.0, m
