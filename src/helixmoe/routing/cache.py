"""An LRU cache of routing decisions, wrapping any router (the same request is routed once)."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from helixmoe.routing.base import RouteDecision

__all__ = ["CachedRouter"]


class CachedRouter:
    """``route`` answers from an LRU cache of up to ``maxsize`` decisions; ``hits``/``misses`` count."""

    def __init__(self, router: Any, maxsize: int = 4096) -> None:
        self.router = router
        self.kind = router.kind
        self.experts = router.experts
        self.maxsize = maxsize
        self._cache: OrderedDict[str, RouteDecision] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def route(self, text: str) -> RouteDecision:
        cached = self._cache.get(text)
        if cached is not None:
            self._cache.move_to_end(text)
            self.hits += 1
            return cached
        self.misses += 1
        decision: RouteDecision = self.router.route(text)
        self._cache[text] = decision
        if len(self._cache) > self.maxsize:
            self._cache.popitem(last=False)
        return decision

    def clear(self) -> None:
        self._cache.clear()

    def save(self, directory: Any) -> None:
        self.router.save(directory)
