"""Config of request routing (pure Python, layer 0).

Owned by the routing engineer (:mod:`helixmoe.routing`), who extends :class:`RoutingConfig`; this first
version only fixes its place in :class:`helixmoe.config.SystemConfig` (the ``routing:`` section).
"""

from __future__ import annotations

from helixmoe.config.base import Section

__all__ = ["RoutingConfig"]


class RoutingConfig(Section):
    """Which router picks the expert for a request (``routing:`` section)."""

    kind: str = "cascade"
    """Lowercase name of a router kind in the routing registry."""
