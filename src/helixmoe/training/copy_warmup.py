"""Random-string copy examples for the induction warm-up of a from-scratch base.

No library ships this: it is a data generator, a few lines over the tokenizer's own vocabulary. Each
example asks the model to repeat a string of random vocabulary tokens (prompt = the string, response =
the same string), so the only way to lower the loss is to attend back to the prompt and copy it, which is
the skill every HLX conversion needs. See :class:`helixmoe.config.training.CopyWarmupConfig` for why and
``benchmarks/bench_learnability.py --copy-warmup`` for the measurement.

Public API::

    copy_pairs(tokenizer, n, min_tokens=4, max_tokens=48, seed=0) -> list[TextPair]
"""

from __future__ import annotations

import random
from typing import Any

from helixmoe.errors import DataError
from helixmoe.training.data import TextPair

__all__ = ["copy_pairs"]


def _pieces(tokenizer: Any) -> list[str]:
    """The decoded text of every ordinary vocabulary token (no special, byte-fallback or blank ones)."""
    special = set(tokenizer.all_special_ids)
    pieces = []
    for token_id in range(len(tokenizer)):
        if token_id in special:
            continue
        text = tokenizer.decode([token_id])
        # "\ufffd": half of a multi-byte character; "<|": added markers such as <|user|>.
        if text.strip() and "\ufffd" not in text and "<|" not in text:
            pieces.append(text)
    return pieces


def copy_pairs(
    tokenizer: Any, n: int, min_tokens: int = 4, max_tokens: int = 48, seed: int = 0
) -> list[TextPair]:
    """``n`` seeded copy examples whose strings join ``min_tokens``..``max_tokens`` random vocabulary pieces.

    Raises:
        DataError: the tokenizer has no ordinary tokens to draw from.
    """
    pieces = _pieces(tokenizer)
    if not pieces:
        raise DataError("copy warm-up: the tokenizer has no ordinary tokens to build strings from")
    rng = random.Random(seed)
    pairs = []
    for _ in range(n):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(min_tokens, max_tokens)))
        pairs.append(TextPair(prompt=text, response=text))
    return pairs
