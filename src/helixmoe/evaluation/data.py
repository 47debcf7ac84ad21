"""Which examples an evaluation runs on, and grading an external answers file on the same items.

``--split test|ood|FILE``: a JSONL file is loaded as is; a split name reads the system's own held-out
corpus (``<system>/.train/corpus/<split>.jsonl``, written by training) when it exists, otherwise it
generates fresh examples of that split with a fixed seed (the split rule of :mod:`helixmoe.tasks` keeps
test prompts out of every training split, and ``ood`` uses held-out phrasings and harder values).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from helixmoe.errors import DataError
from helixmoe.tasks import EXPERTS, SPLITS, Example, generate, load_corpus
from helixmoe.tasks.grading import grade_answers, load_answers

__all__ = ["grade_answers_file", "resolve_examples", "split_examples"]

logger = logging.getLogger(__name__)


def resolve_examples(
    split: str,
    *,
    system_root: Path | None = None,
    n: int | None = None,
    seed: int = 1234,
    experts: Sequence[str] | None = None,
) -> tuple[list[Example], str]:
    """The examples to evaluate and a description of where they came from.

    Args:
        split: ``train``/``val``/``test``/``ood`` or the path of a JSONL corpus file.
        system_root: the system directory whose held-out corpus is preferred.
        n: how many to generate when nothing is on disk (default 200).
        seed: generation seed.
        experts: the system's experts (generated examples are restricted to them).

    Raises:
        DataError: an unknown split that is not a file, or no example for these experts.
    """
    path = Path(split)
    if split not in SPLITS:
        if not path.is_file():
            raise DataError(f"--split {split!r} is neither a split ({', '.join(SPLITS)}) nor a JSONL file")
        return load_corpus(path), str(path)
    if system_root is not None:
        held_out = Path(system_root) / ".train" / "corpus" / f"{split}.jsonl"
        if held_out.is_file() and held_out.stat().st_size > 0:
            return load_corpus(held_out), str(held_out)
    known = [e for e in (experts or EXPERTS) if e in EXPERTS]
    if not known:
        raise DataError(
            f"cannot generate {split} examples for experts {', '.join(experts or ())}: "
            f"the task families cover {', '.join(EXPERTS)}; pass a JSONL file as --split"
        )
    count = n or 200
    return generate(
        count, seed, split=split, experts=known
    ), f"generated {split} split (seed {seed}, n {count})"


def split_examples(corpus: str | Path, split: str | None) -> list[Example]:
    """Examples of ``split`` from a corpus directory (``<dir>/<split>.jsonl``) or file (filtered by split)."""
    path = Path(corpus)
    if path.is_dir():
        if split is None:
            return load_corpus(path)
        file = path / f"{split}.jsonl"
        if not file.is_file():
            raise DataError(f"{path}: no {split}.jsonl in this corpus directory")
        return load_corpus(file)
    examples = load_corpus(path)
    if split is None:
        return examples
    chosen = [ex for ex in examples if ex.split == split]
    if not chosen:
        raise DataError(f"{path}: no example of split {split!r}")
    return chosen


def grade_answers_file(
    corpus: str | Path,
    answers: str | Path,
    *,
    split: str | None = None,
    only_answered: bool = False,
) -> dict[str, Any]:
    """Grade an external answers file against a corpus, so any system is scored on the same items.

    Args:
        corpus: a corpus directory or JSONL file.
        answers: JSONL, one ``{"id": ..., "answer": ...}`` or ``{"prompt": ..., "answer": ...}`` per line.
        split: the split of the corpus to grade against (``None`` = all of it).
        only_answered: grade only the examples that have an answer (else a missing one counts as wrong).

    Returns:
        ``{"corpus", "answers", "split", "total", "by_family", "by_expert"}``; each group has ``n``,
        ``answered``, ``exact``, ``equivalent`` and ``valid`` (fractions of ``n``).

    Raises:
        DataError: unreadable files, or an answer naming an id or prompt not in the corpus.
    """
    examples = split_examples(corpus, split)
    report = grade_answers(examples, load_answers(answers), source=str(answers), only_answered=only_answered)
    return {"corpus": str(corpus), "answers": str(answers), "split": split, **report.to_dict()}
