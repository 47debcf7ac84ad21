"""KV-cache layers for the decoding loop of :mod:`helixmoe.models.decoding`.

Owns :class:`GrowingLayer` (a ``DynamicLayer`` that grows in place), :func:`new_cache` (transformers'
``DynamicCache`` with such layers) and :func:`sliceable` (the layers the decoder may cut and pad along the
sequence). Hand-written because transformers' ``DynamicLayer`` concatenates at every step, copying the whole
cache (a 16-row step of the built-in system: 8.7 -> 8.4 ms, ``benchmarks/bench_system.py``), and its
``StaticCache`` fixes the batch and length up front, while the decoder drops finished rows and cuts padding.
"""

from __future__ import annotations

from typing import Any, Protocol, cast

import torch
from transformers import DynamicCache
from transformers.cache_utils import DynamicLayer

__all__ = ["CacheLayer", "GrowingLayer", "new_cache", "sliceable"]


class CacheLayer(Protocol):
    """What the decoder reads and cuts of a cache layer."""

    keys: torch.Tensor  # (b, heads, S, head_dim)
    values: torch.Tensor  # (b, heads, S, head_dim)


_Plain: Any = DynamicLayer  # transformers' layer classes are untyped


class GrowingLayer(_Plain):  # type: ignore[misc]
    """A ``DynamicLayer`` whose keys and values are views into buffers with room to grow along the sequence.

    ``DynamicLayer.update`` concatenates, copying the whole cache at every decoding step; here a step writes
    its token in place and the buffers double when full (a 16-row step of the built-in system: 8.7 -> 8.4 ms,
    ``bench_system.py``'s step costs). Whatever replaces the views from outside (``batch_select_indices``,
    cutting shared left padding, ``crop`` keeps a prefix) is seen by the next update, which copies into
    fresh buffers.
    """

    keys: torch.Tensor
    values: torch.Tensor
    _key_buffer: torch.Tensor | None = None
    _value_buffer: torch.Tensor | None = None

    def update(
        self, key_states: torch.Tensor, value_states: torch.Tensor, *args: Any, **kwargs: Any
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if not self.is_initialized:
            self.lazy_initialization(key_states, value_states)
        old_keys: torch.Tensor = self.keys
        n = old_keys.shape[-2] if old_keys.numel() else 0
        t = key_states.shape[-2]
        buffer = self._key_buffer
        fits = (
            buffer is not None
            and buffer.shape[-2] >= n + t
            and (buffer.shape[:2], buffer.shape[-1]) == (key_states.shape[:2], key_states.shape[-1])
            and buffer.dtype == key_states.dtype
            and buffer.device == key_states.device
            and (n == 0 or old_keys.data_ptr() == buffer.data_ptr())
        )
        if not fits:
            b, heads, _, dim = key_states.shape
            room = max(2 * (n + t), 32)
            grown_keys = key_states.new_empty(b, heads, room, dim)
            grown_values = value_states.new_empty(b, heads, room, dim)
            if n:
                grown_keys[:, :, :n], grown_values[:, :, :n] = old_keys, self.values
            self._key_buffer, self._value_buffer = grown_keys, grown_values
        keys, values = self._key_buffer, self._value_buffer
        assert keys is not None and values is not None
        keys[:, :, n : n + t] = key_states
        values[:, :, n : n + t] = value_states
        self.keys, self.values = keys[:, :, : n + t], values[:, :, : n + t]
        return self.keys, self.values

    def reset(self) -> None:
        self._key_buffer = self._value_buffer = None
        super().reset()


def new_cache(config: Any) -> DynamicCache:
    """``DynamicCache(config=config)`` with its plain full-attention layers made :class:`GrowingLayer`."""
    cache = DynamicCache(config=config)
    cache.layers = [GrowingLayer() if type(x) is DynamicLayer else x for x in cache.layers]
    return cache


def sliceable(cache: DynamicCache) -> list[CacheLayer] | None:
    """The cache's layers if all are plain ``DynamicLayer`` or :class:`GrowingLayer` (whose key and value
    tensors hold the whole sequence, so cutting or padding them along it is safe; sliding-window layers keep
    more state)."""
    layers = list(cache.layers)
    return (
        cast(list[CacheLayer], layers)
        if all(type(x) in (DynamicLayer, GrowingLayer) for x in layers)
        else None
    )
