"""Frame machinery shared by the text automata, and the lexeme frames: strings, bytes, names, numbers.

Part of the hand-written automata of :mod:`helixmoe.grammar.automaton` (see there for why they are not a
grammar library). :class:`FrameMachine` is the plumbing: a state is an immutable, hashable linked stack
``(frame, parent, cost_below)`` whose ``cost_below`` caches the fewest characters the frames underneath still
need; a frame is a tuple whose first item names its kind, and the machine dispatches ``_s_<kind>`` (step one
character) and ``_c_<kind>`` (characters still needed) through tables built once. :class:`LexemeFrames`
holds the frames of spec §2's lexical rules in their canonical form. Pure Python; no torch.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from helixmoe.grammar.literals import (
    EXP_NEG,
    EXP_POS,
    INF,
    LCB_HEX_INT,
    NEG_INT64,
    U_ESC_ASCII,
    U_ESC_ASCII_NO_HIGH,
    U_ESC_LOW,
    U_ESC_RAW,
    UINT64,
    X_ESC,
    extension,
)

__all__ = ["DONE", "FrameMachine", "LexemeFrames", "Node"]

Node = tuple[Any, Any, int]  # (frame, parent node or None, cost of the frames below)
#: The state after a complete top-level value: nothing may follow it.
DONE: Node = (("D",), None, 0)
_DIGITS = "0123456789"
_HEX = "0123456789abcdef"
_MAX_SIGNIFICANT = 17  # repr never writes more significant digits than this
_IDENT_START = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_")
_IDENT = _IDENT_START | frozenset(_DIGITS)


class FrameMachine:
    """Stack plumbing and per-kind dispatch for frame-based automata."""

    def __init__(self) -> None:
        names = dir(self)
        self._steps: dict[str, Callable[..., Node | None]] = {
            n[3:]: getattr(self, n) for n in names if n.startswith("_s_")
        }
        self._costs: dict[str, Callable[[tuple[Any, ...]], int]] = {
            n[3:]: getattr(self, n) for n in names if n.startswith("_c_")
        }

    def step(self, node: Node | None, ch: str) -> Node | None:
        """The state after one character (``None``: rejected)."""
        return None if node is None else self._steps[node[0][0]](node, node[0], ch)

    def feed(self, node: Node | None, text: str) -> Node | None:
        """The state after ``text``, or ``None`` when no canonical value starts that way."""
        for ch in text:
            if node is None:
                return None
            node = self._steps[node[0][0]](node, node[0], ch)
        return node

    def remaining(self, node: Node | None) -> int:
        """Fewest characters that complete the value from ``node`` (0: complete; INF: dead)."""
        if node is None:
            return INF
        return self._costs[node[0][0]](node[0]) + node[2]

    def accepting(self, node: Node | None) -> bool:
        """True when the text so far is one complete canonical value."""
        return node is not None and node[1] is None and self._costs[node[0][0]](node[0]) == 0

    def _cost(self, f: tuple[Any, ...]) -> int:
        return self._costs[f[0]](f)

    def _step(self, node: Node, ch: str) -> Node | None:
        return self._steps[node[0][0]](node, node[0], ch)

    def _push(self, parent: Node | None, frame: tuple[Any, ...]) -> Node:
        below = 0 if parent is None else self._costs[parent[0][0]](parent[0]) + parent[2]
        return (frame, parent, below)

    def _replace(self, node: Node, frame: tuple[Any, ...]) -> Node:
        return self._push(node[1], frame)

    def _pop_feed(self, node: Node, ch: str) -> Node | None:
        parent = node[1]
        return None if parent is None else self._step(parent, ch)

    def _c_D(self, f: tuple[Any, ...]) -> int:  # a finished top-level value
        return 0

    def _s_D(self, node: Node, f: tuple[Any, ...], ch: str) -> Node | None:
        return None


class LexemeFrames(FrameMachine):
    """Frames of single tokens: ``S`` string body, ``BY`` HLXL bytes body, ``H`` hex bytes, ``NM`` handle
    name, ``X`` LC-B text hex integer, ``N`` decimal number."""

    def _c_S(self, f: tuple[Any, ...]) -> int:
        esc = f[2]
        if esc is None:
            return 1
        if esc == "b":
            return 2
        if esc == "h1":
            return 7
        if esc == "h2":
            return 6
        _, value, length, low = esc
        pair = f[1] and not low and extension(U_ESC_ASCII_NO_HIGH, value, length, 16) >= INF
        return int(5 - length + (6 if pair else 0))

    def _s_S(self, node: Node, f: tuple[Any, ...], ch: str) -> Node | None:
        ascii_only, esc = f[1], f[2]
        if esc is None:
            if ch == '"':
                return node[1] or DONE
            if ch == "\\":
                return self._replace(node, ("S", ascii_only, "b"))
            code = ord(ch)
            if code < 0x20 or code == 0x7F or (ascii_only and code > 0x7E) or 0xD800 <= code <= 0xDFFF:
                return None
            return node
        if esc == "b":
            if ch in '"\\nrt':
                return self._replace(node, ("S", ascii_only, None))
            return self._replace(node, ("S", ascii_only, ("u", 0, 0, False))) if ch == "u" else None
        if esc == "h1":
            return self._replace(node, ("S", ascii_only, "h2")) if ch == "\\" else None
        if esc == "h2":
            return self._replace(node, ("S", ascii_only, ("u", 0, 0, True))) if ch == "u" else None
        if ch not in _HEX:
            return None
        _, value, length, low = esc
        value, length = value * 16 + int(ch, 16), length + 1
        ranges = U_ESC_LOW if low else U_ESC_ASCII if ascii_only else U_ESC_RAW
        if extension(ranges, value, length, 16) >= INF:
            return None
        if length < 4:
            return self._replace(node, ("S", ascii_only, ("u", value, length, low)))
        high = ascii_only and not low and 0xD800 <= value <= 0xDBFF
        return self._replace(node, ("S", ascii_only, "h1" if high else None))

    def _c_BY(self, f: tuple[Any, ...]) -> int:
        esc = f[1]
        return 1 if esc is None else 2 if esc == "b" else 3 - esc[2]

    def _s_BY(self, node: Node, f: tuple[Any, ...], ch: str) -> Node | None:  # HLXL b"..." (spec §2)
        esc = f[1]
        if esc is None:
            if ch == '"':
                return node[1] or DONE
            if ch == "\\":
                return self._replace(node, ("BY", "b"))
            return node if " " <= ch <= "~" else None
        if esc == "b":
            if ch in '"\\':
                return self._replace(node, ("BY", None))
            return self._replace(node, ("BY", ("x", 0, 0))) if ch == "x" else None
        if ch not in _HEX:
            return None
        value, length = esc[1] * 16 + int(ch, 16), esc[2] + 1
        if extension(X_ESC, value, length, 16) >= INF:
            return None
        return self._replace(node, ("BY", None if length == 2 else ("x", value, length)))

    def _c_H(self, f: tuple[Any, ...]) -> int:
        return int(f[1])

    def _s_H(self, node: Node, f: tuple[Any, ...], ch: str) -> Node | None:
        if ch in _HEX:
            return self._replace(node, ("H", 1 - f[1]))
        return None if f[1] else self._pop_feed(node, ch)

    def _c_NM(self, f: tuple[Any, ...]) -> int:
        return 0 if f[1] else 1

    def _s_NM(self, node: Node, f: tuple[Any, ...], ch: str) -> Node | None:
        if ch in _IDENT:
            return self._replace(node, ("NM", f[1] + 1)) if f[1] < 255 else None
        return self._pop_feed(node, ch) if f[1] else None

    def _c_X(self, f: tuple[Any, ...]) -> int:
        return extension(LCB_HEX_INT, f[1], f[2], 16)

    def _s_X(self, node: Node, f: tuple[Any, ...], ch: str) -> Node | None:  # LC-B text 0x... (spec §6.2)
        if ch in _HEX:
            value, length = f[1] * 16 + int(ch, 16), f[2] + 1
            if extension(LCB_HEX_INT, value, length, 16) >= INF:
                return None
            return self._replace(node, ("X", value, length))
        return self._pop_feed(node, ch) if self._c_X(f) == 0 else None

    # numbers: ("N", float_only, neg, int_value, int_len, phase, frac_len, frac_last_zero, frac_significant,
    #           exp_sign, exp_value, exp_len); phase i(nt) f(raction) e(xponent sign) x(exponent digits)
    def _c_N(self, f: tuple[Any, ...]) -> int:
        float_only, neg, iv, il, phase, fl, flz, fsig, esign, ev, el = f[1:]
        if phase == "i":
            if il == 0:
                return 3 if float_only else 1
            if not float_only and extension(NEG_INT64 if neg else UINT64, iv, il) == 0:
                return 0
            return 2 if il <= 16 else INF
        if phase == "f":
            if fl and (not flz or fl == 1) and not (neg and iv == 0 and not fsig):
                return 0
            return 1 if _significant(iv, il, fsig) < _MAX_SIGNIFICANT else INF
        if phase == "e":
            return 3
        return extension(EXP_POS if esign == "+" else EXP_NEG, ev, el)

    def _s_N(self, node: Node, f: tuple[Any, ...], ch: str) -> Node | None:
        kind, float_only, neg, iv, il, phase, fl, flz, fsig, esign, ev, el = f
        new: tuple[Any, ...] | None = None
        if phase == "i":
            if ch in _DIGITS and not (il and iv == 0):
                new = (kind, float_only, neg, iv * 10 + int(ch), il + 1, "i", 0, False, False, "", 0, 0)
            elif ch == "." and 1 <= il <= 16:
                new = (kind, float_only, neg, iv, il, "f", 0, False, False, "", 0, 0)
            elif ch == "e" and il == 1 and iv:
                new = (kind, float_only, neg, iv, il, "e", 0, False, False, "", 0, 0)
        elif phase == "f":
            if ch in _DIGITS and _fraction_digit_ok(iv, il, fl, fsig, ch):
                sig = fsig + 1 if fsig or ch != "0" else 0
                new = (kind, float_only, neg, iv, il, "f", fl + 1, ch == "0", sig, "", 0, 0)
            elif ch == "e" and il == 1 and iv and fl and not flz:
                new = (kind, float_only, neg, iv, il, "e", fl, flz, fsig, "", 0, 0)
        elif phase == "e":
            if ch in "+-":
                new = (kind, float_only, neg, iv, il, "x", fl, flz, fsig, ch, 0, 0)
        elif ch in _DIGITS:
            new = (kind, float_only, neg, iv, il, "x", fl, flz, fsig, esign, ev * 10 + int(ch), el + 1)
        if new is not None:
            return self._replace(node, new) if self._c_N(new) < INF else None
        return self._pop_feed(node, ch) if self._c_N(f) == 0 else None


def _significant(iv: int, il: int, fsig: int) -> int:
    """Significant digits of a float literal so far (leading zeros of ``0.000x`` do not count)."""
    return (il if iv else 0) + fsig


def _fraction_digit_ok(iv: int, il: int, fl: int, fsig: int, ch: str) -> bool:
    """May ``ch`` extend the fraction? At most 17 significant digits, at most 3 zeros after ``0.``
    (``repr`` writes ``1e-05``, not ``0.00001``)."""
    if iv == 0 and fsig == 0 and ch == "0":
        return fl < 3
    return _significant(iv, il, fsig) < _MAX_SIGNIFICANT
