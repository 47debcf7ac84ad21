"""HLXL, the human-readable HLX notation (spec §3): ``loads``/``dumps`` for one value.

Hand-written because HLXL is this project's own notation; no library parses it. Parsing is small
functions of ``(src, pos)`` returning ``(new_pos, value)``; the emitter is one recursive function.
"""

from __future__ import annotations

import re
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
    parse_number,
    parse_string,
    parse_uint,
    skip_ws,
    too_deep,
)
from helixmoe.hlx.values import MAX_DEPTH, Contract, Handle

__all__ = ["dumps", "loads", "parse_value"]

NOTATION = "hlxl"
_KEYWORDS = {"null": None, "true": True, "false": False}
_SIMPLE_BYTES_RE = re.compile(r'b"([\x20\x21\x23-\x5b\x5d-\x7e]*)"')
_BYTES_CHUNK_RE = re.compile(r"([\x20\x21\x23-\x5b\x5d-\x7e]*)(.?)", re.S)
_BYTES_ESCAPES = {'"': 0x22, "\\": 0x5C, "/": 0x2F, "n": 0x0A, "r": 0x0D, "t": 0x09, "b": 0x08, "f": 0x0C}
_NUMBER_START = frozenset("-0123456789.")
_KEY_START = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_")


def loads(src: str, strict: bool = False) -> Any:
    """Parse one HLXL value; surrounding whitespace is allowed, anything else after it is an error."""
    return parse_document(src, NOTATION, parse_value, strict)


def parse_value(src: str, pos: int, depth: int, strict: bool) -> tuple[int, Any]:
    """Parse the HLXL value starting exactly at ``pos``."""
    char = src[pos]
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
    if char == "{":
        if depth >= MAX_DEPTH:
            raise too_deep(NOTATION, src, pos)
        nxt = src[pos + 1]
        if nxt in _KEY_START:  # the common case, without a detour through _parse_brace
            return _parse_object(src, pos + 1, depth + 1, strict)
        return _parse_brace(src, pos + 1, depth + 1, strict)
    if char == "[":
        if depth >= MAX_DEPTH:
            raise too_deep(NOTATION, src, pos)
        return _parse_array(src, pos + 1, depth + 1, strict)
    if char == "&":
        if src.startswith("&h_", pos):
            return _parse_name(src, pos + 3)
        raise fail(NOTATION, "a handle is written &h_name", src, pos)
    if char == "b" and src.startswith('b"', pos):
        return _parse_bytes(src, pos)
    m = IDENT_RE.match(src, pos)
    if m is not None:
        word = m.group(0)
        if word in _KEYWORDS:
            return m.end(), _KEYWORDS[word]
        raise fail(NOTATION, f"unknown word {word!r}: strings must be in double quotes", src, pos)
    raise expect(src, pos, "a value", NOTATION)


def _parse_array(src: str, pos: int, depth: int, strict: bool) -> tuple[int, list[Any]]:
    items: list[Any] = []
    if src[pos] in WS:
        pos = skip_ws(src, pos)
    if src[pos] == "]":
        return pos + 1, items
    append = items.append
    while True:
        pos, value = parse_value(src, pos, depth, strict)
        append(value)
        char = src[pos]
        if char in WS:
            pos = skip_ws(src, pos)
            char = src[pos]
        if char == ",":
            pos += 1
            if src[pos] == " ":  # the canonical ", " (one space), then the general case
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
    """After ``{``: a digit starts a contract, an identifier an object, ``}`` the empty object."""
    if src[pos] in WS:
        pos = skip_ws(src, pos)
    char = src[pos]
    if char == "}":
        return pos + 1, {}
    if char.isdigit():
        return _parse_contract(src, pos, depth, strict)
    return _parse_object(src, pos, depth, strict)


def _parse_quoted_key(src: str, pos: int, strict: bool) -> tuple[int, str]:
    """Lenient quoted keys (spec §3); ``pos`` is where an identifier was expected."""
    if src[pos] == '"' and not strict:
        end, key = parse_string(src, pos, NOTATION, strict)
        if IDENT_RE.fullmatch(key):
            return end, key
        raise fail(NOTATION, f"invalid object key {key!r}: expected an identifier", src, pos)
    raise expect(src, pos, "an object key (identifier)", NOTATION)


def _parse_object(src: str, pos: int, depth: int, strict: bool) -> tuple[int, dict[str, Any]]:
    obj: dict[str, Any] = {}
    match_key = IDENT_RE.match
    while True:
        m = match_key(src, pos)
        if m is None:
            pos, key = _parse_quoted_key(src, pos, strict)
        else:
            key = m.group()
            pos = m.end()
        if key in obj or key == "C":
            why = "duplicate object key" if key in obj else "reserved object key (spec §4)"
            raise fail(NOTATION, f"{why} {key!r}", src, pos - len(key))
        if src[pos] != ":":
            pos = skip_ws(src, pos)
            if src[pos] != ":":
                raise expect(src, pos, "':' after object key", NOTATION)
        pos += 1
        if src[pos] == " ":
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
            if src[pos] == " ":
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
    """``{id: {@i: v, ...}}`` with ``pos`` at the id (spec §3)."""
    pos, cid = _parse_uint(src, pos, "contract id", strict)
    pos = skip_ws(src, pos)
    if src[pos] != ":":
        raise expect(src, pos, "':' after contract id", NOTATION)
    pos = skip_ws(src, pos + 1)
    if src[pos] != "{":
        raise expect(src, pos, "'{' opening the contract fields", NOTATION)
    pos = skip_ws(src, pos + 1)
    fields: list[tuple[int, Any]] = []
    if src[pos] != "}":
        last = -1
        while True:
            if src[pos] != "@":
                raise expect(src, pos, "'@' starting a contract field", NOTATION)
            start = pos
            pos, index = _parse_uint(src, pos + 1, "field index", strict)
            if index <= last:
                raise fail(
                    NOTATION, f"field indices must be strictly ascending: @{index} after @{last}", src, start
                )
            last = index
            pos = skip_ws(src, pos)
            if src[pos] != ":":
                raise expect(src, pos, "':' after field index", NOTATION)
            pos = skip_ws(src, pos + 1)
            pos, value = parse_value(src, pos, depth, strict)
            fields.append((index, value))
            pos = skip_ws(src, pos)
            if src[pos] == "}":
                break
            if src[pos] != ",":
                raise expect(src, pos, "',' or '}' in contract fields", NOTATION)
            pos = skip_ws(src, pos + 1)
            if src[pos] == "}":
                raise fail(NOTATION, "trailing comma in contract fields", src, pos)
    pos = skip_ws(src, pos + 1)
    if src[pos] != "}":
        raise expect(src, pos, "'}' closing the contract", NOTATION)
    return pos + 1, Contract(cid, tuple(fields))


def _parse_name(src: str, pos: int) -> tuple[int, Handle]:
    return parse_handle_name(src, pos, NOTATION, "&h_")


def _parse_bytes(src: str, pos: int) -> tuple[int, bytes]:
    """``b"..."``: printable ASCII literal, ``\\xhh`` and simple escapes (spec §2)."""
    m = _SIMPLE_BYTES_RE.match(src, pos)
    if m is not None:
        return m.end(), m.group(1).encode("ascii")
    out = bytearray()
    begin = pos
    pos += 2
    while True:
        m = _BYTES_CHUNK_RE.match(src, pos)
        chunk, term = m.groups()  # type: ignore[union-attr]
        out += chunk.encode("ascii")
        pos = m.end()  # type: ignore[union-attr]
        if term == '"':
            return pos, bytes(out)
        if term == "":
            raise fail(NOTATION, "unterminated bytes literal", src, begin)
        if term != "\\":
            raise fail(NOTATION, f"character {term!r} must be written \\xhh in a bytes literal", src, pos - 1)
        esc = src[pos : pos + 1]
        if esc == "x":
            digits = src[pos + 1 : pos + 3]
            if len(digits) != 2 or not all(c in "0123456789abcdefABCDEF" for c in digits):
                raise fail(NOTATION, "expected 2 hex digits after \\x", src, pos + 1)
            out.append(int(digits, 16))
            pos += 3
        elif esc in _BYTES_ESCAPES:
            out.append(_BYTES_ESCAPES[esc])
            pos += 1
        else:
            raise fail(NOTATION, f"invalid escape \\{esc} in bytes literal", src, pos - 1)


_BYTES_ESC_RE = re.compile(rb'[^\x20\x21\x23-\x5b\x5d-\x7e]|["\\]')


def _emit_bytes(data: bytes) -> str:
    def repl(m: re.Match[bytes]) -> bytes:
        byte = m.group(0)
        return b"\\" + byte if byte in (b'"', b"\\") else b"\\x%02x" % byte[0]

    return 'b"' + _BYTES_ESC_RE.sub(repl, data).decode("ascii") + '"'


def dumps(value: Any) -> str:
    """Canonical HLXL for an already validated value (see :func:`helixmoe.hlx.dumps`)."""
    return _emit(value)


def _emit(v: Any) -> str:  # one return per type, ordered by frequency
    kind = type(v)
    if kind is str:
        return emit_string(v)
    if kind is int:
        return repr(v)
    if kind is list:
        return "[" + ", ".join([_emit(x) for x in v]) + "]"
    if kind is dict:
        return "{" + ", ".join([k + ": " + _emit(x) for k, x in v.items()]) + "}"
    if kind is float:
        return repr(v + 0.0)  # + 0.0 writes -0.0 as 0.0 (spec §1)
    if kind is bool:
        return "true" if v else "false"
    if v is None:
        return "null"
    if kind is Contract:
        body = ", ".join([f"@{i}: {_emit(x)}" for i, x in v.fields])
        return f"{{{v.id}: {{{body}}}}}"
    if kind is Handle:
        return "&h_" + str(v.name)
    if kind is bytes:
        return _emit_bytes(v)
    raise HLXError(NOTATION, f"{kind.__name__} is not an HLX value type")
