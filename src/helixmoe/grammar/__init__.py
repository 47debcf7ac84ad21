"""Grammar-constrained decoding: an expert can only emit a canonical value of its target notation.

The grammars (:mod:`helixmoe.grammar.grammars`) are pure Python; the logits processors
(:mod:`helixmoe.grammar.processor`) import torch and transformers, so they load on first use. Public API::

    constrained_processor(tokenizer, notations, max_new_tokens, design="automaton") -> LogitsProcessorList
    NotationLogitsProcessor   LLGuidanceLogitsProcessor   DESIGNS
    automaton(notation)   lark_grammar(notation)   GRAMMAR_NOTATIONS   MAX_NESTING

Usage::

    procs = constrained_processor(tok, ["lc-r", "lc-t"], max_new_tokens=64)
    out = model.generate(**batch, max_new_tokens=64, do_sample=False, logits_processor=procs)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from helixmoe.errors import ConfigError
from helixmoe.grammar.automaton import MAX_NESTING
from helixmoe.grammar.grammars import GRAMMAR_NOTATIONS, automaton, lark_grammar

__all__ = [
    "DESIGNS",
    "GRAMMAR_NOTATIONS",
    "MAX_NESTING",
    "LLGuidanceLogitsProcessor",
    "NotationLogitsProcessor",
    "automaton",
    "constrained_processor",
    "lark_grammar",
]

_LAZY = ("DESIGNS", "LLGuidanceLogitsProcessor", "NotationLogitsProcessor")


def constrained_processor(
    tokenizer: Any,
    notations: str | Sequence[str | None],
    max_new_tokens: int | Sequence[int] | None,
    *,
    design: str = "automaton",
    eos_token_id: int | Sequence[int] | None = None,
    vocab_size: int | None = None,
) -> Any:
    """A ``LogitsProcessorList`` holding one constrained processor for ``generate``.

    Args:
        tokenizer: The model's HF tokenizer.
        notations: Target notation of every row, or a list with one per row of the batch (``None``: that
            row is not constrained).
        max_new_tokens: The value passed to ``generate`` (the automaton design finishes the value in it), or
            one per row for a decoder with per-row caps (:func:`helixmoe.models.decoding.greedy_decode`).
        design: ``"automaton"`` (default, guarantees termination) or ``"llguidance"``.
        eos_token_id: Overrides the tokenizer's EOS id(s).
        vocab_size: Logit width when the model's embedding is wider than the tokenizer.

    Raises:
        ConfigError: unknown design, or a processor cannot be built (see the processor classes).
        HLXError: unknown notation.
    """
    from transformers import LogitsProcessorList

    from helixmoe.grammar.processor import DESIGNS

    if design not in DESIGNS:
        raise ConfigError(
            f"unknown constrained-decoding design {design!r}; choose one of {', '.join(DESIGNS)}"
        )
    processor = DESIGNS[design](
        tokenizer, notations, max_new_tokens, eos_token_id=eos_token_id, vocab_size=vocab_size
    )
    return LogitsProcessorList([processor])


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from helixmoe.grammar import processor

        return getattr(processor, name)
    raise AttributeError(f"module 'helixmoe.grammar' has no attribute {name!r}")
