"""Where a system lives and what serves its routing: the built-in system's path, the up-front check of a system
directory, the serving router (with its decision cache) and the intent model, and :func:`load_system_router`,
which gives that router without loading the system's models. :meth:`helixmoe.system.HelixMoE.load` builds on
these; this module imports no torch.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from helixmoe.errors import SystemLoadError
from helixmoe.routing import CachedRouter, load_router, load_router_as

__all__ = ["default_system_path", "intent_model", "load_system_router", "serving_router", "system_root"]


def default_system_path() -> Path:
    """Where the built-in default system ships inside the package."""
    return Path(__file__).resolve().parent.parent / "default_system"


def system_root(path: str | Path | None) -> Path:
    """The system directory ``path`` names (``None``: the built-in one), refused before anything heavy is
    imported when it holds no ``system.yaml`` (a typo should fail fast)."""
    root = Path(path) if path is not None else default_system_path()
    if not (root / "system.yaml").is_file():
        if path is None:
            raise SystemLoadError(
                f"the built-in system is missing at {root}; rebuild it with: make default-system"
            )
        what = "does not exist" if not root.exists() else "is not a system directory (no system.yaml)"
        raise SystemLoadError(f"{root} {what}")
    return root


def serving_router(
    directory: Path, kind: str | None, experts: Sequence[str], scorer: Any, cache_size: int
) -> Any:
    """The router a system serves with (:func:`~helixmoe.routing.load_router_as`), behind an LRU cache of
    ``cache_size`` decisions (0: none)."""
    chosen = load_router_as(directory, kind, experts, scorer)
    return CachedRouter(chosen, cache_size) if cache_size else chosen


def intent_model(directory: Path) -> Any:
    """The system's intent model (``router/intent``), or ``None`` when it was trained without one."""
    intent_dir = directory / "intent"
    return load_router(intent_dir) if (intent_dir / "router.json").is_file() else None


class _ScorerOnDemand:
    """The coordinator expert's scorer (:class:`~helixmoe.system.scoring.ExpertScorer`), loading the
    system's base and coordinator adapter the first time a router asks for a score: a cascade escalates
    only its unsure requests, and most routing needs no model at all. Threads that escalate at once share one
    load, and a load that failed is not tried again: each later call raises the same error at once."""

    def __init__(self, root: Path, device: str | None) -> None:
        self.root = root
        self.device = device
        self._scorer: Any = None
        self._failed: BaseException | None = None
        self._lock = threading.Lock()

    def __call__(self, prompt: str, candidates: Sequence[str]) -> list[float]:
        with self._lock:
            if self._failed is not None:
                raise self._failed
            if self._scorer is None:
                from helixmoe.models.layout import load_system
                from helixmoe.system.scoring import ExpertScorer

                try:
                    pool = load_system(self.root, experts=["coordinator"], device=self.device).pool
                except Exception as err:
                    self._failed = err
                    raise
                self._scorer = ExpertScorer(pool, "coordinator")
        return self._scorer(prompt, candidates)  # type: ignore[no-any-return]


def load_system_router(
    path: str | Path | None = None,
    *,
    router: str | None = None,
    device: str | None = None,
    cache_size: int = 4096,
) -> Any:
    """The router a system serves with, without loading its models: routing a request needs only the
    router's own weights (0.2 s to load the built-in one, where :meth:`HelixMoE.load` imports torch and
    reads the base and every expert, ~9 s on a 2-core machine). A router that asks the coordinator expert
    (``router="coordinator"``, or a cascade saved with a coordinator stage) loads the base and that adapter
    the first time it does. ``HelixMoE.load(path).route(text)`` gives the same decisions.

    Args:
        path: the system directory (``None`` = the built-in default system).
        router: as in :meth:`HelixMoE.load`.
        device: where the coordinator's model is loaded, if a router needs it.
        cache_size: LRU size of the routing decision cache (0 disables it).

    Raises:
        SystemLoadError: as :meth:`HelixMoE.load` (the same up-front check of every part of the system).
        ConfigError: ``router`` is not available from this system.
    """
    from helixmoe.models.layout import SystemLayout, check_system

    root = system_root(path)
    config = check_system(root)
    experts = list(config.experts)
    scorer = _ScorerOnDemand(root, device) if "coordinator" in experts else None
    return serving_router(SystemLayout(root).router_dir, router, experts, scorer, cache_size)
