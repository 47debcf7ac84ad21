"""Character-level pushdown automata for the canonical form of HLXL, LC-T, LC-R and LC-B text.

Hand-written, not generated from a grammar library, for one reason: the constrained decoder must know,
after every token, the *fewest characters that complete the value* (so it can refuse tokens that would not
fit in the remaining ``max_new_tokens``), and it must enforce rules a context-free grammar cannot state
cheaply (int64 range, ``-0`` and other non-canonical numbers, strictly ascending contract indices,
duplicate object keys, the 64-level nesting limit). llguidance answers neither question; see
:mod:`helixmoe.grammar.grammars` for its Lark grammars, kept for comparison.

The automaton follows the canonical emitters of :mod:`helixmoe.hlx` (spec §2–§5, §6.2) exactly, with one
documented relaxation: floats are *canonically shaped* (``repr``-style: no trailing fraction zeros, a
one-digit mantissa and a 2–3 digit signed exponent in exponent form) but not checked to be the *shortest*
round-trip text, and ``e+308`` is excluded (``9e+308`` would overflow). Everything it accepts parses with
``hlx.loads(text, notation, strict=True)``.

States and frames are those of :mod:`helixmoe.grammar.lexemes` (which also holds the lexeme frames); this
module holds the structure: values, arrays, objects, contracts and LC-B text's brackets. Pure Python; no
torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from helixmoe.grammar.lexemes import DONE, LexemeFrames, Node
from helixmoe.grammar.literals import INF, INT_MAX, UINT64, decimal_ranges, extension

__all__ = ["MAX_NESTING", "Node", "TextAutomaton", "TextSyntax"]

#: Deepest container nesting the automaton opens (the codecs allow 64; kept a little lower so every
#: notation's way of counting depth stays inside the limit).
MAX_NESTING = 60
_DIGITS = "0123456789"
_IDENT_START = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_")
_IDENT = _IDENT_START | frozenset(_DIGITS)


@dataclass(frozen=True)
class TextSyntax:
    """The tokens of one text notation's canonical form.

    Attributes:
        name: Notation name (``hlx.NOTATIONS``).
        keywords: First character of null/true/false -> the rest of the keyword.
        handle: Handle prefix (``&h_``, ``@``, ``⟁``, ``&``).
        hexbytes: Prefix of ``#hex`` bytes, or ``""`` (HLXL writes ``b"..."``).
        arr: Array open, close; obj: object open, close.
        sep: Item separator; key_sep: after an object key; idx_sep: after a contract field index.
        ascii: Strings are pure ASCII with ``\\uXXXX`` above 0x7E (LC-T, LC-B text).
    """

    name: str
    keywords: dict[str, str]
    handle: str
    hexbytes: str
    arr: tuple[str, str]
    obj: tuple[str, str]
    sep: str
    key_sep: str
    idx_sep: str
    ascii: bool


class TextAutomaton(LexemeFrames):
    """Prefix automaton of one text notation: ``start`` / ``feed`` / ``remaining`` / ``accepting``."""

    def __init__(self, syntax: TextSyntax) -> None:
        super().__init__()
        self.syntax = syntax
        self.name = syntax.name
        self._lbt = syntax.name == "lc-b-text"

    def start(self) -> Node:
        """The state before the first character."""
        if self._lbt:  # spec §6.2: "[" then a contract id or the wrapped value
            return self._push(self._push(None, ("BR", "top", 0)), ("L", "["))
        return self._push(None, ("V", 0, False))

    # ----------------------------------------------------------------- values
    def _c_V(self, f: tuple[Any, ...]) -> int:
        return 1

    def _s_V(self, node: Node, f: tuple[Any, ...], ch: str) -> Node | None:
        syn, depth, parent = self.syntax, f[1], node[1]
        if ch == '"':
            return self._push(parent, ("S", syn.ascii, None))
        if ch in syn.keywords:
            rest = syn.keywords[ch]
            return self._push(parent, ("L", rest)) if rest else parent or DONE
        if ch == syn.handle[0]:
            name = self._push(parent, ("NM", 0))
            return self._push(name, ("L", syn.handle[1:])) if len(syn.handle) > 1 else name
        if syn.hexbytes and ch == syn.hexbytes:
            return self._push(parent, ("H", 0))
        if syn.name == "hlxl" and ch == "b":
            return self._push(self._push(parent, ("BY", None)), ("L", '"'))
        if ch == "-":
            return self._push(parent, ("N", self._lbt, True, 0, 0, "i", 0, False, False, "", 0, 0))
        if ch in _DIGITS:
            if self._lbt:
                return self._push(parent, ("AM", "val", depth, int(ch), 1, ch == "0"))
            return self._push(parent, ("N", False, False, int(ch), 1, "i", 0, False, False, "", 0, 0))
        return self._open(parent, depth, f[2], ch)

    def _open(self, parent: Node | None, depth: int, no_contract: bool, ch: str) -> Node | None:
        syn = self.syntax
        if depth >= MAX_NESTING:
            return None
        if ch == syn.arr[0]:
            if self._lbt:
                return self._push(parent, ("BR", "nc" if no_contract else "in", depth + 1))
            return self._push(parent, ("AF", depth + 1))
        if ch == syn.obj[0]:
            kind = "HB" if syn.name == "hlxl" else "OF"
            return self._push(parent, (kind, depth + 1, syn.name == "lc-t"))
        if syn.name == "lc-r" and ch == "\U0001f70a":
            return self._push(self._push(parent, ("CN", depth + 1, -1, True)), ("U", "cid", 0, 0, 0))
        return None

    def _c_L(self, f: tuple[Any, ...]) -> int:
        return len(f[1])

    def _s_L(self, node: Node, f: tuple[Any, ...], ch: str) -> Node | None:
        rest = f[1]
        if ch != rest[0]:
            return None
        if len(rest) > 1:
            return self._replace(node, ("L", rest[1:]))
        return node[1] or DONE

    # ----------------------------------------------------------------- arrays and objects
    def _c_AF(self, f: tuple[Any, ...]) -> int:
        return 1

    def _s_AF(self, node: Node, f: tuple[Any, ...], ch: str) -> Node | None:
        if ch == self.syntax.arr[1]:
            return node[1] or DONE
        return self._s_V(
            self._push(self._replace(node, ("AN", f[1])), ("V", f[1], False)), ("V", f[1], False), ch
        )

    _c_AN = _c_AF

    def _s_AN(self, node: Node, f: tuple[Any, ...], ch: str) -> Node | None:
        syn = self.syntax
        if ch == syn.arr[1]:
            return node[1] or DONE
        if ch != syn.sep[0]:
            return None
        value = self._push(node, ("V", f[1], False))
        return self._push(value, ("L", syn.sep[1:])) if len(syn.sep) > 1 else value

    def _c_OF(self, f: tuple[Any, ...]) -> int:
        return 1

    def _s_OF(self, node: Node, f: tuple[Any, ...], ch: str) -> Node | None:
        if ch == self.syntax.obj[1]:
            return node[1] or DONE
        if ch not in _IDENT_START:
            return None
        return self._replace(node, ("K", f[1], ch, frozenset(), f[2]))

    def _s_HB(self, node: Node, f: tuple[Any, ...], ch: str) -> Node | None:  # HLXL "{": object or contract
        if ch in _DIGITS:
            contract = self._replace(node, ("CN", f[1], -1, True))
            return self._push(self._push(contract, ("L", ": {")), ("U", "cid", int(ch), 1, 0))
        return self._s_OF(node, f, ch)

    _c_HB = _c_OF
    _c_ON = _c_OF

    def _s_ON(self, node: Node, f: tuple[Any, ...], ch: str) -> Node | None:
        syn = self.syntax
        if ch == syn.obj[1]:
            return node[1] or DONE
        if ch != syn.sep[0]:
            return None
        key = self._replace(node, ("K", f[1], "", f[2], False))
        return self._push(key, ("L", syn.sep[1:])) if len(syn.sep) > 1 else key

    def _c_K(self, f: tuple[Any, ...]) -> int:
        return _key_extension(f[2], f[3], f[4]) + len(self.syntax.key_sep) + 2

    def _s_K(self, node: Node, f: tuple[Any, ...], ch: str) -> Node | None:
        depth, text, used, first = f[1], f[2], f[3], f[4]
        if ch in (_IDENT if text else _IDENT_START):
            return self._replace(node, ("K", depth, text + ch, used, first)) if len(text) < 255 else None
        if ch != ":":
            return None
        if first and text == "C":  # spec §4: "{C:" always starts an LC-T contract
            return self._push(self._replace(node, ("CN", depth, -1, True)), ("U", "cid", 0, 0, 0))
        if not text or text == "C" or text in used:
            return None
        value = self._push(self._replace(node, ("ON", depth, used | {text})), ("V", depth, False))
        rest = self.syntax.key_sep[1:]
        return self._push(value, ("L", rest)) if rest else value

    # ----------------------------------------------------------------- contracts
    def _c_CN(self, f: tuple[Any, ...]) -> int:
        return 2 if self.syntax.name == "hlxl" else 1

    def _s_CN(self, node: Node, f: tuple[Any, ...], ch: str) -> Node | None:
        name, last, first = self.syntax.name, f[2], f[3]
        if name == "hlxl":
            if ch == "}":
                return self._replace(node, ("L", "}"))
            opener = "@" if first else ","
        else:
            closer, opener = {
                "lc-t": ("}", ","),
                "lc-r": ("\U0001f702", "\U0001f701"),
                "lc-b-text": ("]", "|"),
            }[name]
            if ch == closer:
                return node[1] or DONE
        if ch != opener or last >= INT_MAX:
            return None
        index = self._push(node, ("U", "idx", 0, 0, last + 1))
        return self._push(index, ("L", " @")) if name == "hlxl" and not first else index

    def _c_U(self, f: tuple[Any, ...]) -> int:
        ext = extension(decimal_ranges(f[4]), f[2], f[3])
        return ext + (len(self.syntax.idx_sep) + 1 if f[1] == "idx" else 0)

    def _s_U(self, node: Node, f: tuple[Any, ...], ch: str) -> Node | None:
        tag, value, length, low = f[1], f[2], f[3], f[4]
        ranges = decimal_ranges(low)
        if ch in _DIGITS:
            value, length = value * 10 + int(ch), length + 1
            if extension(ranges, value, length) >= INF:
                return None
            return self._replace(node, ("U", tag, value, length, low))
        if extension(ranges, value, length) != 0:
            return None
        if tag == "cid":
            return self._pop_feed(node, ch)
        sep = self.syntax.idx_sep
        if ch != sep[0]:
            return None
        contract = node[1]
        assert contract is not None
        cf = contract[0]
        field = self._push(self._replace(contract, ("CN", cf[1], value, False)), ("V", cf[1], False))
        return self._push(field, ("L", sep[1:])) if len(sep) > 1 else field

    # ----------------------------------------------------------------- LC-B text brackets (spec §6.2)
    # ("BR", role, depth) just after "[";  ("AM", role, depth, value, len, leading_zero) after "[" + digits
    # (or a bare digit in value position): a contract id, a float, or the "0" of "0x".
    def _c_BR(self, f: tuple[Any, ...]) -> int:
        return 2 if f[1] == "top" else 1

    def _s_BR(self, node: Node, f: tuple[Any, ...], ch: str) -> Node | None:
        role, depth = f[1], f[2]
        if ch == "]":
            return None if role == "top" else node[1] or DONE
        if ch in _DIGITS:
            return self._replace(node, ("AM", role, depth, int(ch), 1, ch == "0"))
        if role == "top":  # the wrapper of a non-contract value; a "[" inside it is never a contract
            wrapped = self._push(self._replace(node, ("L", "]")), ("V", depth, True))
            return self._step(wrapped, ch)
        items = self._push(self._replace(node, ("AN", depth)), ("V", depth, False))
        return self._step(items, ch)

    def _am_options(self, f: tuple[Any, ...]) -> tuple[int, int, int]:
        """Characters each reading of an AM frame still needs: (contract, float, hex int)."""
        role, value, length, zero = f[1], f[3], f[4], f[5]
        close = 0 if role == "val" else 1
        contract = extension(UINT64, value, length) + 1 if role in ("top", "in") else INF
        floating = 2 + close if length <= 16 and not (zero and length > 1) else INF
        hexint = 3 + close if zero and length == 1 else INF
        return contract, floating, hexint

    def _c_AM(self, f: tuple[Any, ...]) -> int:
        return min(self._am_options(f))

    def _s_AM(self, node: Node, f: tuple[Any, ...], ch: str) -> Node | None:
        role, depth, value, length, zero = f[1:]
        if ch in _DIGITS:
            new = ("AM", role, depth, value * 10 + int(ch), length + 1, zero)
            return self._replace(node, new) if self._c_AM(new) < INF else None
        contract, floating, hexint = self._am_options(f)
        if ch in "|]" and contract < INF and extension(UINT64, value, length) == 0:
            return self._step(self._replace(node, ("CN", depth, -1, True)), ch)
        if ch == "x" and hexint < INF:
            lexeme: tuple[Any, ...] = ("X", 0, 0)
        elif ch in ".e" and floating < INF:
            lexeme = ("N", True, False, value, length, "i", 0, False, False, "", 0, 0)
        else:
            return None
        if role == "val":
            holder = node[1]
        elif role == "top":
            holder = self._replace(node, ("L", "]"))
        else:
            holder = self._replace(node, ("AN", depth))
        pushed = self._push(holder, lexeme)
        return pushed if ch == "x" else self._step(pushed, ch)


def _key_extension(text: str, used: frozenset[str], first_lct: bool) -> int:
    """Fewest characters to append to an object key prefix so it becomes a new, legal key."""

    def ok(key: str) -> bool:
        return key not in used and (key != "C" or first_lct)

    if text and ok(text):
        return 0
    if len(text) >= 255:
        return INF
    chars = _IDENT if text else _IDENT_START
    if any(ok(text + c) for c in chars):
        return 1
    return 2
