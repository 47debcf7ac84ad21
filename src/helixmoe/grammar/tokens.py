"""The text of every token of a HF tokenizer, as a trie, and the cached per-state token sets on top of it.

Hand-written: the automata of :mod:`helixmoe.grammar.grammars` read characters, so the decoder needs each
token's text and, for every automaton state, the tokens the state accepts and the fewest characters each
leaves to finish. Walking a trie of token texts visits each shared prefix once, so this works for a
300-token character vocabulary and a 150k-token BPE alike; states repeat (inside a string the state does
not change from character to character), so results are cached per state. Pure Python; no torch.
"""

from __future__ import annotations

import logging
import re
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from helixmoe.errors import ConfigError
from helixmoe.grammar.literals import INF

__all__ = ["StateTable", "TokenTrie", "Transitions", "token_texts"]

logger = logging.getLogger(__name__)
_BYTE_PIECE = re.compile(r"<0x[0-9A-Fa-f]{2}>")


def token_texts(tokenizer: Any, vocab_size: int | None = None) -> list[str | None]:
    """Text of each token id; ``None`` for special tokens and byte pieces that are not whole characters.

    Args:
        tokenizer: Any HF tokenizer (``decode`` and ``all_special_ids``).
        vocab_size: Number of ids to map (defaults to ``len(tokenizer)``).
    """
    size = vocab_size if vocab_size is not None else len(tokenizer)
    special = set(tokenizer.all_special_ids)
    raw = tokenizer.convert_ids_to_tokens(list(range(min(size, len(tokenizer)))))
    decoded = tokenizer.batch_decode([[i] for i in range(len(raw))], clean_up_tokenization_spaces=False)
    texts: list[str | None] = []
    for i, (piece, text) in enumerate(zip(raw, decoded)):
        if i in special or not text or "\ufffd" in text:
            texts.append(None)
            continue
        if isinstance(piece, str) and piece.startswith("\u2581") and not text.startswith(" "):
            text = " " + text  # SentencePiece drops the leading space of a lone token
        texts.append(text)
    # A byte-fallback piece (<0x5D>) that spells a character the vocabulary also has as a token is a second
    # spelling no trained model uses: drop it, so each character has one token.
    regular = {
        text for piece, text in zip(raw, texts) if text is not None and not _BYTE_PIECE.fullmatch(str(piece))
    }
    for i, piece in enumerate(raw):
        if texts[i] in regular and _BYTE_PIECE.fullmatch(str(piece)):
            texts[i] = None
    texts.extend([None] * (size - len(texts)))
    return texts


@dataclass
class _Node:
    children: dict[str, _Node] = field(default_factory=dict)
    ids: list[int] = field(default_factory=list)


class TokenTrie:
    """Trie of token texts, with the set of single-character tokens for the completion check."""

    def __init__(self, texts: list[str | None]) -> None:
        self.texts = texts
        self.root = _Node()
        self.single_chars: set[str] = set()
        for token_id, text in enumerate(texts):
            if text is None:
                continue
            node = self.root
            for ch in text:
                node = node.children.setdefault(ch, _Node())
            node.ids.append(token_id)
            if len(text) == 1:
                self.single_chars.add(text)

    def require_chars(self, chars: str, notation: str) -> None:
        """Check every character a minimal completion may need is one token (the budget counts 1 each).

        Raises:
            ConfigError: a character is missing (e.g. an LC-R glyph split into byte pieces by a BPE).
        """
        missing = sorted(set(chars) - self.single_chars)
        if missing:
            shown = "".join(missing[:12])
            raise ConfigError(
                f"the tokenizer has no single-character token for {shown!r}, which {notation} decoding needs; "
                "use a tokenizer from helixmoe.models.tokenizer or the 'llguidance' design"
            )


@dataclass(frozen=True)
class Transitions:
    """What one automaton state allows: token ids and the characters each leaves to finish the value."""

    ids: tuple[int, ...]
    costs: tuple[int, ...]
    max_cost: int
    accepting: bool

    def within(self, budget: int) -> list[int]:
        """The allowed token ids whose completion fits in ``budget`` more characters."""
        if self.max_cost <= budget:
            return list(self.ids)
        return [t for t, c in zip(self.ids, self.costs) if c <= budget]


class StateTable:
    """Per-automaton cache ``state -> Transitions`` (bounded, least recently used evicted first)."""

    def __init__(self, automaton: Any, trie: TokenTrie, max_states: int = 8192) -> None:
        self.automaton = automaton
        self.trie = trie
        self.max_states = max_states
        self._cache: OrderedDict[Any, Transitions] = OrderedDict()

    def get(self, state: Any) -> Transitions:
        """The transitions of ``state``, computed on first use."""
        hit = self._cache.get(state)
        if hit is not None:
            self._cache.move_to_end(state)
            return hit
        result = self._expand(state)
        self._cache[state] = result
        if len(self._cache) > self.max_states:
            self._cache.popitem(last=False)
        return result

    def advance(self, state: Any, token_id: int) -> Any:
        """The state after ``token_id`` (``None`` if the token leaves the grammar)."""
        text = self.trie.texts[token_id] if token_id < len(self.trie.texts) else None
        return None if text is None else self.automaton.feed(state, text)

    def clear(self) -> None:
        """Drop every cached state (benchmarks measure the cold cost with it)."""
        self._cache.clear()

    def _expand(self, state: Any) -> Transitions:
        feed, remaining = self.automaton.feed, self.automaton.remaining
        ids: list[int] = []
        costs: list[int] = []
        stack = [(self.trie.root, state)]
        while stack:
            node, current = stack.pop()
            for ch, child in node.children.items():
                after = feed(current, ch)
                if after is None:
                    continue
                if child.ids:
                    cost = remaining(after)
                    if cost < INF:
                        ids.extend(child.ids)
                        costs.extend([cost] * len(child.ids))
                if child.children:
                    stack.append((child, after))
        return Transitions(tuple(ids), tuple(costs), max(costs, default=0), self.automaton.accepting(state))
