"""calibrate_routers: centres are the masked mean router inputs; saved and restored with the weights."""

from __future__ import annotations

import pytest
import torch

from helixmoe.moe import MoEConfig, calibrate_routers, inject_moe_lora, load_moe, moe_layers, save_moe


def test_centres_are_masked_mean_inputs(make_model, tmp_path) -> None:
    model = make_model()
    with pytest.raises(ValueError, match="inject"):
        calibrate_routers(model, torch.zeros(1, 4, dtype=torch.long))
    config = MoEConfig(layers=2, r=2)
    inject_moe_lora(model, config)
    ids = torch.randint(0, 64, (3, 10), generator=torch.Generator().manual_seed(0))
    mask = torch.ones(3, 10, dtype=torch.long)
    mask[1, 6:] = 0
    seen = {}
    layer = moe_layers(model)["model.layers.1.mlp.down_proj"]
    handle = layer.register_forward_pre_hook(lambda m, a: seen.__setitem__("x", a[0].detach()))
    norms = calibrate_routers(model, ids, mask)
    handle.remove()
    assert set(norms) == set(moe_layers(model))
    expected = seen["x"].reshape(30, -1)[mask.reshape(-1).bool()].mean(0)
    torch.testing.assert_close(layer.router.center, expected)
    save_moe(model, tmp_path, config)
    fresh = make_model()
    load_moe(fresh, tmp_path)
    torch.testing.assert_close(moe_layers(fresh)["model.layers.1.mlp.down_proj"].router.center, expected)
