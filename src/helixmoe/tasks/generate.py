"""Seeded example streams and the split rule.

**Splits.** ``train``/``val``/``test`` share one distribution; a prompt's split is a pure function of its
text (:func:`prompt_split`, a hash bucket), and a generator for one split discards candidates that hash
elsewhere. So no prompt can ever appear in two in-distribution splits — across seeds, corpora and
on-the-fly training streams. ``ood`` uses its own profile (deeper/wider values, unseen keys and handle
names, larger numbers) and only held-out phrasing templates, which in-distribution splits never use, so
its prompts differ from theirs too.

**Reproducibility.** One ``random.Random`` per ``(seed, split)``; the same arguments give the same
examples on every run and machine.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterable, Iterator, Sequence

from helixmoe.errors import DataError
from helixmoe.tasks.base import EXPERTS, SPLITS, Example, TaskFamily, get_family, list_families
from helixmoe.tasks.profiles import PROFILES, SplitProfile

__all__ = ["BUCKETS", "generate", "iter_examples", "iter_in_distribution", "prompt_split", "resolve_families"]

#: Hash-bucket shares of the in-distribution splits (out of 1000).
BUCKETS: dict[str, tuple[int, int]] = {"train": (0, 800), "val": (800, 900), "test": (900, 1000)}
_MAX_TRIES = 10_000


def prompt_split(prompt: str) -> str:
    """The in-distribution split a prompt belongs to (``train``, ``val`` or ``test``)."""
    bucket = int.from_bytes(hashlib.blake2b(prompt.encode("utf-8"), digest_size=8).digest(), "big") % 1000
    if bucket < BUCKETS["train"][1]:
        return "train"
    return "val" if bucket < BUCKETS["val"][1] else "test"


def resolve_families(families: Iterable[str] | None) -> list[TaskFamily]:
    """Family instances for ``families`` (names; ``None`` = every family with a positive weight)."""
    if families is None:
        return [get_family(n) for n in list_families() if get_family(n).weight > 0]
    out = [get_family(n) for n in families]
    if not out:
        raise DataError("no task families selected")
    return out


def _id_prefix(split: str, seed: int, experts: Sequence[str] | None) -> str:
    """``<split>-<seed>``, then ``-<expert>[+<expert>...]`` for an expert-filtered stream: each expert's stream
    restarts its index at 0 with the same seed, so without it corpora built one expert at a time (the
    training corpus stage) would repeat ids, and answers files keyed by id could not tell them apart."""
    return f"{split}-{seed}" + ("" if experts is None else "-" + "+".join(experts))


def _select(families: Iterable[str] | None, experts: Sequence[str] | None) -> list[TaskFamily]:
    if experts is not None:
        bad = [e for e in experts if e not in EXPERTS]
        if bad:
            raise DataError(f"unknown expert(s) {', '.join(bad)}; expected {', '.join(EXPERTS)}")
    chosen = resolve_families(families)
    if experts is not None:
        chosen = [f for f in chosen if set(f.experts) & set(experts)]
        if not chosen:
            raise DataError(f"no selected family produces expert(s) {', '.join(experts)}")
    return chosen


def _candidates(
    rng: random.Random, chosen: list[TaskFamily], profile: SplitProfile, experts: Sequence[str] | None
) -> Iterator[tuple[str, str, str, str, dict[str, str | None]]]:
    """Endless ``(family, prompt, response, expert, meta)`` draws (filtered by expert)."""
    weights = [f.weight for f in chosen]
    while True:
        family = rng.choices(chosen, weights)[0]
        prompt, response, expert, meta = family.sample(rng, profile)
        if experts is None or expert in experts:
            yield family.name, prompt, response, expert, meta


def iter_examples(
    n: int,
    seed: int,
    families: Iterable[str] | None = None,
    split: str = "train",
    *,
    profile: SplitProfile | None = None,
    experts: Sequence[str] | None = None,
) -> Iterator[Example]:
    """Yield ``n`` examples of ``split`` (see :func:`generate`)."""
    if split not in SPLITS:
        raise DataError(f"unknown split {split!r}; expected one of {', '.join(SPLITS)}")
    chosen = _select(families, experts)
    rng = random.Random(f"helixmoe/{seed}/{split}")
    stream = _candidates(rng, chosen, profile or PROFILES[split], experts)
    prefix = _id_prefix(split, seed, experts)
    for index in range(n):
        for _ in range(_MAX_TRIES):
            name, prompt, response, expert, meta = next(stream)
            if split == "ood" or prompt_split(prompt) == split:
                yield Example(f"{prefix}-{index:07d}", name, expert, prompt, response, split, meta)
                break
        else:  # pragma: no cover - only with a degenerate custom profile
            raise DataError(f"could not draw a {split} example after {_MAX_TRIES} tries")


def iter_in_distribution(
    sizes: dict[str, int],
    seed: int,
    families: Iterable[str] | None = None,
    *,
    profile: SplitProfile | None = None,
    experts: Sequence[str] | None = None,
) -> Iterator[Example]:
    """Fill ``train``/``val``/``test`` (``sizes[split]`` each) from one candidate stream, routing every
    candidate to its hash split until that split is full — about half the draws of three separate
    :func:`iter_examples` calls. Used by :func:`~helixmoe.tasks.corpus.build_corpus`."""
    need = {s: sizes.get(s, 0) for s in ("train", "val", "test")}
    chosen = _select(families, experts)
    rng = random.Random(f"helixmoe/{seed}/in-distribution")
    stream = _candidates(rng, chosen, profile or PROFILES["train"], experts)
    made = dict.fromkeys(need, 0)
    while any(made[s] < need[s] for s in need):
        name, prompt, response, expert, meta = next(stream)
        split = prompt_split(prompt)
        if made[split] < need[split]:
            yield Example(
                f"{_id_prefix(split, seed, experts)}-{made[split]:07d}",
                name,
                expert,
                prompt,
                response,
                split,
                meta,
            )
            made[split] += 1


def generate(
    n: int,
    seed: int,
    families: Iterable[str] | None = None,
    split: str = "train",
    *,
    profile: SplitProfile | None = None,
    experts: Sequence[str] | None = None,
) -> list[Example]:
    """Generate ``n`` examples of one split.

    Args:
        n: how many examples.
        seed: the seed; with the other arguments it determines every example.
        families: family names to mix (by their weights); ``None`` = all registered families.
        split: ``train``, ``val``, ``test`` or ``ood``.
        profile: override the split's default :class:`~helixmoe.tasks.profiles.SplitProfile` (difficulty).
        experts: keep only examples for these experts.

    Returns:
        The examples, ids ``<split>-<seed>-<index>`` (``<split>-<seed>-<experts>-<index>`` with ``experts``).

    Raises:
        DataError: unknown split, family or expert.
    """
    return list(iter_examples(n, seed, families, split, profile=profile, experts=experts))
