"""Prefix automaton of ``lc-b-hex``: canonical LC-B bytes (spec §6.1) written as lowercase hex text.

Hand-written because LC-B is length-prefixed (a u16 count followed by exactly that many elements, a string
length followed by exactly that many bytes of valid UTF-8), which no context-free grammar library states
without enumerating every count. The automaton reads one hex digit at a time; a byte is judged when its
second digit arrives, and a first digit is allowed only if some second digit completes a valid byte.

Canonical rules enforced beyond syntax: INT32 for ints that fit and INT64 only for the others; no NaN,
infinity or ``-0.0`` in F64; strictly ascending contract indices that leave room for the remaining fields;
unique object keys, never ``C``. Objects are limited to 52 members so that a one-letter key is always still
free (the codecs allow 255), and nesting to :data:`~helixmoe.grammar.automaton.MAX_NESTING`. Decode-only
tags (INT8/16, UINT*, F32) are never produced. Pure Python; no torch.
"""

from __future__ import annotations

from typing import Any

from helixmoe.grammar.automaton import MAX_NESTING
from helixmoe.grammar.lexemes import DONE, FrameMachine, Node
from helixmoe.grammar.literals import INF

__all__ = ["MAX_OBJECT_MEMBERS", "BinaryAutomaton"]

MAX_OBJECT_MEMBERS = 52  # one-letter keys other than "C"
_HEX = {c: i for i, c in enumerate("0123456789abcdef")}
_NAME_BYTES = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")
_KEY_START = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_")
# UTF-8 lead byte -> (continuation bytes, allowed range of the first continuation byte)
_UTF8_LEAD: dict[int, tuple[int, int, int]] = {}
for _b in range(0xC2, 0xE0):
    _UTF8_LEAD[_b] = (1, 0x80, 0xBF)
for _b in range(0xE0, 0xF0):
    _UTF8_LEAD[_b] = (2, 0xA0 if _b == 0xE0 else 0x80, 0x9F if _b == 0xED else 0xBF)
for _b in range(0xF0, 0xF5):
    _UTF8_LEAD[_b] = (3, 0x90 if _b == 0xF0 else 0x80, 0x8F if _b == 0xF4 else 0xBF)


class BinaryAutomaton(FrameMachine):
    """``start`` / ``feed`` / ``remaining`` / ``accepting`` over lowercase hex digits of LC-B bytes."""

    name = "lc-b-hex"

    def __init__(self) -> None:
        super().__init__()
        self._bytes = {n[3:]: getattr(self, n) for n in dir(self) if n.startswith("_b_")}

    def start(self) -> Node:
        """The state before the first hex digit."""
        return self._push(None, ("V", 0))

    def feed(self, node: Node | None, text: str) -> Node | None:
        """The state after ``text``, or ``None`` when no canonical LC-B value starts that way."""
        for ch in text:
            if node is None:
                return None
            nibble = _HEX.get(ch)
            if nibble is None:
                return None
            frame = node[0]
            if frame[0] == "HI":
                node = self._byte(node[1], frame[1] * 16 + nibble)
            else:
                node = self._high(node, nibble)
        return node

    def accepting(self, node: Node | None) -> bool:
        """True when the digits so far are one complete canonical LC-B value."""
        return node is not None and node[0][0] == "D"

    def _pop(self, node: Node) -> Node:
        return node[1] or DONE

    def _high(self, node: Node, nibble: int) -> Node | None:
        """Push the first digit of a byte if some second digit completes a valid byte."""
        if node[0][0] == "D":
            return None
        base = self._cost(node[0]) + node[2]
        best = min(self.remaining(self._byte(node, nibble * 16 + lo)) for lo in range(16))
        if best >= INF:
            return None
        return (("HI", nibble, best + 1 - base), node, base)

    def _c_HI(self, f: tuple[Any, ...]) -> int:
        return f[2]  # type: ignore[no-any-return]

    def _byte(self, node: Node | None, b: int) -> Node | None:
        if node is None or node[0][0] == "D":
            return None
        return self._bytes[node[0][0]](node, node[0], b)  # type: ignore[no-any-return]

    # ----------------------------------------------------------------- values
    def _c_V(self, f: tuple[Any, ...]) -> int:
        return 2

    def _b_V(self, node: Node, f: tuple[Any, ...], b: int) -> Node | None:
        depth, parent = f[1], node[1]
        if b <= 0x02:
            return parent or DONE
        if b == 0x12:
            return self._push(parent, ("P", 4))
        if b == 0x13:
            return self._push(parent, ("I64", 0, False, True, True))
        if b == 0x21:
            return self._push(parent, ("F64", 0, True, False))
        if b in (0x30, 0x31):
            return self._push(parent, ("LEN", "str" if b == 0x30 else "bytes", depth, 0, 0))
        if b == 0x40:
            return self._push(parent, ("HL",))
        if depth >= MAX_NESTING or b not in (0x50, 0x60, 0x70):
            return None
        if b == 0x50:
            return self._push(self._push(parent, ("CC", depth + 1)), ("P", 2))
        if b == 0x60:
            return self._push(parent, ("LEN", "arr", depth + 1, 0, 0))
        return self._push(parent, ("OC", depth + 1))

    def _c_P(self, f: tuple[Any, ...]) -> int:
        return 2 * f[1]  # type: ignore[no-any-return]

    def _b_P(self, node: Node, f: tuple[Any, ...], b: int) -> Node | None:
        return self._replace(node, ("P", f[1] - 1)) if f[1] > 1 else self._pop(node)

    def _c_I64(self, f: tuple[Any, ...]) -> int:
        return 2 * (8 - f[1])  # type: ignore[no-any-return]

    def _b_I64(self, node: Node, f: tuple[Any, ...], b: int) -> Node | None:
        """INT64 only for values outside INT32 (spec §6.1 "encoder emits")."""
        k, b3_high, zeros, ones = f[1:]
        if k == 7:
            fits = (zeros and not b3_high and b == 0) or (ones and b3_high and b == 0xFF)
            return None if fits else self._pop(node)
        if k == 3:
            b3_high = b >= 0x80
        elif k > 3:
            zeros, ones = zeros and b == 0, ones and b == 0xFF
        return self._replace(node, ("I64", k + 1, b3_high, zeros, ones))

    _c_F64 = _c_I64

    def _b_F64(self, node: Node, f: tuple[Any, ...], b: int) -> Node | None:
        """F64, little-endian: no NaN/infinity (exponent all ones) and no -0.0 (spec §1)."""
        k, all_zero, b6_top = f[1:]
        if k == 7:
            if (b6_top and b & 0x7F == 0x7F) or (all_zero and b == 0x80):
                return None
            return self._pop(node)
        if k == 6:
            b6_top = b & 0xF0 == 0xF0
        return self._replace(node, ("F64", k + 1, all_zero and b == 0, b6_top))

    # ----------------------------------------------------------------- length-prefixed bodies
    def _c_LEN(self, f: tuple[Any, ...]) -> int:
        return 4 if f[3] == 0 else 2 + 2 * 256 * f[4]

    def _b_LEN(self, node: Node, f: tuple[Any, ...], b: int) -> Node | None:
        kind, depth, k, high = f[1:]
        if k == 0:
            return self._replace(node, ("LEN", kind, depth, 1, b))
        count = high * 256 + b
        if count == 0:
            return self._pop(node)
        if kind == "str":
            return self._replace(node, ("STR", count, 0, 0, 0))
        if kind == "bytes":
            return self._replace(node, ("P", count))
        return self._replace(node, ("ARR", depth, count))

    def _c_STR(self, f: tuple[Any, ...]) -> int:
        return 2 * f[1]  # type: ignore[no-any-return]

    def _b_STR(self, node: Node, f: tuple[Any, ...], b: int) -> Node | None:
        """One byte of a UTF-8 string body that must end on a character boundary."""
        left, need, low, high = f[1] - 1, f[2], f[3], f[4]
        if need:
            if not low <= b <= high:
                return None
            need, low, high = need - 1, 0x80, 0xBF
        elif b >= 0x80:
            lead = _UTF8_LEAD.get(b)
            if lead is None or lead[0] > left:
                return None
            need, low, high = lead
        return self._replace(node, ("STR", left, need, low, high)) if left else self._pop(node)

    def _c_ARR(self, f: tuple[Any, ...]) -> int:
        return 2 * f[2]  # type: ignore[no-any-return]

    def _b_ARR(self, node: Node, f: tuple[Any, ...], b: int) -> Node | None:
        rest = self._replace(node, ("ARR", f[1], f[2] - 1)) if f[2] > 1 else self._pop(node)
        return self._b_V(self._push(rest, ("V", f[1])), ("V", f[1]), b)

    def _c_HL(self, f: tuple[Any, ...]) -> int:
        return 4

    def _b_HL(self, node: Node, f: tuple[Any, ...], b: int) -> Node | None:
        return self._replace(node, ("HN", b)) if b else None

    def _c_HN(self, f: tuple[Any, ...]) -> int:
        return 2 * f[1]  # type: ignore[no-any-return]

    def _b_HN(self, node: Node, f: tuple[Any, ...], b: int) -> Node | None:
        if b not in _NAME_BYTES:
            return None
        return self._replace(node, ("HN", f[1] - 1)) if f[1] > 1 else self._pop(node)

    # ----------------------------------------------------------------- contracts and objects
    def _c_CC(self, f: tuple[Any, ...]) -> int:
        return 2

    def _b_CC(self, node: Node, f: tuple[Any, ...], b: int) -> Node | None:
        return self._replace(node, ("CF", f[1], b, -1)) if b else self._pop(node)

    def _c_CF(self, f: tuple[Any, ...]) -> int:
        return 4 * f[2]  # type: ignore[no-any-return]

    def _b_CF(self, node: Node, f: tuple[Any, ...], b: int) -> Node | None:
        """A field index: above the last, leaving room for the fields still to come (all ≤ 255)."""
        depth, left, last = f[1], f[2] - 1, f[3]
        if b <= last or b > 255 - left:
            return None
        rest = self._replace(node, ("CF", depth, left, b)) if left else self._pop(node)
        return self._push(rest, ("V", depth))

    def _c_OC(self, f: tuple[Any, ...]) -> int:
        return 2

    def _b_OC(self, node: Node, f: tuple[Any, ...], b: int) -> Node | None:
        if b > MAX_OBJECT_MEMBERS:
            return None
        return self._replace(node, ("OM", f[1], b, frozenset())) if b else self._pop(node)

    def _c_OM(self, f: tuple[Any, ...]) -> int:
        return 6 * f[2]  # type: ignore[no-any-return]

    def _b_OM(self, node: Node, f: tuple[Any, ...], b: int) -> Node | None:
        return self._replace(node, ("KY", f[1], f[2], f[3], b, "")) if b else None

    def _c_KY(self, f: tuple[Any, ...]) -> int:
        return 2 * f[4] + 2 + 6 * (f[2] - 1)  # type: ignore[no-any-return]

    def _b_KY(self, node: Node, f: tuple[Any, ...], b: int) -> Node | None:
        depth, members, used, left, text = f[1:]
        if b not in (_KEY_START if not text else _NAME_BYTES):
            return None
        text += chr(b)
        if left > 1:
            return self._replace(node, ("KY", depth, members, used, left - 1, text))
        if text == "C" or text in used:
            return None
        if members > 1:
            rest = self._replace(node, ("OM", depth, members - 1, used | {text}))
        else:
            rest = self._pop(node)
        return self._push(rest, ("V", depth))
