"""The task-family contract: examples, grades, the family base class and the family registry.

A *task family* turns a random generator and a :class:`~helixmoe.tasks.profiles.SplitProfile` into one
:class:`Example` (a prompt, the exact reference response, the expert that should answer, and metadata),
and grades a prediction against an example it made. Families register under a lowercase name; adding a
kind of task is a module, a subclass of :class:`TaskFamily` and one ``@register_family`` line.

Pure Python (layer 0): never imports torch.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from helixmoe.errors import DataError

__all__ = [
    "EXPERTS",
    "FAMILIES",
    "META_KEYS",
    "SPLITS",
    "Example",
    "Grade",
    "TaskFamily",
    "exact_grade",
    "get_family",
    "list_families",
    "make_meta",
    "register_family",
    "task_label",
]

#: Expert names, in a stable order: HLX specialists first, then the second domain.
EXPERTS: tuple[str, ...] = ("ascii", "runic", "coordinator", "math")
#: Split names: three in-distribution splits and the out-of-distribution one.
SPLITS: tuple[str, ...] = ("train", "val", "test", "ood")
#: Every example's ``meta`` has exactly these keys (str or None), so Arrow/``datasets`` infer one schema.
META_KEYS: tuple[str, ...] = ("kind", "src", "dst", "value", "topic", "template", "wrapper")


@dataclass(frozen=True, slots=True)
class Example:
    """One generated item: what is asked, the exact answer, who should answer it.

    Attributes:
        id: unique within a corpus (``<split>-<seed>-<index>``, or ``<split>-<seed>-<expert>-<index>`` when the
            stream was filtered by expert).
        family: the registered name of the family that made it (grades it).
        expert: one of :data:`EXPERTS` (the routing label).
        prompt: the request as a user would type it.
        response: the reference answer, exactly as a model should write it.
        split: one of :data:`SPLITS`.
        meta: :data:`META_KEYS` -> str or None. ``kind`` the task kind; ``src``/``dst`` notations;
            ``value`` the canonical HLXL of the value involved; ``topic`` the fact/glyph topic or math
            problem; ``template``/``wrapper`` the phrasing ids.
    """

    id: str
    family: str
    expert: str
    prompt: str
    response: str
    split: str
    meta: dict[str, str | None] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The JSON object written to corpus files (key order is the corpus format)."""
        return {
            "id": self.id,
            "family": self.family,
            "expert": self.expert,
            "prompt": self.prompt,
            "response": self.response,
            "split": self.split,
            "meta": dict(self.meta),
        }

    @classmethod
    def from_dict(cls, data: Any) -> Example:
        """Build an example from a corpus object; raise :class:`DataError` on a wrong shape."""
        if not isinstance(data, dict):
            raise DataError(f"expected a JSON object, got {type(data).__name__}")
        missing = [k for k in ("id", "family", "expert", "prompt", "response", "split") if k not in data]
        if missing:
            raise DataError(f"missing field(s) {', '.join(missing)}")
        for key in ("id", "family", "expert", "prompt", "response", "split"):
            if not isinstance(data[key], str):
                raise DataError(f"field {key!r} must be a string, got {type(data[key]).__name__}")
        meta = data.get("meta") or {}
        if not isinstance(meta, dict):
            raise DataError(f"field 'meta' must be an object, got {type(meta).__name__}")
        # Only META_KEYS are kept, so every corpus line has the same schema.
        full: dict[str, str | None] = {k: (None if meta.get(k) is None else str(meta[k])) for k in META_KEYS}
        return cls(
            data["id"], data["family"], data["expert"], data["prompt"], data["response"], data["split"], full
        )


@dataclass(frozen=True, slots=True)
class Grade:
    """The verdict on one prediction.

    Attributes:
        exact: the trimmed prediction equals the trimmed reference.
        equivalent: the answer means the same (the HLX value parsed from it equals the reference value;
            for non-HLX answers a family-specific normal form matches). ``exact`` implies ``equivalent``.
        valid: the answer is well formed (parses in the target notation / has the expected shape).
        detail: a short human-readable reason when not exact (empty when exact).
    """

    exact: bool
    equivalent: bool
    valid: bool
    detail: str = ""


def make_meta(**values: str | None) -> dict[str, str | None]:
    """A ``meta`` dict with every key of :data:`META_KEYS` (unknown keys are a programming error)."""
    unknown = set(values) - set(META_KEYS)
    if unknown:
        raise KeyError(f"unknown meta keys {sorted(unknown)}")
    return {k: values.get(k) for k in META_KEYS}


class TaskFamily:
    """Base class of a task family (a kind of verifiable task).

    Subclasses set :attr:`name`, :attr:`experts` (the experts their examples can carry) and
    :attr:`weight` (relative share when families are mixed), and implement :meth:`sample` and
    :meth:`grade`. ``sample`` must be a pure function of the ``rng`` state and the profile, and the
    response must be derivable from the prompt alone.
    """

    name: ClassVar[str] = ""
    experts: ClassVar[tuple[str, ...]] = ()
    weight: ClassVar[float] = 1.0

    def sample(self, rng: random.Random, profile: Any) -> tuple[str, str, str, dict[str, str | None]]:
        """Draw one task: ``(prompt, response, expert, meta)``.

        Args:
            rng: the generator to draw from (the only source of randomness).
            profile: the :class:`~helixmoe.tasks.profiles.SplitProfile` of the split being generated.
        """
        raise NotImplementedError

    def grade(self, example: Example, prediction: str) -> Grade:
        """Grade ``prediction`` against ``example`` (default: exact match after trimming)."""
        return exact_grade(example.response, prediction)


def exact_grade(reference: str, prediction: str) -> Grade:
    """Exact-match grade, with whitespace-collapsed case-insensitive match as ``equivalent``."""
    ref, pred = reference.strip(), prediction.strip()
    if pred == ref:
        return Grade(True, True, True)
    loose = " ".join(pred.split()).casefold() == " ".join(ref.split()).casefold()
    return Grade(False, loose, bool(pred), "differs from the reference")


_REGISTRY: dict[str, TaskFamily] = {}
#: Read-only view name -> family instance (populated as family modules are imported).
FAMILIES = _REGISTRY


def register_family(cls: type[TaskFamily]) -> type[TaskFamily]:
    """Class decorator: register one instance of ``cls`` under ``cls.name`` (lowercase, unique)."""
    name = cls.name
    if not name or name != name.lower():
        raise ValueError(f"family name must be non-empty lowercase, got {name!r}")
    if name in _REGISTRY and type(_REGISTRY[name]) is not cls:
        raise ValueError(f"family {name!r} is already registered")
    bad = set(cls.experts) - set(EXPERTS)
    if bad:
        raise ValueError(f"family {name!r} names unknown experts {sorted(bad)}")
    _REGISTRY[name] = cls()
    return cls


def get_family(name: str) -> TaskFamily:
    """The registered family called ``name``; raise :class:`DataError` naming the known ones."""
    family = _REGISTRY.get(str(name).strip().lower())
    if family is None:
        raise DataError(f"unknown task family {name!r}; known: {', '.join(sorted(_REGISTRY))}")
    return family


def list_families() -> list[str]:
    """Names of the registered families, in registration order."""
    return list(_REGISTRY)


def task_label(meta: Mapping[str, Any] | None) -> str:
    """What an example asks for, as one label: the answer's notation (``hlxl``, ``lc-t``, ``lc-r``,
    ``lc-b-text``, ``lc-b-hex``) for a value answer, ``validate``, ``multi:<notations>``, or the task kind
    (``explain``, ``choose``, ``glyph``, ...; ``none`` when unknown).

    The intent model of a system learns it from the prompts (:mod:`helixmoe.routing.train`); its value
    notations are the verification targets, and with ``training.task_hints`` the experts see it beside the
    request (:func:`helixmoe.models.template.with_task_hint`).
    """
    meta = meta or {}
    kind, dst = meta.get("kind"), meta.get("dst")
    if kind == "validate":
        return "validate"
    if kind == "multi":
        return f"multi:{dst}"
    return str(dst or kind or "none")
