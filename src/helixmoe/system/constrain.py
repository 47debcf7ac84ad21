"""The system's bridge to grammar-constrained decoding (:mod:`helixmoe.grammar`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["grammar_processor"]


def grammar_processor(tokenizer: Any, targets: Sequence[str | None], max_new_tokens: Sequence[int]) -> Any:
    """A ``LogitsProcessorList`` constraining each row to its target notation (``None``: free) within its own
    token cap."""
    from helixmoe.grammar import constrained_processor

    return constrained_processor(tokenizer, list(targets), max_new_tokens)
