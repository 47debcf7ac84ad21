"""The ``retry`` policy's search: other answers the expert itself gives, tried where it was least sure.

A trained expert's wrong answer is mostly one slip: a dropped item, a swapped digit, a value closed one token
early, at a step where the runner-up token scored nearly as high as the greedy one (the built-in system drops the
last item of ``[1, 2, 3]`` in LC-R; the runner-up at that step, ``,``, leads to the right answer). The search
re-reads the wrong answer with the same expert under the same grammar (forced decoding,
:func:`helixmoe.models.decoding.greedy_decode`), records at every step the margin between the chosen token and the
best other token the grammar allows, then decodes ``branches`` alternatives in one batch: the answer up to one of
its least certain steps, the runner-up there, greedy from then on. The caller takes the first alternative that
verifies, in order of margin. Every token of an alternative is the model's own choice (the runner-up or the
greedy one); verification only accepts or rejects whole answers, so an accepted one is still the model's answer
(``fallback_used="retry"``), unlike the ``oracle`` policy's codec text.

Hand-written: HF ``generate``'s beam search reorders its rows at every step, which the grammar processors
(:mod:`helixmoe.grammar`) read as a new generation (they start over), and it does not run the per-row experts of a
mixed batch; branching at the least certain steps needs only the built-in decoder's forced tokens and step
observer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from helixmoe.system.answer import Answer
from helixmoe.system.verify import Check

__all__ = ["Slip", "alternatives", "least_sure", "retry_failed"]

#: ``decode(rows, forced, observe) -> ids``: the retried requests ``rows`` (indices, repeats allowed) decoded again
#: with the same prompts, experts, caps and grammar, each first emitting its ``forced`` tokens; ``observe`` as in
#: :func:`~helixmoe.models.decoding.greedy_decode`, its indices into ``rows``.
Decode = Callable[
    [list[int], list[list[int]], Callable[[list[int], torch.Tensor], None] | None], list[list[int]]
]


@dataclass(frozen=True, order=True)
class Slip:
    """One step of an answer where another token was possible: the chosen token's lead over it."""

    margin: float
    step: int = field(compare=False)
    runner_up: int = field(compare=False)


def least_sure(scores: torch.Tensor, chosen: Sequence[int]) -> list[tuple[float, int] | None]:
    """Per row of ``scores`` (b, V): the chosen token's lead over the best other token, and that token;
    ``None`` where nothing else is allowed (every other score is ``-inf``)."""
    at = torch.tensor(list(chosen), device=scores.device)[:, None]  # (b, 1)
    lead = scores.gather(1, at)[:, 0]  # (b,)
    others = scores.scatter(1, at, float("-inf"))  # (b, V)
    best, runner = others.max(-1)  # (b,), (b,)
    rows = []
    for margin, token, other in zip((lead - best).tolist(), runner.tolist(), best.tolist(), strict=True):
        rows.append(None if other == float("-inf") else (float(margin), int(token)))
    return rows


def alternatives(
    answers: Sequence[list[int]], eos: int, decode: Decode, branches: int
) -> list[list[list[int]]]:
    """Up to ``branches`` other answers per row, least certain step first (ids without the EOS).

    Args:
        answers: each retried request's answer as decoded (without the EOS).
        eos: the EOS id: an answer is re-read with its EOS, so closing early is a step that can branch too
            (a row cut at its cap stops before reading it).
        decode: runs the requests' generation again with forced tokens (see :data:`Decode`).
        branches: alternatives per row.
    """
    out: list[list[list[int]]] = [[] for _ in answers]
    if branches <= 0 or not answers:
        return out
    reread = [[*a, eos] for a in answers]
    slips: list[list[Slip]] = [[] for _ in answers]
    steps = [0] * len(answers)

    class Observer:
        top = 2  # the chosen token and the best other one: a grammar need not mask the whole vocabulary

        def __call__(self, rows: list[int], scores: torch.Tensor) -> None:
            at = [steps[i] for i in rows]
            chosen = [reread[i][min(t, len(reread[i]) - 1)] for i, t in zip(rows, at, strict=True)]
            for i, t, found in zip(rows, at, least_sure(scores, chosen), strict=True):
                steps[i] += 1
                if found is not None and t < len(reread[i]):
                    slips[i].append(Slip(found[0], t, found[1]))

    decode(list(range(len(answers))), reread, Observer())
    owners, prefixes = [], []
    for i, row_slips in enumerate(slips):
        for slip in sorted(row_slips)[:branches]:
            owners.append(i)
            prefixes.append([*reread[i][: slip.step], slip.runner_up])
    if prefixes:
        for i, ids in zip(owners, decode(owners, prefixes, None), strict=True):
            out[i].append(ids)
    return out


def retry_failed(
    answers: list[Answer],
    checks: Sequence[Check],
    failed: list[int],
    regenerate: Decode,
    to_text: Callable[[Sequence[list[int]]], list[str]],
    eos: int,
    branches: int,
    ids: Sequence[list[int]],
    under_grammar: bool,
) -> None:
    """Replace each ``failed`` answer with the first of the expert's own alternatives that verifies.

    A free first answer is decoded again under its notation's grammar (an answer with no grammar, a
    multi-format one, keeps its own); what still fails is branched at its least certain steps
    (:func:`alternatives`, ``branches`` per row).

    Args:
        answers: the batch's answers; a replaced one gets ``fallback_used="retry"``.
        checks: the batch's checks (target notation, expected value).
        failed: indices of the answers whose check failed.
        regenerate: decodes batch rows again under their grammar (:data:`Decode`, indices into the batch).
        to_text: answer texts of token ids.
        eos: the EOS id.
        branches: alternatives per row (0: only the grammar's re-decode of a free answer).
        ids: the batch's answers as token ids.
        under_grammar: whether they were decoded under their notations' grammars.
    """
    latest = {i: ids[i] for i in failed}
    redo = [] if under_grammar else [i for i in failed if checks[i].target is not None]
    if redo:  # a free answer: first decode it again under the grammar
        again = regenerate(redo, [[] for _ in redo], None)
        latest.update(zip(redo, again, strict=True))
        _accept(answers, checks, redo, [[row] for row in again], to_text)
    left = [j for j, i in enumerate(failed) if answers[i].verified is False]
    if branches <= 0 or not left:
        return
    rows = [failed[j] for j in left]

    def decode(which: list[int], forced: list[list[int]], observe: Any) -> list[list[int]]:
        return regenerate([rows[w] for w in which], forced, observe)

    found = alternatives([latest[i] for i in rows], eos, decode, branches)
    _accept(answers, checks, rows, found, to_text)


def _accept(
    answers: list[Answer],
    checks: Sequence[Check],
    rows: list[int],
    candidates: list[list[list[int]]],
    to_text: Callable[[Sequence[list[int]]], list[str]],
) -> None:
    """Each row's first candidate (token ids) that verifies becomes its answer (``fallback_used="retry"``)."""
    for i, options in zip(rows, candidates, strict=True):
        for text in to_text(options):
            if checks[i].verify(text):
                answers[i].text, answers[i].verified, answers[i].fallback_used = text, True, "retry"
                break
