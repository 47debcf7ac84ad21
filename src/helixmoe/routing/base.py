"""The router contract: ``Router.route(text) -> RouteDecision``, and the registry of router kinds.

A *router* picks the expert for a request. Every kind returns the same :class:`RouteDecision`, so the
system, the evaluation harness and the CLI never care which kind decided. Adding a kind is a module with
a class that has ``route``/``save``/``load`` plus one :func:`register_router` line.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from helixmoe.atomic import read_json, write_json_atomic
from helixmoe.errors import ConfigError, SystemLoadError

__all__ = [
    "ROUTERS",
    "RouteDecision",
    "Router",
    "build_router",
    "load_router",
    "register_router",
    "setting_problem",
    "write_json_atomic",
]


@dataclass(frozen=True)
class RouteDecision:
    """Which expert should answer, how sure the router is, and why.

    Attributes:
        expert: the chosen expert's name.
        confidence: probability-like score of the choice in [0, 1] (calibrated for learned routers).
        scores: a score per expert (probabilities for learned routers, hit counts for keyword).
        router: the kind of router that made the final decision (``"cascade>classifier"`` style chains
            name each stage that was consulted).
        abstained: the router was unsure and fell back to its default expert.
    """

    expert: str
    confidence: float
    scores: dict[str, float] = field(default_factory=dict)
    router: str = ""
    abstained: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@runtime_checkable
class Router(Protocol):
    """Anything that turns a request into a :class:`RouteDecision`."""

    kind: str
    experts: tuple[str, ...]

    def route(self, text: str) -> RouteDecision: ...


ROUTERS: dict[str, Any] = {}


def register_router(kind: str) -> Callable[[type], type]:
    """Class decorator: make a router kind available by its lowercase name."""

    def deco(cls: type) -> type:
        ROUTERS[kind] = cls
        cls.kind = kind  # type: ignore[attr-defined]
        return cls

    return deco


def build_router(kind: str, **kwargs: Any) -> Any:
    """Instantiate a registered router kind with keyword arguments."""
    try:
        cls = ROUTERS[kind.lower()]
    except KeyError:
        raise ConfigError(
            f"unknown router kind {kind!r}; expected one of {', '.join(sorted(ROUTERS))}"
        ) from None
    return cls(**kwargs)


def setting_problem(err: Exception) -> str:
    """What a bad ``router.json`` setting error says: a ``KeyError`` is a missing field, not a bare key."""
    if isinstance(err, KeyError) and err.args:
        return f"missing field {err.args[0]!r}"
    return str(err)


def load_router(directory: str | Path, **parts: Any) -> Any:
    """Load a router saved by ``router.save(directory)`` (reads ``router.json`` for its kind).

    Args:
        directory: the router directory (``<system>/router``).
        **parts: live objects a kind needs but cannot store (e.g. the coordinator's scorer).

    Raises:
        SystemLoadError: the directory or its ``router.json`` is missing or unreadable.
    """
    path = Path(directory) / "router.json"
    try:
        meta = read_json(path)
    except FileNotFoundError:
        raise SystemLoadError(
            f"no router at {path} (train one with: helixmoe train --stage router)"
        ) from None
    except (OSError, ValueError) as err:
        raise SystemLoadError(f"unreadable router file {path}: {err}") from None
    if not isinstance(meta, dict):
        raise SystemLoadError(f"{path}: not a router file: expected a JSON object, got {type(meta).__name__}")
    if "kind" not in meta:
        raise SystemLoadError(f"{path}: not a router file: missing field 'kind'")
    kind = meta["kind"]
    if not isinstance(kind, str) or kind not in ROUTERS:
        raise SystemLoadError(
            f"{path}: unknown router kind {kind!r}; expected one of {', '.join(sorted(ROUTERS))}"
        )
    return ROUTERS[kind].load(Path(directory), meta, **parts)


def load_router_as(
    directory: str | Path, kind: str | None, experts: Sequence[str], scorer: Any = None
) -> Any:
    """The router a system serves with: the saved one (``kind=None`` or its own kind), its classifier stage, a
    fresh ``keyword`` baseline over ``experts``, or a ``coordinator`` built on ``scorer`` (the coordinator
    expert's :class:`~helixmoe.system.scoring.ExpertScorer`).

    Raises:
        SystemLoadError: as :func:`load_router`.
        ConfigError: ``kind`` is not available from this directory.
    """
    if kind == "keyword":
        return build_router("keyword", experts=list(experts))
    saved = load_router(directory, scorer=scorer)
    if kind is None or kind == saved.kind:
        return saved
    first = getattr(saved, "first", None)
    if kind == "classifier" and first is not None and first.kind == "classifier":
        return first
    if kind == "coordinator" and scorer is not None:
        return build_router("coordinator", scorer=scorer, experts=list(experts))
    raise ConfigError(f"router {kind!r} is not available in {directory} (saved: {saved.kind})")
