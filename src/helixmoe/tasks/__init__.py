"""Task families and corpora: generated, verifiable training and test data for every expert.

Pure Python (layer 0): never imports torch. Every example is drawn from a seed, its reference answer is
the HLX oracle's output (or an exact fact / arithmetic result), and every family grades predictions.

Public API::

    EXPERTS                     ("ascii", "runic", "coordinator", "math")
    SPLITS                      ("train", "val", "test", "ood")
    Example, Grade              the item (``to_dict``/``from_dict``) and a verdict (exact, equivalent, valid, detail)
    TaskFamily                  base class: ``sample(rng, profile)`` and ``grade(example, prediction)``
    register_family, get_family, list_families, FAMILIES
    generate(n, seed, families=None, split="train", *, profile=None, experts=None) -> list[Example]
    iter_examples(...)          the same, lazily
    grade(example, prediction) -> Grade
    task_label(meta) -> str      what an example asks for: its answer notation, ``validate``, ``multi:…``, or its kind
    build_corpus(out_dir, size, seed, families=None) -> {split: path}
    load_corpus(path) -> list[Example]          (a .jsonl file or a corpus directory)
    write_corpus(path, examples), corpus_stats(examples), export_examples / import_records
    ValueSpec, MathSpec, SplitProfile, PROFILES  the difficulty knobs, per split
    random_value(rng, spec=None)                 a seeded HLX value

Families: ``convert`` (HLXL → LC-T/LC-R/LC-B text/LC-B hex), ``parse`` (those → HLXL), ``translate``
(any two notations), ``multi`` (``HLXL: …`` lines), ``canonicalise``, ``validate``, ``explain``
(coordinator facts and "which format" advice), ``glyph`` (LC-R glyphs), ``math`` (second domain), and
``imported`` (records brought in by ``corpus import``; graded by exact match).
"""

from helixmoe.tasks import hlx_checks as _hlx_checks
from helixmoe.tasks import hlx_families as _hlx_families
from helixmoe.tasks import imported as _imported
from helixmoe.tasks import knowledge as _knowledge
from helixmoe.tasks import math_family as _math_family
from helixmoe.tasks.base import (
    EXPERTS,
    FAMILIES,
    META_KEYS,
    SPLITS,
    Example,
    Grade,
    TaskFamily,
    get_family,
    list_families,
    register_family,
    task_label,
)
from helixmoe.tasks.corpus import build_corpus, corpus_stats, load_corpus, write_corpus
from helixmoe.tasks.formats import export_examples, import_records
from helixmoe.tasks.generate import generate, iter_examples, prompt_split
from helixmoe.tasks.grading import grade, grade_answers
from helixmoe.tasks.hlx_families import expert_for
from helixmoe.tasks.profiles import PROFILES, MathSpec, SplitProfile, ValueSpec
from helixmoe.tasks.values import random_value

del _hlx_checks, _hlx_families, _imported, _knowledge, _math_family

__all__ = [
    "EXPERTS",
    "FAMILIES",
    "META_KEYS",
    "PROFILES",
    "SPLITS",
    "Example",
    "Grade",
    "MathSpec",
    "SplitProfile",
    "TaskFamily",
    "ValueSpec",
    "build_corpus",
    "corpus_stats",
    "expert_for",
    "export_examples",
    "generate",
    "get_family",
    "grade",
    "grade_answers",
    "import_records",
    "iter_examples",
    "list_families",
    "load_corpus",
    "prompt_split",
    "random_value",
    "register_family",
    "task_label",
    "write_corpus",
]
