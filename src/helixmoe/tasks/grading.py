"""Grading: one prediction (:func:`grade`) and a whole answers file against a corpus (:func:`grade_answers`).

An answers file is JSONL, one ``{"id": ..., "answer": ...}`` or ``{"prompt": ..., "answer": ...}`` per
line. Examples without an answer count as wrong unless ``only_answered`` is set; answers naming an
unknown id or prompt are errors (``<file>:<line>: ...``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from helixmoe.errors import DataError
from helixmoe.tasks.base import Example, Grade, get_family
from helixmoe.tasks.jsonl import read_jsonl

__all__ = ["GradeCounts", "GradeReport", "grade", "grade_answers", "load_answers"]


def grade(example: Example | Mapping[str, Any], prediction: str) -> Grade:
    """Grade ``prediction`` against ``example`` with the grader of the example's family.

    Args:
        example: an :class:`Example` or its dict form.
        prediction: the model's answer text.
    """
    if not isinstance(example, Example):
        example = Example.from_dict(dict(example))
    if not isinstance(prediction, str):
        raise DataError(f"prediction must be a string, got {type(prediction).__name__}")
    return get_family(example.family).grade(example, prediction)


@dataclass
class GradeCounts:
    """Tallies for one group of examples."""

    n: int = 0
    answered: int = 0
    exact: int = 0
    equivalent: int = 0
    valid: int = 0

    def add(self, result: Grade | None) -> None:
        self.n += 1
        if result is None:
            return
        self.answered += 1
        self.exact += result.exact
        self.equivalent += result.equivalent
        self.valid += result.valid

    def rates(self) -> dict[str, float]:
        """Exact/equivalent/valid as fractions of ``n`` (0.0 for an empty group)."""
        d = self.n or 1
        return {"exact": self.exact / d, "equivalent": self.equivalent / d, "valid": self.valid / d}


@dataclass
class GradeReport:
    """Per-family, per-expert and total tallies."""

    by_family: dict[str, GradeCounts] = field(default_factory=dict)
    by_expert: dict[str, GradeCounts] = field(default_factory=dict)
    total: GradeCounts = field(default_factory=GradeCounts)

    def to_dict(self) -> dict[str, Any]:
        def row(c: GradeCounts) -> dict[str, Any]:
            return {"n": c.n, "answered": c.answered, **c.rates()}

        return {
            "total": row(self.total),
            "by_family": {k: row(v) for k, v in sorted(self.by_family.items())},
            "by_expert": {k: row(v) for k, v in sorted(self.by_expert.items())},
        }


def load_answers(path: str | Path) -> list[tuple[int, str, str, str]]:
    """Read an answers file: ``(line, key kind "id"|"prompt", key, answer)`` per record."""
    out = []
    for line, obj in read_jsonl(path):
        where = f"{path}:{line}"
        if not isinstance(obj, dict):
            raise DataError(f"{where}: expected a JSON object")
        answer = obj.get("answer")
        if "answer" not in obj:
            raise DataError(f"{where}: missing string field 'answer'")
        if not isinstance(answer, str):
            raise DataError(f"{where}: field 'answer' must be a string, got {json.dumps(answer)[:40]}")
        if isinstance(obj.get("id"), str):
            out.append((line, "id", obj["id"], answer))
        elif isinstance(obj.get("prompt"), str):
            out.append((line, "prompt", obj["prompt"], answer))
        else:
            raise DataError(f"{where}: needs a string 'id' or 'prompt'")
    return out


def grade_answers(
    examples: Iterable[Example],
    answers: list[tuple[int, str, str, str]],
    *,
    source: str = "answers",
    only_answered: bool = False,
) -> GradeReport:
    """Grade answers (from :func:`load_answers`) against ``examples``.

    Raises:
        DataError: an answer names an id or prompt that is not in the corpus.
    """
    examples = list(examples)
    by_id = {ex.id: ex for ex in examples}
    by_prompt: dict[str, list[Example]] = {}
    for ex in examples:
        by_prompt.setdefault(ex.prompt, []).append(ex)
    given: dict[str, str] = {}
    for line, kind, key, answer in answers:
        if kind == "id":
            if key not in by_id:
                raise DataError(f"{source}:{line}: id {key!r} is not in the corpus")
            given[key] = answer
        else:
            if key not in by_prompt:
                raise DataError(f"{source}:{line}: prompt {key[:60]!r} is not in the corpus")
            for ex in by_prompt[key]:
                given[ex.id] = answer
    report = GradeReport()
    for ex in examples:
        reply = given.get(ex.id)
        if reply is None and only_answered:
            continue
        result = None if reply is None else grade(ex, reply)
        report.total.add(result)
        report.by_family.setdefault(ex.family, GradeCounts()).add(result)
        report.by_expert.setdefault(ex.expert, GradeCounts()).add(result)
    return report
