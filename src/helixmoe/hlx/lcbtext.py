"""LC-B text, the bracket notation called "LC-B" in prompts (spec §6.2): ``loads``/``dumps`` for one value.

Hand-written (no library knows it), in the same ``(src, pos) -> (new_pos, value)`` style as
:mod:`helixmoe.hlx.lct`. Every top-level value is wrapped once in ``[...]`` except a contract, whose own
brackets are the wrapper; a bracket group whose first token is a bare decimal followed by ``|`` or ``]``
is a contract. Integer values are hex (two's complement in 16/32/64 bits when negative), contract ids and
field indices decimal, floats decimal, strings ASCII with ``\\uXXXX`` escapes.

Lenient forms (rejected with ``strict=True``): upper-case or zero-padded hex integers (``0x03E8``), the
``\\xHH`` escape, raw non-ASCII in strings, leading zeros in ids, a top-level contract wrapped again
(``[[14]]``). Whitespace between tokens is skipped in both modes, as in every text notation (spec §2).
"""

from __future__ import annotations

import re
from typing import Any

from helixmoe.hlx.errors import HLXError
from helixmoe.hlx.lexical import (
    IDENT_RE,
    NAME_RE,
    WS,
    emit_string_ascii,
    expect,
    fail,
    parse_hex,
    parse_number,
    parse_string,
    skip_ws,
    too_deep,
)
from helixmoe.hlx.values import INT_MAX, MAX_DEPTH, Contract, Handle

__all__ = ["dumps", "emit_int", "loads", "parse_int", "parse_value"]

NOTATION = "lc-b-text"
_CONSTANTS: dict[str, Any] = {"_": None, "T": True, "F": False}
_UINT_RE = re.compile(r"\d+")
# After "[": a bare decimal followed by "|" or "]" makes the group a contract (spec §6.2). A decimal at
# the end of the input counts too, so that "[14" reports the unclosed contract.
_CONTRACT_HEAD_RE = re.compile(r"[ \t\r\n]*(\d+)[ \t\r\n]*(?=[|\]]|\Z)")
_FIELD_HEAD_RE = re.compile(r"\|[ \t\r\n]*(\d+)[ \t\r\n]*:[ \t\r\n]*")  # "|index:"
_KEY_HEAD_RE = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)[ \t\r\n]*:[ \t\r\n]*")  # "key:"
_HEXINT_RE = re.compile(r"0[xX]([0-9a-fA-F]+)")
_FLOAT_START = frozenset("-0123456789.")
_SIGNED_WIDTHS = (4, 8, 16)  # hex digits of the 16/32/64-bit two's complement forms
_HIGH_NIBBLE = frozenset("89abcdefABCDEF")


def loads(src: str, strict: bool = False) -> Any:
    """Parse one LC-B text value; surrounding whitespace is allowed, anything else after it is an error."""
    pos, value = parse_value(src, skip_ws(src, 0), 0, strict)
    pos = skip_ws(src, pos)
    if pos != len(src):
        raise fail(NOTATION, f"unexpected {src[pos]!r} after the value", src, pos)
    return value


def parse_value(src: str, pos: int, depth: int, strict: bool) -> tuple[int, Any]:
    """Parse one *top-level* LC-B text value (a contract or ``[inner]``) starting exactly at ``pos``.

    Text after the value is left alone (:func:`helixmoe.hlx.find_values` uses this inside free text).

    Raises:
        HLXError: malformed value, including input that ends inside it.
    """
    try:
        return _parse_top(src, pos, depth, strict)
    except IndexError:
        raise fail(NOTATION, "unexpected end of input", src, len(src)) from None


def _parse_top(src: str, pos: int, depth: int, strict: bool) -> tuple[int, Any]:
    if src[pos] != "[":
        raise expect(src, pos, "'[' opening an LC-B text value", NOTATION)
    if _CONTRACT_HEAD_RE.match(src, pos + 1):
        return _parse_bracket(src, pos, depth, strict)
    pos = skip_ws(src, pos + 1)
    if src[pos] == "]":
        raise fail(NOTATION, "empty brackets: the empty array is written [[]] at top level", src, pos)
    if strict and src[pos] == "[" and _CONTRACT_HEAD_RE.match(src, pos + 1):
        message = "a top-level contract is not wrapped again (strict mode): its own brackets are the wrapper"
        raise fail(NOTATION, message, src, pos)
    pos, value = _parse_inner(src, pos, depth, strict)
    pos = skip_ws(src, pos)
    if src[pos] != "]":
        raise expect(src, pos, "']' closing the top-level value", NOTATION)
    return pos + 1, value


def _parse_inner(src: str, pos: int, depth: int, strict: bool) -> tuple[int, Any]:
    """Parse the value (``inner`` in the grammar) starting exactly at ``pos``."""
    char = src[pos]
    if char == "0" and src[pos + 1 : pos + 2] in ("x", "X"):
        return parse_int(src, pos, strict)
    if char == '"':
        return parse_string(src, pos, NOTATION, strict, ascii_only=strict)
    if char == "[":
        return _parse_bracket(src, pos, depth, strict)
    if char == "{":
        if depth >= MAX_DEPTH:
            raise too_deep(NOTATION, src, pos)
        return _parse_object(src, pos + 1, depth + 1, strict)
    if char in _FLOAT_START:
        if src.startswith(("-0x", "-0X"), pos):
            message = "hex integers have no sign: negatives are two's complement (-1 is 0xffff)"
            raise fail(NOTATION, message, src, pos)
        return _parse_float(src, pos, strict)
    if char == "&":
        return _parse_name(src, pos + 1)
    if char == "#":
        return parse_hex(src, pos + 1, NOTATION)
    m = IDENT_RE.match(src, pos)
    if m is not None:
        word = m.group(0)
        if word in _CONSTANTS:
            return m.end(), _CONSTANTS[word]
        message = f"unknown word {word!r}: null/true/false are _ T F, strings must be in double quotes"
        raise fail(NOTATION, message, src, pos)
    raise expect(src, pos, "a value", NOTATION)


def parse_int(src: str, pos: int, strict: bool) -> tuple[int, int]:
    """Parse a ``0x`` hex integer at ``pos`` (spec §6.2): 4/8/16 digits starting 8–f are negative."""
    m = _HEXINT_RE.match(src, pos)
    if m is None:
        raise expect(src, pos + 2, "hex digits after '0x'", NOTATION)
    digits = m.group(1)
    value = int(digits, 16)
    if len(digits) in _SIGNED_WIDTHS and digits[0] in _HIGH_NIBBLE:
        value -= 1 << (4 * len(digits))
    elif value > INT_MAX:
        raise fail(NOTATION, f"integer {m.group(0)} is outside the int64 range", src, pos)
    if strict and m.group(0) != emit_int(value):
        message = f"non-canonical integer {m.group(0)} (strict mode: write {emit_int(value)})"
        raise fail(NOTATION, message, src, pos)
    return m.end(), value


def _parse_float(src: str, pos: int, strict: bool) -> tuple[int, float]:
    end, number = parse_number(src, pos, NOTATION, strict)
    if type(number) is int:
        message = (
            f"bare decimal {src[pos:end]}: integer values are hex in LC-B text ({emit_int(number)}); "
            "a bare decimal only starts a contract, before '|' or ']'"
        )
        raise fail(NOTATION, message, src, pos)
    return end, number


def _parse_bracket(src: str, pos: int, depth: int, strict: bool) -> tuple[int, Any]:
    """A ``[`` at ``pos``: a contract when a bare decimal + ``|``/``]`` follows, else an array."""
    if depth >= MAX_DEPTH:
        raise too_deep(NOTATION, src, pos)
    head = _CONTRACT_HEAD_RE.match(src, pos + 1)
    if head is not None:
        return _parse_contract(src, head, depth + 1, strict)
    return _parse_array(src, pos + 1, depth + 1, strict)


def _parse_array(src: str, pos: int, depth: int, strict: bool) -> tuple[int, list[Any]]:
    items: list[Any] = []
    if src[pos] in WS:
        pos = skip_ws(src, pos)
    if src[pos] == "]":
        return pos + 1, items
    while True:
        pos, value = _parse_inner(src, pos, depth, strict)
        items.append(value)
        char = src[pos]
        if char in WS:
            pos = skip_ws(src, pos)
            char = src[pos]
        if char == ",":
            pos = skip_ws(src, pos + 1)
            if src[pos] == "]":
                raise fail(NOTATION, "trailing comma in array", src, pos)
        elif char == "]":
            return pos + 1, items
        else:
            raise expect(src, pos, "',' or ']'", NOTATION)


def _parse_object(src: str, pos: int, depth: int, strict: bool) -> tuple[int, dict[str, Any]]:
    obj: dict[str, Any] = {}
    pos = skip_ws(src, pos)
    if src[pos] == "}":
        return pos + 1, obj
    while True:
        m = _KEY_HEAD_RE.match(src, pos)
        if m is None:
            raise _bad_key(src, pos)
        key = m.group(1)
        if key == "C":
            raise fail(NOTATION, "object key 'C' is reserved (spec §4)", src, pos)
        if key in obj:
            raise fail(NOTATION, f"duplicate object key {key!r}", src, pos)
        pos, obj[key] = _parse_inner(src, m.end(), depth, strict)
        char = src[pos]
        if char in WS:
            pos = skip_ws(src, pos)
            char = src[pos]
        if char == ",":
            pos = skip_ws(src, pos + 1)
            if src[pos] == "}":
                raise fail(NOTATION, "trailing comma in object", src, pos)
        elif char == "}":
            return pos + 1, obj
        else:
            raise expect(src, pos, "',' or '}'", NOTATION)


def _bad_key(src: str, pos: int) -> HLXError:
    """The error where ``key:`` was expected at ``pos``."""
    m = IDENT_RE.match(src, pos)
    if m is None:
        return expect(src, pos, "an object key (identifier)", NOTATION)
    return expect(src, skip_ws(src, m.end()), "':' after object key", NOTATION)


def _check_uint(src: str, pos: int, text: str, what: str, strict: bool) -> int:
    """The value of the decimal ``text`` found at ``pos`` (a contract id or field index)."""
    if strict and len(text) > 1 and text[0] == "0":
        raise fail(NOTATION, f"{what} {text} has leading zeros", src, pos)
    digits = text.lstrip("0") or "0"  # lenient zero padding; int() refuses more than 4300 digits
    if len(digits) > 19 or int(digits) > INT_MAX:
        shown = text if len(text) <= 24 else text[:20] + "..."
        raise fail(NOTATION, f"{what} {shown} is outside the int64 range", src, pos)
    return int(digits)


def _parse_contract(src: str, head: re.Match[str], depth: int, strict: bool) -> tuple[int, Contract]:
    """``[id|i:v|...]``; ``head`` matched the id (spec §6.2)."""
    cid = _check_uint(src, head.start(1), head.group(1), "contract id", strict)
    pos = head.end()
    fields: list[tuple[int, Any]] = []
    last = -1
    while True:
        char = src[pos]
        if char == "]":
            return pos + 1, Contract(cid, tuple(fields))
        m = _FIELD_HEAD_RE.match(src, pos)
        if m is None:
            raise _bad_field(src, pos)
        index = _check_uint(src, m.start(1), m.group(1), "field index", strict)
        if index <= last:
            message = f"field indices must be strictly ascending: {index} after {last}"
            raise fail(NOTATION, message, src, m.start(1))
        last = index
        pos, value = _parse_inner(src, m.end(), depth, strict)
        fields.append((index, value))
        if src[pos] in WS:
            pos = skip_ws(src, pos)


def _bad_field(src: str, pos: int) -> HLXError:
    """The error where ``]`` or ``|index:`` was expected at ``pos``."""
    if src[pos] != "|":
        return expect(src, pos, "'|' or ']' in a contract", NOTATION)
    pos = skip_ws(src, pos + 1)
    m = _UINT_RE.match(src, pos)
    if m is None:
        return expect(src, pos, "a decimal field index", NOTATION)
    return expect(src, skip_ws(src, m.end()), "':' after field index", NOTATION)


def _parse_name(src: str, pos: int) -> tuple[int, Handle]:
    m = NAME_RE.match(src, pos)
    if m is None:
        raise expect(src, pos, "a handle name [A-Za-z0-9_] after '&'", NOTATION)
    if m.end() - pos > 255:
        raise fail(NOTATION, "handle name longer than 255 bytes", src, pos)
    return m.end(), Handle(m.group(0))


def emit_int(n: int) -> str:
    """Canonical LC-B text for an int (spec §6.2).

    ``n >= 0``: lowercase hex, at least 2 digits, ``00`` prefix when it has exactly 4, 8 or 16 digits and
    starts with 8–f. ``n < 0``: two's complement in the smallest of 16/32/64 bits (4/8/16 digits).
    """
    if n >= 0:
        digits = f"{n:02x}"
        if len(digits) in _SIGNED_WIDTHS and digits[0] in _HIGH_NIBBLE:
            return "0x00" + digits
        return "0x" + digits
    width = 4 if n >= -0x8000 else 8 if n >= -0x8000_0000 else 16
    return "0x" + format(n + (1 << (4 * width)), f"0{width}x")


def dumps(value: Any) -> str:
    """Canonical LC-B text for an already validated value (see :func:`helixmoe.hlx.dumps`)."""
    if type(value) is Contract:
        return _emit(value)  # a contract's own brackets are the top-level wrapper
    return "[" + _emit(value) + "]"


def _emit(v: Any) -> str:
    kind = type(v)
    if kind is str:
        return emit_string_ascii(v)
    if kind is int:
        return emit_int(v)
    if kind is list:
        return "[" + ",".join([_emit(x) for x in v]) + "]"
    if kind is dict:
        return "{" + ",".join([k + ":" + _emit(x) for k, x in v.items()]) + "}"
    if kind is float:
        return float.__repr__(v + 0.0)  # + 0.0: -0.0 is written as 0.0 (spec §1)
    if kind is bool:
        return "T" if v else "F"
    if v is None:
        return "_"
    if kind is Contract:
        return "[" + str(v.id) + "".join([f"|{i}:{_emit(x)}" for i, x in v.fields]) + "]"
    if kind is Handle:
        return f"&{v.name}"
    if kind is bytes:
        return f"#{v.hex()}"
    raise HLXError(NOTATION, f"{kind.__name__} is not an HLX value type")
