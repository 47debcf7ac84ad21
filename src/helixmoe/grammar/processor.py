"""Logits processors that make ``model.generate`` emit only canonical values of a target notation.

Two designs, registry :data:`DESIGNS` (measured by ``benchmarks/bench_constrained.py``):

* ``automaton`` (default) — :class:`NotationLogitsProcessor`: our prefix automata
  (:mod:`helixmoe.grammar.grammars`) over a trie of token texts. A token is allowed only if the text stays a
  prefix of a canonical value **and** the fewest characters that then finish the value fit in the tokens
  left before ``max_new_tokens``; EOS only when the value is complete. So even an untrained model stops with
  a value ``hlx.loads(text, notation, strict=True)`` accepts. Needs every printable ASCII character (and
  each LC-R glyph for ``lc-r``) as a single token, which the tokenizers of :mod:`helixmoe.models.tokenizer`
  and every byte-level BPE provide for ASCII.
* ``llguidance`` — :class:`LLGuidanceLogitsProcessor`: the Lark grammars of
  :func:`~helixmoe.grammar.grammars.lark_grammar` through llguidance's ``LLMatcher``. Works on any byte-level
  tokenizer, but a context-free grammar cannot see the token budget: an untrained model may still be inside
  a value when ``max_new_tokens`` runs out. No ``lc-b-hex``.

Rows of one batch may target different notations (a mixed-expert batch). A processor starts over whenever
the ids it is given are not the previous ones plus one token, so it may be reused across ``generate`` calls.
Per-state results are cached per tokenizer and notation and shared by every processor.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Sequence
from typing import Any

import torch
from transformers import LogitsProcessor

from helixmoe.errors import ConfigError
from helixmoe.grammar.grammars import SYNTAXES, automaton, lark_grammar
from helixmoe.grammar.tokens import StateTable, TokenTrie, token_texts
from helixmoe.hlx.api import normalise

__all__ = ["DESIGNS", "LLGuidanceLogitsProcessor", "NotationLogitsProcessor", "state_table"]

logger = logging.getLogger(__name__)
_ASCII = "".join(chr(c) for c in range(0x20, 0x7F))
_LCR_GLYPHS = "\u2205\u22a4\u22a5\u27c1\u22a0\U0001f70a\U0001f701\U0001f702\U0001f703\U0001f704\u25c7\u25c6"
# tokenizer -> {vocab size: trie, (vocab size, notation): table}: built once per tokenizer, shared by every
# processor (the system creates one per generate call), gone with the tokenizer.
_SHARED: weakref.WeakKeyDictionary[Any, dict[Any, Any]] = weakref.WeakKeyDictionary()


def state_table(tokenizer: Any, notation: str, vocab_size: int | None = None) -> StateTable:
    """The shared, cached :class:`StateTable` of ``notation`` for ``tokenizer``."""
    size = max(vocab_size or 0, len(tokenizer))
    shared = _SHARED.setdefault(tokenizer, {})
    if size not in shared:
        shared[size] = TokenTrie(token_texts(tokenizer, size))
    key = (size, notation)
    if key not in shared:
        shared[key] = StateTable(automaton(notation), shared[size])
    return shared[key]  # type: ignore[no-any-return]


def _rows(notations: str | Sequence[str | None]) -> list[str | None]:
    """Normalised notation per row; ``None`` marks a row decoded without a constraint."""
    if isinstance(notations, str):
        return [normalise(notations)]
    if not notations:
        raise ConfigError("constrained decoding needs at least one notation")
    return [None if n is None else normalise(n) for n in notations]


def _eos_ids(tokenizer: Any, eos_token_id: int | Sequence[int] | None) -> list[int]:
    ids = tokenizer.eos_token_id if eos_token_id is None else eos_token_id
    if ids is None:
        raise ConfigError(
            "constrained decoding needs an EOS token: the tokenizer has none and none was given"
        )
    return [int(ids)] if isinstance(ids, int) else [int(i) for i in ids]


class _RowTracker:
    """Follows one ``generate`` call: which step it is, and per-row state (shared by both designs)."""

    def __init__(self, rows: list[str | None], max_new_tokens: int | Sequence[int] | None) -> None:
        self.rows = rows
        if max_new_tokens is not None and not isinstance(max_new_tokens, int):
            max_new_tokens = [int(n) for n in max_new_tokens]
            if len(rows) not in (1, len(max_new_tokens)):
                raise ConfigError(f"{len(rows)} notations but {len(max_new_tokens)} token budgets")
        self.max_new_tokens = max_new_tokens
        self.start_len = -1
        self.prev: torch.Tensor | None = None

    def advance(self, input_ids: torch.Tensor) -> bool:
        """Record this step; True when it starts a new generation (the text is not the last one + 1 token)."""
        batch, length = input_ids.shape
        if len(self.rows) not in (1, batch):
            raise ConfigError(f"{len(self.rows)} notations for a batch of {batch} rows")
        prev = self.prev
        fresh = prev is None or prev.shape != (batch, length - 1) or not torch.equal(input_ids[:, :-1], prev)
        if fresh:
            self.start_len = length
        self.prev = input_ids
        return fresh

    def notation(self, row: int) -> str | None:
        return self.rows[0] if len(self.rows) == 1 else self.rows[row]

    def names(self) -> list[str]:
        """The distinct notations (no ``None``)."""
        return [n for n in dict.fromkeys(self.rows) if n is not None]

    def budget(self, row: int) -> int | None:
        """Row ``row``'s ``max_new_tokens`` (``None``: no budget)."""
        if self.max_new_tokens is None or isinstance(self.max_new_tokens, int):
            return self.max_new_tokens
        return self.max_new_tokens[row]

    def tightest(self, notation: str) -> int | None:
        """The smallest budget of the rows that target ``notation`` (``None``: no budget)."""
        if self.max_new_tokens is None or isinstance(self.max_new_tokens, int):
            return self.max_new_tokens
        if len(self.rows) == 1:
            return min(self.max_new_tokens) if self.rows[0] == notation else None
        return min((b for b, n in zip(self.max_new_tokens, self.rows) if n == notation), default=None)

    def tokens_left(self, length: int, row: int) -> int:
        """Tokens this step and later may still generate in row ``row`` (a huge number without a budget)."""
        budget = self.budget(row)
        if budget is None:
            return 1 << 30
        return budget - (length - self.start_len)


class NotationLogitsProcessor(LogitsProcessor):
    """Mask logits so each row emits one canonical value of its notation, finished within the budget.

    Args:
        tokenizer: HF tokenizer of the model (any kind; token texts come from ``decode``).
        notations: One notation for every row, or one per row (``hlx.NOTATIONS`` except ``lc-b``; ``None``
            leaves that row unconstrained).
        max_new_tokens: The same value given to ``generate``, or one per row (a decoder with per-row caps, so a
            row's answer does not depend on its batch); ``None`` turns off the termination guarantee.
        eos_token_id: Overrides the tokenizer's EOS id(s).
        vocab_size: Logit width if larger than the tokenizer (padded embeddings); extra ids are masked.

    Raises:
        ConfigError: no EOS, a notation the tokenizer cannot spell, or a budget below the shortest value.
    """

    def __init__(
        self,
        tokenizer: Any,
        notations: str | Sequence[str | None],
        max_new_tokens: int | Sequence[int] | None = None,
        *,
        eos_token_id: int | Sequence[int] | None = None,
        vocab_size: int | None = None,
    ) -> None:
        self.tracker = _RowTracker(_rows(notations), max_new_tokens)
        self.eos = _eos_ids(tokenizer, eos_token_id)
        self.tables: dict[str, StateTable] = {}
        for name in self.tracker.names():
            table = state_table(tokenizer, name, vocab_size)
            table.trie.require_chars(_ASCII + (_LCR_GLYPHS if name == "lc-r" else ""), name)
            shortest = table.automaton.remaining(table.automaton.start())
            tight = self.tracker.tightest(name)
            if tight is not None and tight < shortest:
                raise ConfigError(f"max_new_tokens={tight} is below the shortest {name} value ({shortest})")
            self.tables[name] = table
        self.states: list[Any] = []
        self.done: list[bool] = []

    def reset(self) -> None:
        """Forget the current generation (the next call starts over; also detected automatically)."""
        self.tracker.prev = None

    def rows_in_grammar(self) -> list[bool]:
        """Per row of the last generation: False where unconstrained (``None`` notation, or a token outside
        the grammar was forced in)."""
        return [state is not None for state in self.states]

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        length = self._step(input_ids)
        width = scores.shape[1]
        mask = torch.full_like(scores, float("-inf"))
        for row in range(scores.shape[0]):
            if self.done[row] or self.states[row] is None:
                mask[row] = 0.0
                continue
            allowed = self._allowed(row, self.tracker.tokens_left(length, row))
            mask[row, [t for t in allowed if t < width]] = 0.0
        return scores + mask

    #: Candidates a row of :meth:`greedy` checks, best first, before it works out every allowed token.
    GREEDY_TRIES = 16

    def greedy(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        """``self(input_ids, scores).argmax(-1)``, (B,), without working out every token a state allows.

        A new state's allowed tokens cost a walk of the whole token trie (most of a grammar-constrained
        evaluation's time: ``cProfile``), but greedy decoding needs only the best one: each constrained row
        checks its tokens from the highest score down (stable: among equal scores the lower id first, as
        ``argmax`` picks) and takes the first the grammar allows within the budget; a trained model's first
        choice nearly always is. After :attr:`GREEDY_TRIES` refusals the row takes the full mask's argmax.
        Steps as :meth:`__call__` does (the two may be mixed within one generation).
        """
        chosen = scores.argmax(-1)
        picks = self._best(input_ids, scores, 1)
        if picks:
            rows = list(picks)
            chosen[rows] = torch.tensor([picks[r][0] for r in rows], dtype=chosen.dtype, device=chosen.device)
        return chosen

    def best_allowed(self, input_ids: torch.Tensor, scores: torch.Tensor, k: int = 2) -> torch.Tensor:
        """``self(input_ids, scores)`` with only each row's ``k`` best allowed tokens kept, (B, V): the same
        top ``k`` as the full mask, found as :meth:`greedy` finds its one (unconstrained and finished rows keep
        every score, as in :meth:`__call__`). Steps as :meth:`__call__` does."""
        picks = self._best(input_ids, scores, k)
        if not picks:
            return scores
        out = scores.clone()
        rows = list(picks)
        out[rows] = float("-inf")
        for row in rows:
            out[row, picks[row]] = scores[row, picks[row]]
        return out

    def _best(self, input_ids: torch.Tensor, scores: torch.Tensor, k: int) -> dict[int, list[int]]:
        """Step, then the ``k`` best tokens each constrained row allows, best first (ties: lowest id)."""
        length = self._step(input_ids)
        width = scores.shape[1]
        rows = [r for r in range(scores.shape[0]) if not self.done[r] and self.states[r] is not None]
        if not rows:
            return {}
        # one sort and one copy to the host for all constrained rows (on a GPU, not one sync per row)
        tries = max(k, self.GREEDY_TRIES)
        orders = torch.sort(scores[rows], dim=-1, descending=True, stable=True).indices[:, :tries]
        picks = {}
        for row, order in zip(rows, orders.tolist(), strict=True):
            table = self.tables[self.tracker.notation(row)]  # type: ignore[index]
            left = self.tracker.tokens_left(length, row)
            found = []
            for t in order:  # stops at the k-th allowed token: one check for a trained model's greedy step
                if self._allows(table, row, t, left - 1):
                    found.append(t)
                    if len(found) == k:
                        break
            if len(found) < k:
                allowed = sorted(t for t in set(self._allowed(row, left)) if t < width)  # ties: lowest id
                ranked = torch.sort(scores[row, allowed], descending=True, stable=True).indices.tolist()
                found = [allowed[i] for i in ranked[:k]]
            picks[row] = found
        return picks

    def _allows(self, table: StateTable, row: int, token: int, budget: int) -> bool:
        """Whether ``token`` is in :meth:`_allowed` (the state's tokens whose completion fits ``budget``
        characters, and EOS once the value is complete), decided for that one token."""
        state = self.states[row]
        if token in self.eos:
            return bool(table.automaton.accepting(state))
        after = table.advance(state, token)
        return after is not None and table.automaton.remaining(after) <= budget

    def _step(self, input_ids: torch.Tensor) -> int:
        """Start or continue the generation ``input_ids`` belongs to; its length (for ``tokens_left``)."""
        batch, length = input_ids.shape
        if self.tracker.advance(input_ids):
            names = [self.tracker.notation(r) for r in range(batch)]
            self.states = [None if n is None else self.tables[n].automaton.start() for n in names]
            self.done = [False] * batch
        else:
            self._consume(input_ids[:, -1].tolist())
        return length

    def _consume(self, last_tokens: list[int]) -> None:
        for row, token in enumerate(last_tokens):
            if self.done[row] or self.states[row] is None:
                continue
            if token in self.eos:
                self.done[row] = True
                continue
            table = self.tables[self.tracker.notation(row)]  # type: ignore[index]
            self.states[row] = table.advance(self.states[row], token)
            if self.states[row] is None:
                logger.warning("row %d: token %d is outside the grammar; row left unconstrained", row, token)

    def _allowed(self, row: int, left: int) -> list[int]:
        moves = self.tables[self.tracker.notation(row)].get(self.states[row])  # type: ignore[index]
        budget = left - 1  # characters the tokens after this one can still add
        allowed = moves.within(budget)
        if moves.accepting:
            allowed.extend(self.eos)
        if not allowed:  # cannot happen while max_new_tokens >= the shortest value; stop rather than crash
            logger.warning("row %d: no token fits the remaining budget; forcing EOS", row)
            allowed = list(self.eos)
        return allowed


class LLGuidanceLogitsProcessor(LogitsProcessor):
    """The same contract through llguidance and the Lark grammars (no termination guarantee).

    Args:
        tokenizer: A fast HF tokenizer.
        notations: One notation for every row, or one per row (not ``lc-b``/``lc-b-hex``).
        max_new_tokens: Accepted for symmetry; a context-free grammar cannot use it.
        eos_token_id: Overrides the tokenizer's EOS id.
    """

    def __init__(
        self,
        tokenizer: Any,
        notations: str | Sequence[str | None],
        max_new_tokens: int | Sequence[int] | None = None,
        *,
        eos_token_id: int | Sequence[int] | None = None,
        vocab_size: int | None = None,
    ) -> None:
        import llguidance
        import llguidance.hf

        self.tracker = _RowTracker(_rows(notations), max_new_tokens)
        eos = _eos_ids(tokenizer, eos_token_id)
        self.eos = eos
        shared = _SHARED.setdefault(tokenizer, {})
        key = ("llguidance", vocab_size, eos[0])
        if key not in shared:  # about a second for a large vocabulary: once per tokenizer
            shared[key] = llguidance.hf.from_tokenizer(tokenizer, n_vocab=vocab_size, eos_token=eos[0])
        self.lltok = shared[key]
        self.grammars = {}
        for name in self.tracker.names():
            if name not in SYNTAXES:
                raise ConfigError(
                    f"the llguidance design has no grammar for {name}; use the automaton design"
                )
            grammar = llguidance.LLMatcher.grammar_from_lark(lark_grammar(name))
            error = llguidance.LLMatcher.validate_grammar(grammar, self.lltok)
            if error:
                raise ConfigError(f"llguidance rejected the {name} grammar: {error}")
            self.grammars[name] = grammar
        self._llguidance = llguidance
        self.matchers: list[Any] = []

    def reset(self) -> None:
        """Forget the current generation."""
        self.tracker.prev = None

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        batch, _ = input_ids.shape
        if self.tracker.advance(input_ids):
            matcher = self._llguidance.LLMatcher
            names = [self.tracker.notation(r) for r in range(batch)]
            self.matchers = [
                None if n is None else matcher(self.lltok, self.grammars[n], log_level=0) for n in names
            ]
        else:
            for row, token in enumerate(input_ids[:, -1].tolist()):
                m = self.matchers[row]
                if m is not None and not m.is_stopped() and not m.is_error():
                    m.consume_token(token)
        vocab = self.lltok.vocab_size
        words = (vocab + 31) // 32
        bitmask = torch.zeros((batch, words), dtype=torch.int32)
        for row, m in enumerate(self.matchers):
            if m is None or m.is_error():  # unconstrained row, or a forced token left the grammar
                bitmask[row] = -1
            elif m.is_stopped():  # the value is complete and nothing may follow: EOS only
                for eos in self.eos:
                    bitmask[row, eos // 32] |= _bit(eos % 32)
            else:
                m.unsafe_compute_mask_ptr(bitmask[row].data_ptr(), words * 4)
        bits = torch.arange(32, dtype=torch.int32)
        allowed = ((bitmask.unsqueeze(-1) >> bits) & 1).bool().reshape(batch, words * 32)[:, :vocab]
        width = scores.shape[1]
        if width > vocab:  # padded embedding rows are never valid tokens
            allowed = torch.cat([allowed, torch.zeros((batch, width - vocab), dtype=torch.bool)], dim=1)
        allowed = allowed[:, :width]
        return scores.masked_fill(~allowed.to(scores.device), float("-inf"))


def _bit(index: int) -> int:
    """Bit ``index`` of an int32 bitmask word, as a signed int32 value."""
    return -(1 << 31) if index == 31 else 1 << index


#: Design name -> processor class.
DESIGNS: dict[str, type[NotationLogitsProcessor] | type[LLGuidanceLogitsProcessor]] = {
    "automaton": NotationLogitsProcessor,
    "llguidance": LLGuidanceLogitsProcessor,
}
