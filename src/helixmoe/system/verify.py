"""Verification: is the answer the request's value, in the notation the request asked for?

The request's value is found with :func:`helixmoe.hlx.find_values`; the target notation is predicted by
an *intent* model (the same n-gram classifier as the router, trained on each example's task,
:func:`helixmoe.tasks.task_label`: a value notation, ``multi:<notations>`` for a multi-format answer (one
``NAME: text`` line per notation), or ``validate``, ``explain``... for requests whose answer the codec cannot
write). Policies:

* ``off``: no check.
* ``flag``: check and report ``verified``.
* ``retry``: on a failed check, look for a verified answer among the expert's own alternatives: a free answer is
  decoded again under the grammar of the target notation, then the answer is branched at its least certain steps
  (the runner-up token there, greedy after it; :mod:`helixmoe.system.retry`); the first that verifies wins
  (``fallback_used="retry"``).
* ``oracle``: as ``retry``, then replace a still-wrong answer with the codec's and say so.

Reports always keep model-only accuracy apart from verified accuracy (``Answer.model_text``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from helixmoe import hlx
from helixmoe.tasks.hlx_checks import validate_answer
from helixmoe.tasks.hlx_families import MULTI_ORDER, multi_response
from helixmoe.tasks.phrasing import NOTATION_NAMES

if TYPE_CHECKING:
    from helixmoe.system.answer import Answer

__all__ = ["POLICIES", "Check", "Verifier", "apply_policy"]

POLICIES = ("off", "flag", "retry", "oracle")
_VALUE_NOTATIONS = frozenset(hlx.TEXT_NOTATIONS)


@dataclass(frozen=True)
class Check:
    """What verification can know about a request before any answer."""

    target: str | None  # the notation a one-value answer must be in (its grammar's), else None
    value: Any = None  # the request's value (meaningful when ``has_value``)
    has_value: bool = False
    task: str | None = None  # the intent model's task label (whatever its confidence), if there is a model
    #: the notations of a multi-format answer (``multi:`` tasks), in answer order: one ``NAME: text`` line each
    listing: tuple[str, ...] = ()
    #: the codec's answer when it is not a value's text (a ``validate`` verdict), else None
    verdict: str | None = None

    @property
    def checkable(self) -> bool:
        return self.verdict is not None or (
            (self.target is not None or bool(self.listing)) and self.has_value
        )

    def verify(self, answer: str) -> bool:
        """True when ``answer`` is the canonical text of the request's value in the target notation.

        Canonical, not merely equal: the oracle's text is what a verified answer promises.
        """
        expected = self.oracle_answer()
        return expected is not None and answer.strip() == expected

    def oracle_answer(self) -> str | None:
        """The codec's canonical answer, when the request is checkable (for a multi-format request, the lines
        the task family's reference answer has, :func:`helixmoe.tasks.hlx_families.multi_response`)."""
        if not self.checkable:
            return None
        if self.verdict is not None:
            return self.verdict
        if self.listing:
            return multi_response(self.value, list(self.listing))
        return _canonical_text(self.value, self.target)  # type: ignore[arg-type]


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
        listing = _multi_listing(task)
        if task == "validate" and decision.confidence >= self.min_confidence:
            return Check(None, task=task, verdict=_verdict(request))
        if (target is None and not listing) or decision.confidence < self.min_confidence:
            return Check(None, task=task)
        found = hlx.find_values(request)
        if not found:
            return Check(target, task=task, listing=listing)
        # the value to convert is the last one mentioned ("... the following LC-B: [[T]]")
        # a multi-format answer's lines never name its source; a one-value answer's target may (canonicalising)
        value = _source_value(request, found[-1], set(listing) or {target}, same_notation=not listing)
        if value is _AMBIGUOUS:
            return Check(target, task=task, listing=listing)
        return Check(target, value, True, task=task, listing=listing)


def _verdict(request: str) -> str | None:
    """The codec's verdict (:func:`helixmoe.tasks.hlx_checks.validate_answer`: ``valid`` or ``invalid: <its
    message>``) on the text a validation request asks about, when the request shows it unmistakably: in its
    only code span, with exactly one notation named outside it. Otherwise ``None`` (not checked): a malformed
    value is not found by parsing, so anything looser would be a guess at where the text starts and ends."""
    spans = hlx.code_spans(request)
    if len(spans) != 1:
        return None
    start, end = spans[0]
    body = request[start:end].strip()
    named = _named_outside(request, start, end)
    if not body or len(named) != 1:
        return None
    return validate_answer(body, named.pop())


def _multi_listing(task: str) -> tuple[str, ...]:
    """The notations of a ``multi:<notations>`` task label (:func:`helixmoe.tasks.task_label`), or ``()``."""
    kind, _, names = task.partition(":")
    listing = tuple(names.split(",")) if kind == "multi" and names else ()
    if len(set(listing)) != len(listing) or not set(listing) <= set(MULTI_ORDER):
        return ()
    return listing


_AMBIGUOUS = object()
#: Every way a prompt names a notation (lower case) -> the notation.
_NOTATION_OF = {name.lower(): notation for notation, names in NOTATION_NAMES.items() for name in names}
#: Those names in a prompt, longest first (so "LC-B hex" is not read as "LC-B"), any case.
_NAMED = re.compile(
    "(?<![A-Za-z0-9])(?:"
    + "|".join(re.escape(name) for name in sorted(_NOTATION_OF, key=len, reverse=True))
    + ")(?![A-Za-z0-9])",
    re.IGNORECASE,
)


def _named_outside(request: str, start: int, end: int) -> set[str]:
    """The notations ``request`` names outside ``request[start:end]`` (the value's own text)."""
    outside = request[:start] + " " + request[end:]
    return {_NOTATION_OF[m.group(0).lower()] for m in _NAMED.finditer(outside)}


def _source_value(
    request: str, found: hlx.FoundValue, targets: set[str | None], same_notation: bool = False
) -> Any:
    """The request's value, read in the notation the request says it is in.

    The same text can be two different values: ``[-1.0]`` is the HLXL list ``[-1.0]`` and the LC-B text of
    ``-1.0`` (every LC-B value is wrapped once in brackets); ``600000`` is an integer and LC-B hex. When the text
    parses to different values in several notations, the notation the request names (other than the answer's
    notations, ``targets``) decides; when it names none of them, the first reading
    (:func:`helixmoe.hlx.find_values`: HLXL first) stands; when the notations it names read different values,
    the value is ambiguous. A one-value answer's named target is its source only in a canonicalisation
    (``same_notation`` and :func:`_canonicalising`): "the canonical bracket form of ``[[0.75]]``" reads LC-B
    text, "encode ``[3.14]`` as LC-B" the HLXL list. The notations of a multi-format answer are its lines, never
    a hint of the source: "LC-R and LC-B for ``[{}]``" reads the HLXL list, not the LC-B text of ``{}``.
    """
    readings = [(found.notation, found.value)]
    for name in hlx.TEXT_NOTATIONS:
        if name == found.notation:
            continue
        try:
            readings.append((name, hlx.loads(found.text, name)))
        except hlx.HLXError:
            continue
    if all(hlx.equal(value, found.value) for _, value in readings):
        return found.value
    # every reading is kept, equal ones too: "this LC-T to LC-B: ["a"]" names LC-T, whose reading is HLXL's
    named = _named_outside(request, found.start, found.end)
    candidates = [r for r in readings if r[0] in named and r[0] not in targets]
    if not candidates and same_notation and _canonicalising(request, found.text, readings, targets):
        candidates = [r for r in readings if r[0] in named]
    if not candidates:
        return found.value
    first = candidates[0][1]
    return first if all(hlx.equal(value, first) for _, value in candidates) else _AMBIGUOUS


#: Words of a request to rewrite a value in its own notation (``tasks.bank``'s canonicalise phrasings; not
#: "format", which conversions use too: "the LC-B format of ...").
_CANONICALISING = re.compile(
    r"\b(?:canonical\w*|normali[sz]\w*|minif\w*|tidy|reformat\w*|clean up|pretty[- ]print\w*|optimi[sz]\w*"
    r"|compact|strip the extra whitespace)\b",
    re.IGNORECASE,
)


def _canonicalising(
    request: str, text: str, readings: list[tuple[str, Any]], targets: set[str | None]
) -> bool:
    """Whether a request that names only its answer's notation asks to rewrite the value in it rather than to
    convert it: it says so, or its text is not the canonical text of any other reading (a canonicalisation
    shows messy text; a conversion's source is mostly canonical HLXL or LC-T)."""
    if _CANONICALISING.search(request):
        return True
    shown = text.strip()
    return not any(_canonical_text(value, name) == shown for name, value in readings if name not in targets)


def _canonical_text(value: Any, notation: str) -> str:
    """The codec's canonical text of ``value`` in a text notation (every notation here is one of
    :data:`helixmoe.hlx.TEXT_NOTATIONS`, which dump to ``str``; ``lc-b-hex`` already as hex digits)."""
    return str(hlx.dumps(value, notation))


def apply_policy(
    policy: str, answers: Sequence[Answer], checks: Sequence[Check], retry: Callable[[list[int]], None]
) -> None:
    """Check each answer (``verified``) under ``policy`` (not ``off``); for ``retry`` and ``oracle`` call
    ``retry(failed)`` with the indices of the answers that failed (it may replace them, see
    :func:`helixmoe.system.retry.retry_failed`); for ``oracle`` replace what still fails with the codec's text."""
    for a, c in zip(answers, checks, strict=True):
        a.verified = c.verify(a.text) if c.checkable else None
    if policy in ("retry", "oracle"):
        failed = [i for i, a in enumerate(answers) if a.verified is False]
        if failed:
            retry(failed)
    if policy == "oracle":
        for a, c in zip(answers, checks, strict=True):
            if a.verified is False and (oracle := c.oracle_answer()) is not None:
                a.text, a.verified, a.fallback_used = oracle, True, "oracle"
