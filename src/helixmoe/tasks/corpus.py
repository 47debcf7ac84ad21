"""Corpora on disk: build, write, load and summarise JSONL example files.

A corpus directory holds one file per split, ``train.jsonl``, ``val.jsonl``, ``test.jsonl``,
``ood.jsonl`` — one :meth:`Example.to_dict` object per line, every ``meta`` with the same keys, so
``datasets.load_dataset("json", data_files={"train": ".../train.jsonl", ...})`` loads it — and a
``manifest.json`` (seed, sizes, families, profiles, counts). All writes are atomic.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from helixmoe.atomic import write_text_atomic
from helixmoe.errors import DataError
from helixmoe.tasks.base import SPLITS, Example
from helixmoe.tasks.generate import iter_examples, iter_in_distribution, resolve_families
from helixmoe.tasks.jsonl import AtomicWriter, atomic_write_lines, dump_line, read_jsonl
from helixmoe.tasks.profiles import PROFILES, SPLIT_FRACTIONS, SplitProfile

__all__ = [
    "build_corpus",
    "corpus_files",
    "corpus_stats",
    "iter_corpus",
    "load_corpus",
    "split_sizes",
    "write_corpus",
]

logger = logging.getLogger(__name__)
FORMAT_VERSION = 1
_LENGTH_EDGES = (16, 32, 64, 128, 256, 512, 1024)


def split_sizes(size: int, fractions: dict[str, float] | None = None) -> dict[str, int]:
    """Split ``size`` examples by ``fractions`` (default :data:`SPLIT_FRACTIONS`); train takes the rest."""
    if size < 0:
        raise DataError(f"corpus size must be >= 0, got {size}")
    fractions = fractions or SPLIT_FRACTIONS
    sizes = {s: int(size * fractions.get(s, 0.0)) for s in SPLITS if s != "train"}
    sizes = {"train": size - sum(sizes.values()), **sizes}
    return sizes


def write_corpus(path: str | Path, examples: Iterable[Example]) -> int:
    """Write examples to a JSONL file atomically; return the count."""
    return atomic_write_lines(path, (dump_line(ex.to_dict()) for ex in examples))


def build_corpus(
    out_dir: str | Path,
    size: int,
    seed: int,
    families: Sequence[str] | None = None,
    *,
    fractions: dict[str, float] | None = None,
    profiles: dict[str, SplitProfile] | None = None,
) -> dict[str, Path]:
    """Generate a corpus of ``size`` examples split by ``fractions`` and write it under ``out_dir``.

    Args:
        out_dir: the corpus directory (created; existing split files are replaced).
        size: total number of examples over all splits.
        seed: the seed (the same arguments give byte-identical files).
        families: family names to mix; ``None`` = all.
        fractions: split -> share (default train 0.85, val 0.05, test 0.05, ood 0.05).
        profiles: override the difficulty of ``"train"`` (shared by val and test, one distribution)
            and/or ``"ood"``; default :data:`~helixmoe.tasks.profiles.PROFILES`.

    Returns:
        Split name -> path of its JSONL file (only splits with at least one example).
    """
    out = Path(out_dir)
    chosen = [f.name for f in resolve_families(families)]
    sizes = split_sizes(size, fractions)
    counts: dict[str, Counter[str]] = {s: Counter() for s in SPLITS}
    start = time.perf_counter()
    used = {**PROFILES, **(profiles or {})}
    used.update(val=used["train"], test=used["train"])
    in_dist = [s for s in ("train", "val", "test") if sizes[s]]
    with ExitStack() as stack:
        writers = {s: stack.enter_context(AtomicWriter(out / f"{s}.jsonl")) for s in in_dist}
        for ex in iter_in_distribution(sizes, seed, chosen, profile=used["train"]):
            writers[ex.split].write_line(dump_line(ex.to_dict()))
            counts[ex.split][ex.family] += 1
        if sizes["ood"]:
            writer = stack.enter_context(AtomicWriter(out / "ood.jsonl"))
            for ex in iter_examples(sizes["ood"], seed, chosen, "ood", profile=used["ood"]):
                writer.write_line(dump_line(ex.to_dict()))
                counts["ood"][ex.family] += 1
    paths = {s: out / f"{s}.jsonl" for s in SPLITS if sizes[s]}
    for split in SPLITS:
        if not sizes[split]:
            (out / f"{split}.jsonl").unlink(missing_ok=True)
    elapsed = time.perf_counter() - start
    manifest = {
        "format": "helixmoe-corpus",
        "version": FORMAT_VERSION,
        "seed": seed,
        "size": size,
        "families": chosen,
        "splits": sizes,
        "counts": {k: dict(sorted(v.items())) for k, v in counts.items() if v},
        "seconds": round(elapsed, 3),
        "profiles": {s: dataclasses.asdict(used[s]) for s in SPLITS},
    }
    write_text_atomic(out / "manifest.json", json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    logger.info(
        "built %d examples in %.1f s (%.0f/s) under %s", size, elapsed, size / max(elapsed, 1e-9), out
    )
    return paths


def corpus_files(path: str | Path) -> list[Path]:
    """The JSONL files of a corpus: ``path`` itself, or a directory's split files (then any other ``*.jsonl``)."""
    path = Path(path)
    if path.is_dir():
        files = [path / f"{s}.jsonl" for s in SPLITS if (path / f"{s}.jsonl").is_file()]
        files += sorted(p for p in path.glob("*.jsonl") if p not in files)
        if not files:
            raise DataError(f"{path}: no .jsonl files in this directory")
        return files
    if not path.exists():
        raise DataError(f"{path}: no such file or directory")
    return [path]


def iter_corpus(path: str | Path) -> Iterator[Example]:
    """Yield the examples of a corpus file or directory, validating each line."""
    for file in corpus_files(path):
        for line, obj in read_jsonl(file):
            try:
                yield Example.from_dict(obj)
            except DataError as err:
                hint = ""
                if isinstance(obj, dict) and "id" not in obj and "family" not in obj:
                    hint = f" (not a corpus line: convert such a file with `helixmoe corpus import -i {file} -o OUT`)"
                raise DataError(f"{file}:{line}: {err}{hint}") from None


def load_corpus(path: str | Path) -> list[Example]:
    """All examples of a corpus file or directory.

    Raises:
        DataError: a missing file, a non-JSON line or a wrong record, as ``<file>:<line>: <what>``.
    """
    return list(iter_corpus(path))


def _histogram(lengths: list[int]) -> dict[str, int]:
    hist: Counter[str] = Counter()
    for n in lengths:
        edge = next((e for e in _LENGTH_EDGES if n <= e), None)
        hist[f"<={edge}" if edge else f">{_LENGTH_EDGES[-1]}"] += 1
    order = [f"<={e}" for e in _LENGTH_EDGES] + [f">{_LENGTH_EDGES[-1]}"]
    return {k: hist[k] for k in order if hist[k]}


def corpus_stats(examples: Iterable[Example]) -> dict[str, Any]:
    """Counts per split/family/expert (and expert per split) and prompt/response length histograms (chars)."""
    by: dict[str, Counter[str]] = {k: Counter() for k in ("split", "family", "expert", "split/expert")}
    prompt_lengths, response_lengths = [], []
    for ex in examples:
        by["split"][ex.split] += 1
        by["family"][ex.family] += 1
        by["expert"][ex.expert] += 1
        by["split/expert"][f"{ex.split}/{ex.expert}"] += 1
        prompt_lengths.append(len(ex.prompt))
        response_lengths.append(len(ex.response))
    total = len(prompt_lengths)

    def summary(lengths: list[int]) -> dict[str, Any]:
        ordered = sorted(lengths) or [0]
        return {
            "mean": round(sum(lengths) / max(total, 1), 1),
            "p50": ordered[len(ordered) // 2],
            "p95": ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))],
            "max": ordered[-1],
            "histogram": _histogram(lengths),
        }

    return {
        "total": total,
        **{f"by_{k.replace('/', '_')}": dict(sorted(v.items())) for k, v in by.items()},
        "prompt_chars": summary(prompt_lengths),
        "response_chars": summary(response_lengths),
    }
