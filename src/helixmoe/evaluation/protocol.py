"""The narrow interface the harness needs from a system (lm-evaluation-harness style).

:class:`helixmoe.system.HelixMoE` satisfies it; so does a twenty-line fake in the tests, which is how the
metric logic is checked exactly without a model. Optional extras the harness uses when present:
``root`` (the system directory, for sizes and training figures), ``config`` (a ``SystemConfig``),
``pool.tokenizer`` or ``count_tokens(text)`` (tokens/s), ``device`` (shown in the report).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

__all__ = ["AnswerLike", "Predictor", "RouteLike"]


class RouteLike(Protocol):
    """A routing decision (:class:`helixmoe.routing.RouteDecision` fits)."""

    expert: str
    confidence: float
    abstained: bool


class AnswerLike(Protocol):
    """One answer (:class:`helixmoe.system.Answer` fits).

    ``text`` is the final answer after the verification policy, ``model_text`` what the model said,
    ``timings`` milliseconds per stage (``route``, ``generate``, ``verify``, ``total``).
    """

    text: str
    expert: str
    route: Any
    verified: bool | None
    fallback_used: str | None
    model_text: str
    timings: dict[str, float]


@runtime_checkable
class Predictor(Protocol):
    """What the harness calls: routing alone, and batched answering with optional pinned experts."""

    @property
    def experts(self) -> list[str]: ...

    def route(self, text: str) -> Any: ...

    def batch(
        self,
        texts: Sequence[str],
        *,
        experts: Sequence[str] | None = None,
        verify: str | None = None,
        batch_size: int = 16,
    ) -> list[Any]: ...
