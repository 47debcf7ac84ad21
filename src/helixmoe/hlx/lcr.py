"""LC-R, the runic glyph notation (spec §5): ``loads``/``dumps`` for one value.

Hand-written (no library knows LC-R). Canonical spacing: ``", "`` and ``": "`` between items, exactly one
space between a contract field index and its value, nothing else. The lenient parser (the default) also
takes the animal-emoji glyphs (a −0x300 shift found in widely copied HLX files), ``{}`` objects, and
whitespace or newlines between tokens; ``strict=True`` takes canonical spacing and glyphs only.
"""

from __future__ import annotations

from typing import Any

from helixmoe.hlx.errors import HLXError
from helixmoe.hlx.lexical import (
    FAST_FLOAT_RE,
    FAST_INT_RE,
    IDENT_RE,
    SIMPLE_STR_RE,
    WS,
    emit_string,
    expect,
    fail,
    parse_document,
    parse_handle_name,
    parse_hex,
    parse_number,
    parse_string,
    parse_uint,
    skip_ws,
    too_deep,
)
from helixmoe.hlx.values import MAX_DEPTH, Contract, Handle

__all__ = ["GLYPHS", "LENIENT_GLYPHS", "dumps", "loads", "parse_value"]

NOTATION = "lc-r"
NULL, TRUE, FALSE = "\u2205", "\u22a4", "\u22a5"  # ∅ ⊤ ⊥
HANDLE, BYTES = "\u27c1", "\u22a0"  # ⟁ ⊠
C_START, C_FIELD, C_END = "\U0001f70a", "\U0001f701", "\U0001f702"  # 🜊 🜁 🜂
A_START, A_END = "\U0001f703", "\U0001f704"  # 🜃 🜄
O_START, O_END = "\u25c7", "\u25c6"  # ◇ ◆
#: Canonical glyph of each role (spec §5 table).
GLYPHS = {
    "null": NULL,
    "true": TRUE,
    "false": FALSE,
    "handle": HANDLE,
    "bytes": BYTES,
    "contract_start": C_START,
    "contract_field": C_FIELD,
    "contract_end": C_END,
    "array_start": A_START,
    "array_end": A_END,
    "object_start": O_START,
    "object_end": O_END,
}
#: Lenient alternative -> canonical glyph (the animal emoji are the alchemical ones shifted by −0x300).
LENIENT_GLYPHS = {chr(ord(g) - 0x300): g for g in (C_START, C_FIELD, C_END, A_START, A_END)}
LENIENT_GLYPHS.update({"{": O_START, "}": O_END})
_CONSTANTS = {NULL: None, TRUE: True, FALSE: False}
_CLOSERS = {O_START: O_END, "{": "}"}
_NUMBER_START = frozenset("-0123456789.")


def loads(src: str, strict: bool = False) -> Any:
    """Parse one LC-R value; surrounding whitespace is allowed, anything else after it is an error."""
    return parse_document(src, NOTATION, parse_value, strict)


def _glyph(src: str, pos: int, strict: bool) -> str:
    """The character at ``pos``, with lenient glyphs mapped to canonical ones (an error when strict)."""
    char = src[pos]
    if char in LENIENT_GLYPHS and char not in "{}":
        if strict:
            raise fail(
                NOTATION, f"lenient glyph {char!r}: write {LENIENT_GLYPHS[char]!r} (strict mode)", src, pos
            )
        return LENIENT_GLYPHS[char]
    return char


def _ws(src: str, pos: int, strict: bool) -> int:
    """Optional whitespace between tokens: skipped when lenient, absent when strict."""
    return pos if strict else skip_ws(src, pos)


def _sep(src: str, pos: int, strict: bool) -> int:
    """The space after ``,`` or ``:``: exactly one when strict, any amount when lenient."""
    if not strict:
        return skip_ws(src, pos)
    if src[pos] != " " or src[pos + 1] in WS:
        raise fail(NOTATION, "expected exactly one space here (strict mode)", src, pos)
    return pos + 1


def parse_value(src: str, pos: int, depth: int, strict: bool) -> tuple[int, Any]:
    """Parse the LC-R value starting exactly at ``pos``."""
    char = _glyph(src, pos, strict)
    if char == '"':
        m = SIMPLE_STR_RE.match(src, pos)
        if m is not None:
            return m.end(), m.group(1)
        return parse_string(src, pos, NOTATION, strict)
    if char in _NUMBER_START:
        m = FAST_INT_RE.match(src, pos)
        if m is not None:
            return m.end(), int(m.group())
        m = FAST_FLOAT_RE.match(src, pos)
        if m is not None:
            number = float(m.group()) + 0.0  # + 0.0: -0.0 is 0.0 (spec §1)
            if number - number == 0.0:  # finite; overflow goes the slow way for its error
                return m.end(), number
        return parse_number(src, pos, NOTATION, strict)
    if char in _CONSTANTS:
        return pos + 1, _CONSTANTS[char]
    if char == HANDLE:
        return _parse_name(src, pos + 1)
    if char == BYTES:
        return parse_hex(src, pos + 1, NOTATION)
    if char in (A_START, O_START, C_START, "{"):
        if depth >= MAX_DEPTH:
            raise too_deep(NOTATION, src, pos)
        if char == A_START:
            return _parse_array(src, pos + 1, depth + 1, strict)
        if char == C_START:
            return _parse_contract(src, pos + 1, depth + 1, strict)
        if char == "{" and strict:
            raise fail(NOTATION, "objects are written ◇…◆ (strict mode)", src, pos)
        return _parse_object(src, pos + 1, _CLOSERS[char], depth + 1, strict)
    if IDENT_RE.match(src, pos):
        word = IDENT_RE.match(src, pos).group(0)  # type: ignore[union-attr]
        raise fail(NOTATION, f"unquoted string {word!r}: strings must be in double quotes", src, pos)
    raise expect(src, pos, "a value", NOTATION)


def _parse_array(src: str, pos: int, depth: int, strict: bool) -> tuple[int, list[Any]]:
    items: list[Any] = []
    pos = _ws(src, pos, strict)
    if _glyph(src, pos, strict) == A_END:
        return pos + 1, items
    while True:
        pos, value = parse_value(src, pos, depth, strict)
        items.append(value)
        pos = _ws(src, pos, strict)
        char = _glyph(src, pos, strict)
        if char == ",":
            pos = _sep(src, pos + 1, strict)
            if _glyph(src, pos, strict) == A_END:
                raise fail(NOTATION, "trailing comma in array", src, pos)
        elif char == A_END:
            return pos + 1, items
        else:
            raise expect(src, pos, f"',' or '{A_END}'", NOTATION)


def _parse_object(src: str, pos: int, closer: str, depth: int, strict: bool) -> tuple[int, dict[str, Any]]:
    obj: dict[str, Any] = {}
    pos = _ws(src, pos, strict)
    if src[pos] == closer:
        return pos + 1, obj
    while True:
        m = IDENT_RE.match(src, pos)
        if m is None:
            raise expect(src, pos, "an object key (identifier)", NOTATION)
        key = m.group(0)
        if key in obj or key == "C":
            why = "duplicate object key" if key in obj else "reserved object key (spec §4)"
            raise fail(NOTATION, f"{why} {key!r}", src, pos)
        pos = _ws(src, m.end(), strict)
        if src[pos] != ":":
            raise expect(src, pos, "':' after object key", NOTATION)
        pos = _sep(src, pos + 1, strict)
        pos, obj[key] = parse_value(src, pos, depth, strict)
        pos = _ws(src, pos, strict)
        char = src[pos]
        if char == ",":
            pos = _sep(src, pos + 1, strict)
            if src[pos] == closer:
                raise fail(NOTATION, "trailing comma in object", src, pos)
        elif char == closer:
            return pos + 1, obj
        else:
            raise expect(src, pos, f"',' or '{closer}'", NOTATION)


def _parse_uint(src: str, pos: int, what: str, strict: bool) -> tuple[int, int]:
    return parse_uint(src, pos, what, NOTATION, strict)


def _parse_contract(src: str, pos: int, depth: int, strict: bool) -> tuple[int, Contract]:
    """``🜊id🜁i v🜁j w🜂`` with ``pos`` just after ``🜊`` (spec §5)."""
    pos, cid = _parse_uint(src, _ws(src, pos, strict), "contract id", strict)
    fields: list[tuple[int, Any]] = []
    last = -1
    while True:
        pos = _ws(src, pos, strict)
        char = _glyph(src, pos, strict)
        if char == C_END:
            return pos + 1, Contract(cid, tuple(fields))
        if char != C_FIELD:
            raise expect(src, pos, f"'{C_FIELD}' (field) or '{C_END}' (end of contract)", NOTATION)
        start = pos
        pos, index = _parse_uint(src, _ws(src, pos + 1, strict), "field index", strict)
        if index <= last:
            raise fail(
                NOTATION, f"field indices must be strictly ascending: {index} after {last}", src, start
            )
        last = index
        if src[pos] in WS:
            pos = _sep(src, pos, strict)
        elif strict or src[pos] in _NUMBER_START:  # a digit or '-' would run into the index (spec §5)
            raise expect(src, pos, "a space between the field index and its value", NOTATION)
        pos, value = parse_value(src, pos, depth, strict)
        fields.append((index, value))


def _parse_name(src: str, pos: int) -> tuple[int, Handle]:
    return parse_handle_name(src, pos, NOTATION, HANDLE)


def dumps(value: Any) -> str:
    """Canonical LC-R for an already validated value (see :func:`helixmoe.hlx.dumps`)."""
    return _emit(value)


def _emit(v: Any) -> str:  # one return per type, ordered by frequency
    kind = type(v)
    if kind is str:
        return emit_string(v)
    if kind is int:
        return repr(v)
    if kind is list:
        return A_START + ", ".join([_emit(x) for x in v]) + A_END
    if kind is dict:
        return O_START + ", ".join([k + ": " + _emit(x) for k, x in v.items()]) + O_END
    if kind is float:
        return repr(v + 0.0)  # + 0.0 writes -0.0 as 0.0 (spec §1)
    if kind is bool:
        return TRUE if v else FALSE
    if v is None:
        return NULL
    if kind is Contract:
        return C_START + str(v.id) + "".join([f"{C_FIELD}{i} {_emit(x)}" for i, x in v.fields]) + C_END
    if kind is Handle:
        return HANDLE + str(v.name)
    if kind is bytes:
        return BYTES + bytes.hex(v)
    raise HLXError(NOTATION, f"{kind.__name__} is not an HLX value type")
