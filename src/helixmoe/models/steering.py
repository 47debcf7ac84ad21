"""How the decoder picks each live row's next token: greedy, or the best a logits processor allows, with forced
tokens and a per-step observer (what :func:`helixmoe.models.decoding.greedy_decode` does besides the batched
forward passes).

A processor sees the whole batch as HF ``generate`` shows it (finished rows are fed EOS, live rows their tokens),
so HF ``LogitsProcessor`` objects and the grammar processors (:mod:`helixmoe.grammar`) work unchanged; a processor
with ``greedy`` / ``best_allowed`` methods (the grammar's) answers the greedy step and the observer's top-k without
masking the whole vocabulary. Forced tokens and the observer serve the ``retry`` search
(:mod:`helixmoe.system.retry`), which HF ``generate`` has no hook for.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

__all__ = ["NextTokens", "Observer", "Processor", "Remapped", "Steering"]

Processor = Callable[[torch.LongTensor, torch.FloatTensor], torch.FloatTensor]
#: ``observe(rows, scores)`` of :func:`~helixmoe.models.decoding.greedy_decode`: live rows (indices into its
#: prompts), their scores (b, V).
Observer = Callable[[list[int], torch.Tensor], None]


@dataclass(frozen=True)
class Steering:
    """What :func:`~helixmoe.models.decoding.greedy_decode` does besides greedy choice: forced tokens per row, a
    per-step observer."""

    forced: list[list[int]] | None = None
    observe: Remapped | None = None


class NextTokens:
    """One micro-batch's token choice: ``choose(logits, index, out)`` gives the live rows' next tokens, (b,).

    ``seen`` is what the processor sees, (B, T) left-padded prompts (``None`` without a processor); it grows by
    one column per step.
    """

    def __init__(
        self, processor: Processor | None, seen: torch.Tensor | None, eos: int, steering: Steering
    ) -> None:
        self.processor = processor if seen is not None else None
        self.seen = seen
        self.eos = eos
        self.steering = steering

    def __call__(self, logits: torch.Tensor, index: list[int], out: list[list[int]]) -> torch.Tensor:
        """The next token of each live row ``index`` (rows of ``out``, the tokens so far) from its ``logits``."""
        processor, seen, observe = self.processor, self.seen, self.steering.observe
        if observe is not None:
            scores = (
                logits
                if processor is None or seen is None
                else _processed(processor, seen, logits, index, observe.top)
            )
            observe(index, scores)
            tokens = scores.argmax(-1)
        elif processor is None or seen is None:
            tokens = logits.argmax(-1)
        else:
            tokens = _choose(processor, seen, logits, index)
        if self.steering.forced is not None:
            tokens = _force(tokens, self.steering.forced, out, index)
        if seen is not None:
            self.seen = _append(seen, tokens, index, self.eos)
        return tokens


class Remapped:
    """An observer seeing other row numbers: row ``j`` of the calls is row ``rows[j]`` of ``observe``'s view
    (a micro-batch, or part of a caller's rows); keeps ``observe``'s ``top``."""

    def __init__(self, observe: Observer, rows: Sequence[int]) -> None:
        self.observe = observe
        self.rows = list(rows)
        self.top: int | None = getattr(observe, "top", None)

    def __call__(self, index: list[int], scores: torch.Tensor) -> None:
        self.observe([self.rows[j] for j in index], scores)


def _choose(processor: Processor, seen: torch.Tensor, logits: torch.Tensor, index: list[int]) -> torch.Tensor:
    """The live rows' greedy tokens, (b,), under the processor, which sees the whole batch (finished rows get
    zero scores). A processor with a ``greedy(input_ids, scores)`` method (the grammar's: it picks the best
    allowed token without working out every allowed one) answers directly; any other processes the scores,
    then ``argmax``."""
    greedy = _method(processor, "greedy")
    if greedy is None:
        return _processed(processor, seen, logits, index).argmax(-1)
    scores = logits.new_zeros((seen.shape[0], logits.shape[-1]))  # (B, V)
    scores[index] = logits
    return greedy(seen, scores)[index]


def _method(processor: Any, name: str) -> Callable[..., torch.Tensor] | None:
    """``processor.<name>``, also inside a one-processor ``LogitsProcessorList``; else ``None``."""
    if isinstance(processor, list) and len(processor) == 1:
        processor = processor[0]
    method = getattr(processor, name, None)
    return method if callable(method) else None


def _append(seen: torch.Tensor, tokens: torch.Tensor, index: list[int], eos: int) -> torch.Tensor:
    """The processor's view one step on: live rows add their token, finished rows EOS (which ends them)."""
    column = torch.full((seen.shape[0],), eos, dtype=seen.dtype, device=seen.device)
    column[index] = tokens
    return torch.cat([seen, column[:, None]], dim=1)  # (B, T + t + 1)


def _processed(
    processor: Processor, seen: torch.Tensor, logits: torch.Tensor, index: list[int], top: int | None = None
) -> torch.Tensor:
    """The live rows' scores after the processor, (b, V), which sees the whole batch (finished rows: zeros).

    With ``top``, a processor with a ``best_allowed(input_ids, scores, k)`` method (the grammar's) keeps only
    each row's ``top`` best allowed tokens (the rest ``-inf``): the same top scores without working out every
    token a state allows."""
    scores = logits.new_zeros((seen.shape[0], logits.shape[-1]))  # (B, V)
    scores[index] = logits
    best = _method(processor, "best_allowed") if top is not None else None
    if best is not None:
        return best(seen, scores, top)[index]
    return processor(seen, scores)[index]  # type: ignore[arg-type]


def _force(
    tokens: torch.Tensor, forced: list[list[int]], out: list[list[int]], index: list[int]
) -> torch.Tensor:
    """``tokens`` (b,) with each live row's next forced token, where it has one left, in place of its own."""
    at, values = [], []
    for j, i in enumerate(index):
        if len(out[i]) < len(forced[i]):
            at.append(j)
            values.append(forced[i][len(out[i])])
    if not at:
        return tokens
    tokens = tokens.clone()
    tokens[at] = torch.tensor(values, dtype=tokens.dtype, device=tokens.device)
    return tokens
