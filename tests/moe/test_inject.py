"""Injection into a tiny Qwen3: which layers, frozen base, trainable MoE only, save/load exact."""

from __future__ import annotations

import json

import pytest
import torch

from helixmoe.errors import ConfigError, SystemLoadError
from helixmoe.moe import (
    DomainHead,
    MoEConfig,
    MoELoRALayer,
    inject_moe_lora,
    load_moe,
    moe_layers,
    moe_parameters,
    save_moe,
)


def test_defaults_match_design() -> None:
    c = MoEConfig()
    assert (c.num_experts, c.top_k, c.layers, c.r, c.alpha) == (4, 2, 4, 16, 32.0)
    assert (c.balance_coef, c.z_coef) == (1e-2, 1e-3)


def test_wraps_last_layers_and_freezes_base(make_model) -> None:
    model = make_model(layers=3)
    ids = torch.randint(0, 64, (2, 9), generator=torch.Generator().manual_seed(0))
    before = model(ids).logits
    names = inject_moe_lora(model, MoEConfig(layers=2, r=4))
    assert names == [
        f"model.layers.{i}.mlp.{p}" for i in (1, 2) for p in ("gate_proj", "up_proj", "down_proj")
    ]
    assert not isinstance(model.model.layers[0].mlp.gate_proj, MoELoRALayer)
    trainable = {id(p) for p in model.parameters() if p.requires_grad}
    assert trainable == {id(p) for p in moe_parameters(model)}
    per_layer = 4 * (32 + 4 * 32 + 64 * 4) * 2 + 4 * (64 + 4 * 64 + 32 * 4)  # gate+up, down
    assert len(trainable) == 18 and sum(p.numel() for p in moe_parameters(model)) == 2 * per_layer
    torch.testing.assert_close(model(ids).logits, before)  # B = 0: the base model, exactly
    model.train()
    out = model(ids, labels=ids)
    out.loss.backward()
    assert all(p.grad is None for p in model.parameters() if not p.requires_grad)
    assert all(layer.experts.B.grad.abs().sum() > 0 for layer in moe_layers(model).values())


def test_explicit_layer_indices_and_errors(make_model) -> None:
    model = make_model(layers=3)
    names = inject_moe_lora(model, MoEConfig(layers=[0, -1], targets=["up_proj"], r=2))
    assert names == ["model.layers.0.mlp.up_proj", "model.layers.2.mlp.up_proj"]
    with pytest.raises(ConfigError, match="already"):
        inject_moe_lora(model, MoEConfig())
    with pytest.raises(ConfigError, match="only 3"):
        inject_moe_lora(make_model(layers=3), MoEConfig(layers=4))
    with pytest.raises(ConfigError, match="out of range"):
        inject_moe_lora(make_model(layers=3), MoEConfig(layers=[5]))
    with pytest.raises(ConfigError, match="nope_proj"):
        inject_moe_lora(make_model(), MoEConfig(layers=1, targets=["nope_proj"]))


def test_same_seed_same_init(make_model) -> None:
    a, b = make_model(), make_model()
    inject_moe_lora(a, MoEConfig(layers=1), seed=7)
    inject_moe_lora(b, MoEConfig(layers=1), seed=7)
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert ka == kb and torch.equal(va, vb)


def _perturb(model) -> None:
    with torch.no_grad():
        for p in moe_parameters(model):
            p.add_(torch.randn(p.shape, generator=torch.Generator().manual_seed(p.numel())))


def test_save_load_exact(tmp_path, make_model) -> None:
    config = MoEConfig(layers=2, r=4, num_experts=3, top_k=2, capacity_factor=1.5)
    model = make_model(seed=1)
    inject_moe_lora(model, config)
    _perturb(model)
    head = DomainHead(in_features=6 * 3, num_domains=2)
    save_moe(model, tmp_path / "moe", config, extra={"domain_head": head}, info={"domains": ["a", "b"]})
    assert sorted(p.name for p in (tmp_path / "moe").iterdir()) == [
        "moe_config.json",
        "moe_model.safetensors",
    ]
    meta = json.loads((tmp_path / "moe" / "moe_config.json").read_text())
    assert meta["config"]["num_experts"] == 3 and meta["info"] == {"domains": ["a", "b"]}
    assert meta["extra"]["domain_head"]["proj.weight"] == [2, 18]

    fresh = make_model(seed=1)  # same base weights, no MoE yet
    head2 = DomainHead(in_features=6 * 3, num_domains=2)
    loaded = load_moe(fresh, tmp_path / "moe", extra={"domain_head": head2})
    assert loaded == config
    for (ka, va), (kb, vb) in zip(model.state_dict().items(), fresh.state_dict().items()):
        assert ka == kb and torch.equal(va, vb), ka
    assert all(torch.equal(a, b) for a, b in zip(head.state_dict().values(), head2.state_dict().values()))
    ids = torch.randint(0, 64, (2, 7), generator=torch.Generator().manual_seed(0))
    assert torch.equal(model(ids).logits, fresh(ids).logits)


def test_load_errors(tmp_path, make_model) -> None:
    with pytest.raises(SystemLoadError, match="missing MoE config"):
        load_moe(make_model(), tmp_path)
    config = MoEConfig(layers=1, r=2)
    model = make_model()
    inject_moe_lora(model, config)
    save_moe(model, tmp_path, config)
    other = make_model()
    inject_moe_lora(other, MoEConfig(layers=2, r=2))
    with pytest.raises(SystemLoadError, match="do not match"):
        load_moe(other, tmp_path)
    (tmp_path / "moe_model.safetensors").write_bytes(b"garbage")
    with pytest.raises(SystemLoadError, match="cannot read"):
        load_moe(make_model(), tmp_path)
    (tmp_path / "moe_config.json").write_text("{not json")
    with pytest.raises(SystemLoadError, match="invalid MoE config"):
        load_moe(make_model(), tmp_path)


def test_gradient_checkpointing_keeps_router_gradients(make_model) -> None:
    from helixmoe.moe import collect_aux_losses

    grads = []
    for checkpointing in (False, True):
        model = make_model(seed=2)
        inject_moe_lora(model, MoEConfig(layers=2, r=2), seed=2)
        _perturb(model)
        if checkpointing:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        model.train()
        ids = torch.randint(0, 64, (2, 9), generator=torch.Generator().manual_seed(1))
        loss = model(ids, labels=ids).loss + collect_aux_losses(model, balance_coef=1.0).total
        loss.backward()
        grads.append([p.grad.clone() for p in moe_parameters(model)])
    for a, b in zip(*grads):
        assert a.abs().sum() > 0
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)


def test_llama_style_model_too() -> None:
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    cfg = LlamaConfig(
        vocab_size=50,
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=32,
    )
    model = LlamaForCausalLM(cfg).eval()
    ids = torch.randint(0, 50, (1, 6), generator=torch.Generator().manual_seed(0))
    before = model(ids).logits
    names = inject_moe_lora(model, MoEConfig(layers=1, r=2))
    assert names == [f"model.layers.1.mlp.{p}" for p in ("gate_proj", "up_proj", "down_proj")]
    torch.testing.assert_close(model(ids).logits, before)


def test_moe_layer_does_not_import_the_training_layer() -> None:
    """helixmoe.moe is layer 1 (tensors); the trainer built on it lives in helixmoe.training (layer 2)."""
    import subprocess
    import sys

    code = (
        "import sys, pkgutil, importlib, helixmoe.moe as m\n"
        "for info in pkgutil.iter_modules(m.__path__): importlib.import_module('helixmoe.moe.' + info.name)\n"
        "sys.exit('helixmoe.training' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
