"""Per-row LoRA adapters in one batch: row ``i`` of every forward goes through adapter ``names[i]``.

Owns :func:`row_adapters`, the context :func:`helixmoe.models.decoding.greedy_decode` wraps its forwards in,
and :class:`StackedLoRA`, its fast path. Hand-written because PEFT's mixed-adapter forward (``adapter_names``)
loops in Python over the adapters, and over the rows to index them, in every LoRA layer at every step
(``cProfile``: 55 % of a 16-row mixed batch on the built-in system). :class:`StackedLoRA` stacks the adapters'
``A`` and ``B`` matrices once per batch and adds each row's term with two batched matmuls per layer on top of
PEFT's own base layer; PEFT's path stays the fallback for what it does not cover (merged or DoRA-style
adapters, other layer types, adapters of different ranks).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import torch

from helixmoe.errors import ConfigError

__all__ = ["StackedLoRA", "row_adapters"]


@contextlib.contextmanager
def row_adapters(
    model: torch.nn.Module, names: list[str] | None, lora: StackedLoRA | None = None
) -> Iterator[None]:
    """Per-row adapter routing for every forward inside: ``lora``'s stacked matmuls when given, else PEFT's
    (what ``PeftModel.generate`` does)."""
    if names is None:
        yield
        return
    if lora is not None:
        with lora.rows(names):
            yield
        return
    enable = getattr(model, "_enable_peft_forward_hooks", None)
    if enable is None:
        raise ConfigError("adapter names need a PEFT model")
    with enable(adapter_names=names):
        yield


class StackedLoRA:
    """Each row's own LoRA adapter in one batched forward: ``base(x) + scale[i] * x @ A[i]^T @ B[i]^T``.

    The adapters' ``A`` (r, in) and ``B`` (out, r) weights of every LoRA layer are stacked once (plus a zero
    slot for ``"__base__"``, no adapter); :meth:`rows` then turns the layers' own adapters off and adds the
    per-row term with a forward hook, gathering the stacked matrices by each row's adapter index.
    """

    def __init__(self, layers: list[Any], adapters: list[str]) -> None:
        self.slot = {name: i for i, name in enumerate(adapters)} | {"__base__": len(adapters)}
        self.layers = layers
        self.weights = []
        for layer in layers:
            a = [layer.lora_A[n].weight for n in adapters]
            b = [layer.lora_B[n].weight for n in adapters]
            scale = [float(layer.scaling[n]) for n in adapters]
            stacked_a = torch.stack([*a, torch.zeros_like(a[0])])  # (n + 1, r, in)
            stacked_b = torch.stack([*b, torch.zeros_like(b[0])])  # (n + 1, out, r)
            self.weights.append((stacked_a, stacked_b, stacked_a.new_tensor([*scale, 0.0])))

    @classmethod
    def of(cls, model: torch.nn.Module) -> StackedLoRA | None:
        """The stack for ``model``'s plain LoRA ``Linear`` layers; ``None`` where PEFT's own path must run."""
        try:
            from peft.tuners.lora.layer import Linear as LoraLinear
        except ImportError:
            return None
        layers: list[Any] = [m for m in model.modules() if hasattr(m, "lora_A") and hasattr(m, "base_layer")]
        if not layers or any(type(m) is not LoraLinear for m in layers):
            return None
        adapters = sorted(layers[0].lora_A.keys())
        for m in layers:
            if (
                m.merged
                or sorted(m.lora_A.keys()) != adapters
                or any(m.use_dora.get(n) or n in m.lora_variant for n in adapters)
                or len({m.lora_A[n].weight.shape for n in adapters}) != 1
                or len({m.lora_B[n].weight.shape for n in adapters}) != 1
            ):
                return None
        return cls(layers, adapters) if adapters else None

    @contextlib.contextmanager
    def rows(self, names: list[str]) -> Iterator[None]:
        """Route row ``i`` through adapter ``names[i]`` for every forward inside."""
        if any(n not in self.slot for n in names):
            raise ConfigError(f"unknown adapter(s): {sorted(set(names) - set(self.slot))}")
        index = torch.tensor([self.slot[n] for n in names], device=self.weights[0][0].device)
        handles = []
        disabled = [layer._disable_adapters for layer in self.layers]
        try:
            for layer, (a, b, scale) in zip(self.layers, self.weights, strict=True):
                # the layer returns its base output; the hook adds the LoRA term
                layer._disable_adapters = True
                handles.append(layer.register_forward_hook(self._hook(a[index], b[index], scale[index])))
            yield
        finally:
            for handle in handles:
                handle.remove()
            for layer, was in zip(self.layers, disabled, strict=True):
                layer._disable_adapters = was

    @staticmethod
    def _hook(a: torch.Tensor, b: torch.Tensor, scale: torch.Tensor) -> Callable[..., torch.Tensor]:
        a_t = a.transpose(1, 2)  # (B, in, r)
        b_t = b.transpose(1, 2)  # (B, r, out)
        scale = scale[:, None, None]

        def add(module: torch.nn.Module, inputs: tuple[Any, ...], output: torch.Tensor) -> torch.Tensor:
            x = inputs[0]
            rows = x.reshape(x.shape[0], -1, x.shape[-1]).to(a_t.dtype)  # (B, t, in)
            delta = torch.bmm(torch.bmm(rows, a_t), b_t) * scale  # (B, t, out)
            return output + delta.reshape(output.shape).to(output.dtype)

        return add
