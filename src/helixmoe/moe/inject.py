"""Injection of MoE-LoRA layers into an HF causal LM, and their save/load.

Owns :func:`inject_moe_lora` (wrap ``mlp.<target>`` linear layers of the last L decoder layers of any
Qwen3/Llama-style model in :class:`~helixmoe.moe.layer.MoELoRALayer` and freeze everything else),
:func:`moe_parameters`, :func:`moe_state_dict`, and the on-disk format written by :func:`save_moe` and read
by :func:`load_moe`: a directory with ``moe_config.json`` (the resolved :class:`MoEConfig` plus the wrapped
module names) and ``moe_model.safetensors`` (router gates and expert banks, plus an optional domain head).
Both files are written atomically (temp file in the same directory, then ``os.replace``).

Hand-written: PEFT has no tuner for a top-k routed mixture of LoRA experts (X-LoRA mixes densely).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from helixmoe.atomic import atomic_path, read_json
from helixmoe.config.moe import MoEConfig
from helixmoe.errors import ConfigError, SystemLoadError
from helixmoe.moe.experts import LoRAExpertBank
from helixmoe.moe.layer import MoELoRALayer
from helixmoe.moe.router import TopKRouter

__all__ = [
    "CONFIG_NAME",
    "WEIGHTS_NAME",
    "decoder_layers",
    "inject_moe_lora",
    "load_moe",
    "moe_layers",
    "moe_parameters",
    "moe_state_dict",
    "save_moe",
]

log = logging.getLogger(__name__)

CONFIG_NAME = "moe_config.json"
WEIGHTS_NAME = "moe_model.safetensors"
FORMAT_VERSION = 1


def decoder_layers(model: nn.Module) -> nn.ModuleList:
    """The decoder-layer list of an HF causal LM: the longest ``ModuleList`` whose blocks have an ``mlp``.

    Works for ``model.model.layers`` (Qwen, Llama, Mistral, Gemma) and PEFT-wrapped models alike.

    Raises:
        ConfigError: no such list exists.
    """
    best: nn.ModuleList | None = None
    for module in model.modules():
        if isinstance(module, nn.ModuleList) and len(module) and all(hasattr(b, "mlp") for b in module):
            best = module if best is None or len(module) > len(best) else best
    if best is None:
        raise ConfigError(f"{type(model).__name__} has no decoder layers with an 'mlp' block to adapt")
    return best


def _layer_indices(n_layers: int, layers: int | list[int]) -> list[int]:
    if isinstance(layers, int):
        if layers > n_layers:
            raise ConfigError(f"moe.layers={layers} but the model has only {n_layers} decoder layers")
        return list(range(n_layers - layers, n_layers))
    out = []
    for i in layers:
        if not -n_layers <= i < n_layers:
            raise ConfigError(f"moe.layers index {i} out of range for {n_layers} decoder layers")
        out.append(i % n_layers)
    return sorted(set(out))


def _wrap(linear: nn.Linear, config: MoEConfig) -> MoELoRALayer:
    device = linear.weight.device
    router = TopKRouter(
        dim=linear.in_features,
        num_experts=config.num_experts,
        top_k=config.top_k,
        jitter=config.jitter,
        capacity_factor=config.capacity_factor,
    ).to(device)
    experts = LoRAExpertBank(
        in_features=linear.in_features,
        out_features=linear.out_features,
        num_experts=config.num_experts,
        rank=config.r,
        alpha=config.alpha,
    ).to(device)
    return MoELoRALayer(base=linear, router=router, experts=experts, impl=config.impl)


def inject_moe_lora(model: nn.Module, config: MoEConfig | None = None, *, seed: int = 0) -> list[str]:
    """Wrap the MLP projections of the chosen decoder layers in MoE-LoRA layers; freeze the base.

    Args:
        model: an HF causal LM (or any model with decoder blocks that have an ``mlp``).
        config: what to inject (default :class:`MoEConfig`: 4 experts, top-2, last 4 layers, r=16, α=32).
        seed: seed of the router and expert initialisation (the global RNG is left untouched).

    Returns:
        The dotted names of the wrapped modules, in model order.

    Raises:
        ConfigError: the model is already injected, a layer index is out of range, or a target is missing
            or not an ``nn.Linear``.
    """
    config = config or MoEConfig()
    if moe_layers(model):
        raise ConfigError("model already has MoE-LoRA layers; inject once")
    blocks = decoder_layers(model)
    indices = _layer_indices(len(blocks), config.layers)
    for p in model.parameters():
        p.requires_grad_(False)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for i in indices:
            mlp = blocks[i].mlp
            for target in config.targets:
                linear = getattr(mlp, target, None)
                if not isinstance(linear, nn.Linear):
                    raise ConfigError(
                        f"decoder layer {i}: mlp.{target} is {type(linear).__name__}, not nn.Linear"
                    )
                setattr(mlp, target, _wrap(linear, config))
    names = list(moe_layers(model))
    log.info(
        "injected %d MoE-LoRA layers (%d trainable parameters)",
        len(names),
        sum(p.numel() for p in moe_parameters(model)),
    )
    return names


def moe_layers(model: nn.Module) -> dict[str, MoELoRALayer]:
    """Dotted module name -> :class:`MoELoRALayer`, in model order."""
    return {name: m for name, m in model.named_modules() if isinstance(m, MoELoRALayer)}


def moe_parameters(model: nn.Module) -> Iterator[nn.Parameter]:
    """The trainable parameters of every MoE layer (routers and expert banks, never the base)."""
    for layer in moe_layers(model).values():
        yield from layer.router.parameters()
        yield from layer.experts.parameters()


def moe_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """Router and expert tensors keyed ``<module>.router.gate.weight``, ``<module>.experts.A`` / ``.B``."""
    out: dict[str, torch.Tensor] = {}
    for name, layer in moe_layers(model).items():
        for part in ("router", "experts"):
            for key, tensor in getattr(layer, part).state_dict().items():
                out[f"{name}.{part}.{key}"] = tensor
    return out


def save_moe(
    model: nn.Module,
    directory: str | os.PathLike[str],
    config: MoEConfig,
    *,
    extra: dict[str, nn.Module] | None = None,
    info: dict[str, Any] | None = None,
) -> Path:
    """Write ``moe_config.json`` and ``moe_model.safetensors`` for the injected model into ``directory``.

    Args:
        model: a model after :func:`inject_moe_lora`.
        directory: created if missing.
        config: the config the model was injected with (saved resolved, beside the weights).
        extra: optional named modules saved with the weights under ``<name>.`` (e.g. ``domain_head``);
            their tensor shapes are listed in the JSON.
        info: optional JSON-able metadata stored under ``"info"`` (e.g. the domain names).

    Returns:
        The directory path.
    """
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().cpu().contiguous() for k, v in moe_state_dict(model).items()}
    extras_meta: dict[str, dict[str, list[int]]] = {}
    for prefix, module in (extra or {}).items():
        extras_meta[prefix] = {}
        for key, tensor in module.state_dict().items():
            tensors[f"{prefix}.{key}"] = tensor.detach().cpu().contiguous()
            extras_meta[prefix][key] = list(tensor.shape)
    meta = {
        "format_version": FORMAT_VERSION,
        "config": config.model_dump(),
        "modules": list(moe_layers(model)),
        "extra": extras_meta,
        "info": info or {},
    }
    with atomic_path(out / WEIGHTS_NAME) as tmp:
        save_file(tensors, str(tmp), metadata={"format": "pt"})
    with atomic_path(out / CONFIG_NAME) as tmp:
        tmp.write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return out


def read_moe_config(directory: str | os.PathLike[str]) -> tuple[MoEConfig, dict[str, Any]]:
    """Read and validate ``moe_config.json``; returns the config and the raw metadata.

    Raises:
        SystemLoadError: the file is missing, not JSON, or not a valid config.
    """
    path = Path(directory) / CONFIG_NAME
    try:
        meta = read_json(path)
        return MoEConfig(**meta["config"]), meta
    except FileNotFoundError as err:
        raise SystemLoadError(f"{path}: missing MoE config") from err
    except (ValueError, KeyError, TypeError) as err:
        raise SystemLoadError(f"{path}: invalid MoE config: {err}") from err


def load_moe(
    model: nn.Module, directory: str | os.PathLike[str], *, extra: dict[str, nn.Module] | None = None
) -> MoEConfig:
    """Inject (if needed) and load saved MoE weights into ``model`` exactly.

    Raises:
        SystemLoadError: files missing/unreadable, or the saved tensors do not match the model's layers.
    """
    config, meta = read_moe_config(directory)
    if not moe_layers(model):
        inject_moe_lora(model, config)
    path = Path(directory) / WEIGHTS_NAME
    try:
        tensors = load_file(str(path))
    except (FileNotFoundError, SafetensorError, OSError) as err:
        raise SystemLoadError(f"{path}: cannot read MoE weights: {err}") from err
    targets = dict(moe_state_dict(model))
    for prefix, module in (extra or {}).items():
        targets.update({f"{prefix}.{k}": v for k, v in module.state_dict().items()})
    missing = sorted(set(targets) - set(tensors))
    unexpected = sorted(
        set(tensors) - set(targets) - {k for k in tensors if k.split(".")[0] in meta.get("extra", {})}
    )
    if missing or unexpected:
        raise SystemLoadError(
            f"{path}: tensors do not match the model (missing {missing[:3]}, unexpected {unexpected[:3]})"
        )
    with torch.no_grad():
        for key, dest in targets.items():
            if dest.shape != tensors[key].shape:
                raise SystemLoadError(
                    f"{path}: {key} has shape {tuple(tensors[key].shape)}, model expects {tuple(dest.shape)}"
                )
            dest.copy_(tensors[key])
    return config
