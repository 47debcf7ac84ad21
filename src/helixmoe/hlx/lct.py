"""LC-T, the ASCII text wire format (spec §4): ``loads``/``dumps`` for one value.

Hand-written (no library knows LC-T). Canonical output has no whitespace and is pure ASCII; the lenient
parser also takes raw UTF-8 inside strings. ``{C:<uint>`` always starts a contract.
"""

from __future__ import annotations

from typing import Any

from helixmoe.hlx.errors import HLXError
from helixmoe.hlx.lexical import (
    FAST_FLOAT_RE,
    FAST_INT_RE,
    IDENT_RE,
    SIMPLE_ASCII_RE,
    SIMPLE_STR_RE,
    WS,
    emit_string_ascii,
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

__all__ = ["dumps", "loads", "parse_value"]

NOTATION = "lc-t"
_KEYWORDS = {"NULL": None, "TRUE": True, "FALSE": False}
_NUMBER_START = frozenset("-0123456789.")


def loads(src: str, strict: bool = False) -> Any:
    """Parse one LC-T value; surrounding whitespace is allowed, anything else after it is an error."""
    return parse_document(src, NOTATION, parse_value, strict)


def parse_value(src: str, pos: int, depth: int, strict: bool) -> tuple[int, Any]:
    """Parse the LC-T value starting exactly at ``pos``."""
    char = src[pos]
    if char == '"':
        m = (SIMPLE_ASCII_RE if strict else SIMPLE_STR_RE).match(src, pos)
        if m is not None:
            return m.end(), m.group(1)
        return parse_string(src, pos, NOTATION, strict, ascii_only=strict)
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
    if char == "{":
        if depth >= MAX_DEPTH:
            raise too_deep(NOTATION, src, pos)
        return _parse_brace(src, pos + 1, depth + 1, strict)
    if char == "[":
        if depth >= MAX_DEPTH:
            raise too_deep(NOTATION, src, pos)
        return _parse_array(src, pos + 1, depth + 1, strict)
    if char == "@":
        return _parse_name(src, pos + 1)
    if char == "#":
        return parse_hex(src, pos + 1, NOTATION)
    m = IDENT_RE.match(src, pos)
    if m is not None:
        word = m.group(0)
        if word in _KEYWORDS:
            return m.end(), _KEYWORDS[word]
        if word.upper() in _KEYWORDS:
            raise fail(NOTATION, f"LC-T keywords are upper-case: write {word.upper()}", src, pos)
        raise fail(NOTATION, f"unquoted string {word!r}: strings must be in double quotes", src, pos)
    raise expect(src, pos, "a value", NOTATION)


def _parse_array(src: str, pos: int, depth: int, strict: bool) -> tuple[int, list[Any]]:
    items: list[Any] = []
    if src[pos] in WS:
        pos = skip_ws(src, pos)
    if src[pos] == "]":
        return pos + 1, items
    while True:
        pos, value = parse_value(src, pos, depth, strict)
        items.append(value)
        char = src[pos]
        if char in WS:
            pos = skip_ws(src, pos)
            char = src[pos]
        if char == ",":
            pos += 1
            if src[pos] in WS:
                pos = skip_ws(src, pos)
            if src[pos] == "]":
                raise fail(NOTATION, "trailing comma in array", src, pos)
        elif char == "]":
            return pos + 1, items
        else:
            raise expect(src, pos, "',' or ']'", NOTATION)


def _parse_brace(src: str, pos: int, depth: int, strict: bool) -> tuple[int, Any]:
    """After ``{``: ``C:`` starts a contract, ``}`` is the empty object, else an object."""
    if src[pos] in WS:
        pos = skip_ws(src, pos)
    if src[pos] == "}":
        return pos + 1, {}
    if src[pos] == "C" and not (src[pos + 1 : pos + 2].isalnum() or src[pos + 1 : pos + 2] == "_"):
        return _parse_contract(src, pos + 1, depth, strict)
    obj: dict[str, Any] = {}
    while True:
        m = IDENT_RE.match(src, pos)
        if m is None:
            raise expect(src, pos, "an object key (identifier)", NOTATION)
        key = m.group(0)
        if key in obj or key == "C":
            why = "duplicate object key" if key in obj else "object key 'C' is reserved for contracts:"
            raise fail(NOTATION, f"{why} {key!r}", src, pos)
        pos = m.end()
        if src[pos] in WS:
            pos = skip_ws(src, pos)
        if src[pos] != ":":
            raise expect(src, pos, "':' after object key", NOTATION)
        pos += 1
        if src[pos] in WS:
            pos = skip_ws(src, pos)
        pos, obj[key] = parse_value(src, pos, depth, strict)
        char = src[pos]
        if char in WS:
            pos = skip_ws(src, pos)
            char = src[pos]
        if char == ",":
            pos += 1
            if src[pos] in WS:
                pos = skip_ws(src, pos)
            if src[pos] == "}":
                raise fail(NOTATION, "trailing comma in object", src, pos)
        elif char == "}":
            return pos + 1, obj
        else:
            raise expect(src, pos, "',' or '}'", NOTATION)


def _parse_uint(src: str, pos: int, what: str, strict: bool) -> tuple[int, int]:
    return parse_uint(src, pos, what, NOTATION, strict)


def _parse_contract(src: str, pos: int, depth: int, strict: bool) -> tuple[int, Contract]:
    """``{C:id,i=v,...}`` with ``pos`` just after the ``C`` (spec §4)."""
    pos = skip_ws(src, pos)
    if src[pos] != ":":
        raise expect(src, pos, "':' after C (object key 'C' is reserved for contracts)", NOTATION)
    pos = skip_ws(src, pos + 1)
    if not src[pos].isdigit():
        raise expect(src, pos, "a contract id (object key 'C' is reserved for contracts)", NOTATION)
    pos, cid = _parse_uint(src, pos, "contract id", strict)
    fields: list[tuple[int, Any]] = []
    last = -1
    while True:
        pos = skip_ws(src, pos)
        char = src[pos]
        if char == "}":
            return pos + 1, Contract(cid, tuple(fields))
        if char != ",":
            after = "contract id" if not fields else "contract field"
            raise expect(src, pos, f"',' or '}}' after the {after}", NOTATION)
        pos = skip_ws(src, pos + 1)
        start = pos
        pos, index = _parse_uint(src, pos, "field index", strict)
        if index <= last:
            raise fail(
                NOTATION, f"field indices must be strictly ascending: {index} after {last}", src, start
            )
        last = index
        pos = skip_ws(src, pos)
        if src[pos] != "=":
            raise expect(src, pos, "'=' after field index", NOTATION)
        pos = skip_ws(src, pos + 1)
        pos, value = parse_value(src, pos, depth, strict)
        fields.append((index, value))


def _parse_name(src: str, pos: int) -> tuple[int, Handle]:
    return parse_handle_name(src, pos, NOTATION, "@")


def dumps(value: Any) -> str:
    """Canonical LC-T for an already validated value (see :func:`helixmoe.hlx.dumps`)."""
    return _emit(value)


def _emit(v: Any) -> str:  # one return per type, ordered by frequency
    kind = type(v)
    if kind is str:
        return emit_string_ascii(v)
    if kind is int:
        return repr(v)
    if kind is list:
        return "[" + ",".join([_emit(x) for x in v]) + "]"
    if kind is dict:
        return "{" + ",".join([k + ":" + _emit(x) for k, x in v.items()]) + "}"
    if kind is float:
        return repr(v + 0.0)  # + 0.0 writes -0.0 as 0.0 (spec §1)
    if kind is bool:
        return "TRUE" if v else "FALSE"
    if v is None:
        return "NULL"
    if kind is Contract:
        return "{C:" + str(v.id) + "".join([f",{i}={_emit(x)}" for i, x in v.fields]) + "}"
    if kind is Handle:
        return "@" + str(v.name)
    if kind is bytes:
        return "#" + bytes.hex(v)
    raise HLXError(NOTATION, f"{kind.__name__} is not an HLX value type")
