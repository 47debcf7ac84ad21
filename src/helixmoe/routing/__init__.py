"""Routing: pick the expert for a request (layer 2; the learned routers need numpy/scikit-learn, not torch).

Kinds (``build_router(kind, ...)`` / ``load_router(dir)``): ``keyword`` (the published HLX MoE rules, the
baseline), ``classifier`` (n-gram TF-IDF + logistic regression, calibrated), ``coordinator`` (the
coordinator expert scores the expert names), ``cascade`` (classifier first, coordinator below a calibrated
threshold, abstain to the coordinator). ``CachedRouter`` adds an LRU cache to any of them.
"""

from helixmoe.routing.base import (
    ROUTERS,
    RouteDecision,
    Router,
    build_router,
    load_router,
    load_router_as,
    register_router,
)
from helixmoe.routing.cache import CachedRouter
from helixmoe.routing.cascade import CascadeRouter, calibrate_threshold
from helixmoe.routing.classifier import ClassifierRouter, fit_temperature
from helixmoe.routing.coordinator import ROUTE_PROMPT, CoordinatorRouter
from helixmoe.routing.keyword import PUBLISHED_RULES, KeywordRouter

__all__ = [
    "PUBLISHED_RULES",
    "ROUTERS",
    "ROUTE_PROMPT",
    "CachedRouter",
    "CascadeRouter",
    "ClassifierRouter",
    "CoordinatorRouter",
    "KeywordRouter",
    "RouteDecision",
    "Router",
    "build_router",
    "calibrate_threshold",
    "fit_temperature",
    "load_router",
    "load_router_as",
    "register_router",
]
