"""Verification: is the answer the request's value, in the notation the request asked for?

The request's value is found with :func:`helixmoe.hlx.find_values`; the target notation is predicted by
an *intent* model (the same n-gram classifier as the router, trained on each example's task,
:func:`helixmoe.tasks.task_label`: a value notation, or ``validate``, ``explain``... for requests with no
single-value answer). Policies:

* ``off``: no check.
* ``flag``: check and report ``verified``.
* ``retry``: on a failed check, re-generate under the grammar of the target notation, check again.
* ``oracle``: as ``retry``, then replace a still-wrong answer with the codec's and say so.

Reports always keep model-only accuracy apart from verified accuracy (``Answer.model_text``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from helixmoe import hlx

__all__ = ["POLICIES", "Check", "Verifier"]

POLICIES = ("off", "flag", "retry", "oracle")
_VALUE_NOTATIONS = frozenset(hlx.TEXT_NOTATIONS)


@dataclass(frozen=True)
class Check:
    """What verification can know about a request before any answer."""

    target: str | None  # the notation the answer must be in, or None when unverifiable
    value: Any = None  # the request's value (meaningful when ``has_value``)
    has_value: bool = False
    task: str | None = None  # the intent model's task label (whatever its confidence), if there is a model

    @property
    def checkable(self) -> bool:
        return self.target is not None and self.has_value

    def verify(self, answer: str) -> bool:
        """True when ``answer`` is the canonical text of the request's value in the target notation.

        Canonical, not merely equal: the oracle's text is what a verified answer promises.
        """
        expected = self.oracle_answer()
        return expected is not None and answer.strip() == expected

    def oracle_answer(self) -> str | None:
        """The codec's canonical answer, when the request is checkable."""
        if not self.checkable:
            return None
        out = hlx.dumps(self.value, self.target)  # type: ignore[arg-type]
        return out.hex() if isinstance(out, bytes) else str(out)


class Verifier:
    """Builds a :class:`Check` per request from an intent model (``route(text).expert`` = notation)."""

    def __init__(self, intent: Any | None, *, min_confidence: float = 0.5) -> None:
        self.intent = intent
        self.min_confidence = min_confidence

    def task(self, request: str) -> str | None:
        """The intent model's task label for a request (:func:`helixmoe.tasks.task_label`), if it has one."""
        return None if self.intent is None else str(self.intent.route(request).expert)

    def check(self, request: str) -> Check:
        if self.intent is None:
            return Check(None)
        decision = self.intent.route(request)
        task = str(decision.expert)
        target = task if task in _VALUE_NOTATIONS else None
        if target is None or decision.confidence < self.min_confidence:
            return Check(None, task=task)
        found = hlx.find_values(request)
        if not found:
            return Check(target, task=task)
        # the value to convert is the last one mentioned ("... the following LC-B: [[T]]")
        return Check(target, found[-1].value, True, task=task)
