"""Router input centering from a calibration batch (see :class:`~helixmoe.moe.router.TopKRouter`).

Owns :func:`calibrate_routers`: one forward pass with hooks on every :class:`MoELoRALayer` records the
mean router input over the real (non-padding) tokens and stores it as that router's ``center``. Run it once
after injection, before training; a resumed or loaded model gets ``center`` back from its saved weights.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from helixmoe.moe.inject import moe_layers

__all__ = ["calibrate_routers"]


@torch.no_grad()
def calibrate_routers(
    model: nn.Module,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor | None = None,
    **forward_kwargs: Any,
) -> dict[str, float]:
    """Set each MoE router's ``center`` to its mean input over a calibration batch.

    Args:
        model: an injected model.
        input_ids: (B, S) calibration tokens (a training batch).
        attention_mask: optional (B, S) mask; padding positions are left out of the mean.
        **forward_kwargs: passed to ``model(...)``.

    Returns:
        Module name -> norm of the centre found (for logging).

    Raises:
        ValueError: the model has no MoE layers.
    """
    layers = moe_layers(model)
    if not layers:
        raise ValueError("no MoE layers to calibrate: inject_moe_lora first")
    sums: dict[str, torch.Tensor] = {}
    keep = None if attention_mask is None else attention_mask.reshape(-1).bool()  # (B*S,)

    def hook(name: str) -> Any:
        def record(module: nn.Module, args: tuple[torch.Tensor, ...]) -> None:
            x = args[0].reshape(-1, args[0].shape[-1]).float()  # (B*S, D)
            sums[name] = (x if keep is None else x[keep.to(x.device)]).mean(0)  # (D,)

        return record

    handles = [layer.register_forward_pre_hook(hook(name)) for name, layer in layers.items()]
    was_training = model.training
    try:
        for layer in layers.values():
            layer.router.center.zero_()
        model.eval()
        model(input_ids=input_ids, attention_mask=attention_mask, **forward_kwargs)
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    for name, layer in layers.items():
        layer.router.center.copy_(sums[name])
    return {name: float(c.norm()) for name, c in sums.items()}
