"""What one query returns: the answer text plus everything needed to trust or debug it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from helixmoe.routing import RouteDecision

__all__ = ["Answer"]


@dataclass
class Answer:
    """One answered request.

    Attributes:
        text: the final answer (the oracle's when ``fallback_used``).
        expert: the expert that generated it.
        route: the routing decision (``expert`` may differ from ``route.expert`` when pinned).
        verified: ``True``/``False`` when the answer could be checked against the value in the request,
            ``None`` when there was nothing to check (a question, math, ``verify="off"``).
        fallback_used: ``"retry"`` (constrained re-generation) or ``"oracle"`` (codec answer), else ``None``.
        model_text: what the model itself said (differs from ``text`` after an oracle fallback).
        target: the notation the answer was checked in, if any.
        task: the task hint the expert was given (systems trained with ``training.task_hints``), else ``None``.
        timings: milliseconds per stage (``route``, ``generate``, ``verify``, ``total``).
    """

    text: str
    expert: str
    route: RouteDecision
    verified: bool | None = None
    fallback_used: str | None = None
    model_text: str = ""
    target: str | None = None
    task: str | None = None
    timings: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The published ``route_request`` keys (``specialist``, ``response``) plus ours."""
        return {
            "specialist": self.expert,
            "response": self.text,
            "confidence": self.route.confidence,
            "verified": self.verified,
            "fallback_used": self.fallback_used,
            "model_response": self.model_text,
            "target_notation": self.target,
            "task": self.task,
            "route": self.route.to_dict(),
            "timings": dict(self.timings),
        }

    def __str__(self) -> str:
        return self.text
