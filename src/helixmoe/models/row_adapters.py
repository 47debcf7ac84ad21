"""Per-row LoRA adapters in one batch: row ``i`` of every forward goes through adapter ``names[i]``.

Owns :func:`row_adapters`, the context :func:`helixmoe.models.decoding.greedy_decode` wraps its forwards in,
and :class:`StackedLoRA`, its fast path. Hand-written because PEFT's mixed-adapter forward (``adapter_names``)
loops in Python over the adapters, and over the rows to index them, in every LoRA layer at every step
(``cProfile``: 55 % of a 16-row mixed batch on the built-in system). :class:`StackedLoRA` stacks the adapters'
``A`` and ``B`` matrices once and adds each row's term with two matmuls per layer on top of PEFT's own base
layer; PEFT's path stays the fallback for what it does not cover (merged or DoRA-style
adapters, other layer types, adapters of different ranks).
"""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Callable, Iterator
from typing import Any

import torch

from helixmoe.errors import ConfigError

__all__ = ["StackedLoRA", "row_adapters"]

#: model -> (adapter names, LoRA layers, their state, the stack): see :meth:`StackedLoRA.of`.
_STACKS: weakref.WeakKeyDictionary[torch.nn.Module, tuple[Any, list[Any], Any, StackedLoRA | None]] = (
    weakref.WeakKeyDictionary()
)


def _state(layers: list[Any]) -> tuple[list[tuple[str, torch.Tensor, int]], list[Any]]:
    """What a stack depends on: each LoRA weight (adapter name, the tensor itself so its id cannot be
    reused, its in-place ``_version``), then each layer's merged flag and scales."""
    weights, flags = [], []
    for m in layers:
        for modules in (m.lora_A, m.lora_B):
            for name, module in modules.items():
                weights.append((name, module.weight, module.weight._version))
        flags.append((m.merged, tuple(sorted(m.scaling.items()))))
    return weights, flags


def _same(a: tuple[list[Any], list[Any]], b: tuple[list[Any], list[Any]]) -> bool:
    """Two :func:`_state` results agree: the same weight objects at the same versions, the same flags."""
    return (
        a[1] == b[1]
        and len(a[0]) == len(b[0])
        and all(x[0] == y[0] and x[1] is y[1] and x[2] == y[2] for x, y in zip(a[0], b[0], strict=True))
    )


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

    The adapters' ``A`` (r, in) and ``B`` (out, r) weights of every LoRA layer are concatenated once along the
    rank into ``A_all`` (n * r, in) and ``B_all`` (out, n * r), each adapter's scale folded into its ``B``
    block. :meth:`rows` turns the layers' own adapters off and adds the per-row term with a forward hook:
    ``((x @ A_all^T) * keep) @ B_all^T``, where ``keep`` (B, n * r) is 1 on the rank block of each row's
    adapter and 0 elsewhere (all 0 for ``"__base__"``, no adapter). Two plain matmuls over the whole batch:
    the extra work of the other adapters' blocks (n * r columns instead of r) is smaller than what batched
    per-row matmuls cost (``torch.bmm`` over gathered (B, in, r) matrices took 25 % of a 16-row decoding
    step on the built-in system, ``torch.profiler``).
    """

    def __init__(self, layers: list[Any], adapters: list[str]) -> None:
        self.slot = {name: i for i, name in enumerate(adapters)} | {"__base__": len(adapters)}
        self.layers = layers
        self.rank = int(layers[0].lora_A[adapters[0]].weight.shape[0]) if layers else 1
        self.weights = []
        for layer in layers:
            a_all = torch.cat([layer.lora_A[n].weight for n in adapters])  # (n * r, in)
            b_all = torch.cat([layer.lora_B[n].weight * float(layer.scaling[n]) for n in adapters], dim=1)
            self.weights.append((a_all.t().contiguous(), b_all.t().contiguous()))  # (in, n r), (n r, out)

    @classmethod
    def of(cls, model: torch.nn.Module) -> StackedLoRA | None:
        """The stack for ``model``'s plain LoRA ``Linear`` layers; ``None`` where PEFT's own path must run.

        Finding the layers and stacking them costs a few milliseconds (walking the ~500 modules of the tiny
        PEFT model is most of it; a short query takes ~13 ms), so the result is kept with the model and
        reused while the model's adapter names, its LoRA layers' weight tensors (identity and in-place
        ``_version``, so training steps are seen), merged flags and scales are what they were.
        """
        try:
            from peft.tuners.lora.layer import Linear as LoraLinear
        except ImportError:
            return None
        names = tuple(sorted(getattr(model, "peft_config", None) or {}))
        cached = _STACKS.get(model)
        if cached is not None and cached[0] == names and _same(cached[2], _state(cached[1])):
            return cached[3]
        layers: list[Any] = [m for m in model.modules() if hasattr(m, "lora_A") and hasattr(m, "base_layer")]
        stack = cls._build(layers, LoraLinear)
        _STACKS[model] = (names, layers, _state(layers), stack)
        return stack

    @classmethod
    def _build(cls, layers: list[Any], lora_linear: type) -> StackedLoRA | None:
        if not layers or any(type(m) is not lora_linear for m in layers):
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

    def keep(self, names: list[str]) -> torch.Tensor:
        """The (B, n * r) 0/1 mask of each row's adapter block (``"__base__"``: all zero)."""
        if any(n not in self.slot for n in names):
            raise ConfigError(f"unknown adapter(s): {sorted(set(names) - set(self.slot))}")
        if not self.weights:
            return torch.zeros(len(names), 0)
        a_t = self.weights[0][0]
        slots = torch.tensor([self.slot[n] for n in names], device=a_t.device)
        block = torch.arange(a_t.shape[1], device=a_t.device) // self.rank  # (n r,): adapter of each column
        return (block[None, :] == slots[:, None]).to(a_t.dtype)

    @contextlib.contextmanager
    def rows(self, names: list[str]) -> Iterator[None]:
        """Route row ``i`` through adapter ``names[i]`` for every forward inside."""
        keep = self.keep(names)[:, None, :]  # (B, 1, n r)
        one = names[0] if len(set(names)) == 1 and names[0] != "__base__" else None
        handles = []
        disabled = [layer._disable_adapters for layer in self.layers]
        try:
            for layer, (a_t, b_t) in zip(self.layers, self.weights, strict=True):
                # the layer returns its base output; the hook adds the LoRA term
                layer._disable_adapters = True
                if one is not None:  # every row the same adapter: its own block, no mask
                    block = slice(self.slot[one] * self.rank, (self.slot[one] + 1) * self.rank)
                    hook = self._hook(a_t[:, block], b_t[block], None)
                else:
                    hook = self._hook(a_t, b_t, keep)
                handles.append(layer.register_forward_hook(hook))
            yield
        finally:
            for handle in handles:
                handle.remove()
            for layer, was in zip(self.layers, disabled, strict=True):
                layer._disable_adapters = was

    @staticmethod
    def _hook(a_t: torch.Tensor, b_t: torch.Tensor, keep: torch.Tensor | None) -> Callable[..., torch.Tensor]:
        def add(module: torch.nn.Module, inputs: tuple[Any, ...], output: torch.Tensor) -> torch.Tensor:
            x = inputs[0]
            rows = x.reshape(x.shape[0], -1, x.shape[-1]).to(a_t.dtype)  # (B, t, in)
            low = torch.matmul(rows, a_t)  # (B, t, n r), or (B, t, r) for one adapter
            delta = torch.matmul(low if keep is None else low * keep, b_t)  # (B, t, out)
            return output + delta.reshape(output.shape).to(output.dtype)

        return add
