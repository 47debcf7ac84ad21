"""Lexical rules shared by the text notations (spec §2): numbers, strings, hex bytes, names, whitespace.

Each parse function takes ``(src, pos, ...)`` and returns ``(new_pos, value)``; none keeps state. The hot
paths (simple strings, numbers) are single regex matches, like the pure-Python ``json`` scanner.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

from helixmoe.hlx.errors import HLXError
from helixmoe.hlx.values import INT_MAX, INT_MIN, MAX_DEPTH, MAX_SIZE, Handle

__all__ = [
    "FAST_FLOAT_RE",
    "FAST_INT_RE",
    "IDENT_RE",
    "NAME_RE",
    "SIMPLE_ASCII_RE",
    "SIMPLE_STR_RE",
    "WS",
    "check_size",
    "emit_float",
    "emit_string",
    "emit_string_ascii",
    "expect",
    "fail",
    "parse_document",
    "parse_handle_name",
    "parse_hex",
    "parse_number",
    "parse_string",
    "parse_uint",
    "skip_ws",
    "too_deep",
]

WS = frozenset(" \t\r\n")
_WS_RE = re.compile(r"[ \t\r\n]*")
IDENT_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
NAME_RE = re.compile(r"[A-Za-z0-9_]+")
#: Canonical ints of at most 18 digits: always inside int64, so they need no range check.
FAST_INT_RE = re.compile(r"-?(?:0|[1-9]\d{0,17})(?![\d.eE])")
#: Floats in the forms every strict parser accepts (no trailing fraction zeros, lower-case ``e``); the
#: caller still checks the result is finite (an exponent can overflow).
FAST_FLOAT_RE = re.compile(r"-?(?:0|[1-9]\d{0,300})\.(?:\d{0,300}[1-9]|0)(?:e[+-]?\d{1,3})?(?![\d.eE])")
_HEX_RE = re.compile(r"[0-9a-fA-F]*")
_UINT_RE = re.compile(r"\d+")
_ABOVE_ASCII_RE = re.compile("[\x7f-\U0010ffff]")
# spec §2 numbers, with the lenient forms (1.  .5) admitted; strictness is checked on the groups.
_NUMBER_RE = re.compile(r"-?(?:(\d+)(\.\d*)?|(\.\d+))([eE][+-]?\d+)?")
# A string with no escapes, no control characters and no surrogates: the common case, one match.
SIMPLE_STR_RE = re.compile('"([^"\\\\\x00-\x1f\ud800-\udfff]*)"')
SIMPLE_ASCII_RE = re.compile(r'"([\x20\x21\x23-\x5b\x5d-\x7e]*)"')
_CHUNK_RE = re.compile('([^"\\\\\x00-\x1f\ud800-\udfff]*)(["\\\\\x00-\x1f\ud800-\udfff])')
_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f"}


def fail(notation: str, message: str, src: str | bytes, pos: int) -> HLXError:
    """Build the error for ``src`` at ``pos`` (call sites ``raise fail(...)`` so control flow is visible)."""
    return HLXError(notation, message, src, pos)


def describe(src: str, pos: int) -> str:
    """Name what stands at ``pos`` for an error message."""
    if pos >= len(src):
        return "end of input"
    return repr(src[pos])


def expect(src: str, pos: int, what: str, notation: str) -> HLXError:
    """The error for "expected X, found Y" at ``pos``."""
    return fail(notation, f"expected {what}, found {describe(src, pos)}", src, pos)


def skip_ws(src: str, pos: int) -> int:
    """Skip ASCII space/TAB/CR/LF (spec §2)."""
    if pos < len(src) and src[pos] in WS:
        return _WS_RE.match(src, pos).end()  # type: ignore[union-attr]
    return pos


def too_deep(notation: str, src: str, pos: int) -> HLXError:
    return fail(notation, f"value nested deeper than {MAX_DEPTH} levels", src, pos)


def check_size(notation: str, src: str | bytes) -> None:
    """Reject inputs over the 1 MiB limit of spec §1 before doing any work on them."""
    n = len(src)
    if n > MAX_SIZE or (
        isinstance(src, str) and n * 4 > MAX_SIZE and len(src.encode("utf-8", "surrogatepass")) > MAX_SIZE
    ):
        raise HLXError(notation, f"input is larger than the 1 MiB limit ({n} characters)")


def parse_number(src: str, pos: int, notation: str, strict: bool) -> tuple[int, int | float]:
    """Parse a decimal int or float at ``pos`` (spec §2)."""
    m = _NUMBER_RE.match(src, pos)
    if m is None:
        raise expect(src, pos, "a number", notation)
    digits, frac, dot_frac, exp = m.groups()
    end = m.end()
    text = src[pos:end]
    if frac is None and dot_frac is None and exp is None:
        if strict and len(digits) > 1 and digits[0] == "0":
            raise fail(notation, f"integer {text} has leading zeros", src, pos)
        value = int(text) if len(digits.lstrip("0")) <= 19 else INT_MAX + 1  # int() refuses > 4300 digits
        if not INT_MIN <= value <= INT_MAX:
            raise fail(notation, f"integer {_clip(text)} is outside the int64 range", src, pos)
        return end, value
    if strict and (
        dot_frac is not None  # .5
        or frac == "."  # 1.
        or (len(digits) > 1 and digits[0] == "0")  # 01.5
        or (frac is not None and len(frac) > 2 and frac[-1] == "0")  # 0.50
        or (exp is not None and exp[0] == "E")  # 1E5
    ):
        raise fail(
            notation, f"non-canonical number {text!r} (strict mode; spec §2 lists it as lenient)", src, pos
        )
    number = float(text)
    if not math.isfinite(number):
        raise fail(notation, f"float {text} overflows binary64", src, pos)
    return end, number + 0.0  # + 0.0 turns -0.0 into 0.0 (spec §1)


def _clip(text: str, width: int = 40) -> str:
    return text if len(text) <= width else text[:width] + "…"


def parse_uint(src: str, pos: int, what: str, notation: str, strict: bool) -> tuple[int, int]:
    """Parse a non-negative decimal (contract id, field index) at ``pos``; at most int64."""
    m = _UINT_RE.match(src, pos)
    if m is None:
        raise expect(src, pos, what, notation)
    text = m.group(0)
    if strict and len(text) > 1 and text[0] == "0":
        raise fail(notation, f"{what} {_clip(text)} has leading zeros", src, pos)
    value = int(text) if len(text.lstrip("0")) <= 19 else INT_MAX + 1
    if value > INT_MAX:
        raise fail(notation, f"{what} {_clip(text)} is outside the int64 range", src, pos)
    return m.end(), value


def parse_string(
    src: str, pos: int, notation: str, strict: bool, ascii_only: bool = False
) -> tuple[int, str]:
    """Parse a ``"..."`` string at ``pos`` (spec §2).

    ``strict`` rejects the lenient ``\\xHH`` escape; ``ascii_only`` rejects raw characters above 0x7E
    (strict LC-T and LC-B text).
    """
    m = (SIMPLE_ASCII_RE if ascii_only else SIMPLE_STR_RE).match(src, pos)
    if m is not None:
        return m.end(), m.group(1)
    if pos >= len(src) or src[pos] != '"':
        raise expect(src, pos, "a string", notation)
    chunks: list[str] = []
    begin = pos
    pos += 1
    while True:
        m = _CHUNK_RE.match(src, pos)
        if m is None:
            raise fail(notation, "unterminated string", src, begin)
        content, term = m.groups()
        if ascii_only and content:
            above = _ABOVE_ASCII_RE.search(content)
            if above is not None:
                raise fail(
                    notation,
                    "raw non-ASCII character (above 0x7E) in an ASCII notation (use \\uXXXX)",
                    src,
                    pos + above.start(),
                )
        chunks.append(content)
        pos = m.end()
        if term == '"':
            return pos, "".join(chunks)
        if term != "\\":
            what = "lone surrogate" if "\ud800" <= term <= "\udfff" else f"control character {term!r}"
            raise fail(notation, f"{what} in string must be escaped", src, pos - 1)
        pos, char = _parse_escape(src, pos, notation, strict)
        chunks.append(char)


def _parse_escape(src: str, pos: int, notation: str, strict: bool) -> tuple[int, str]:
    """Parse the escape after a backslash at ``pos - 1``."""
    esc = src[pos : pos + 1]
    if esc in _ESCAPES:
        return pos + 1, _ESCAPES[esc]
    if esc == "u":
        code = _hex_code(src, pos + 1, 4, notation)
        if 0xD800 <= code <= 0xDBFF:
            if src[pos + 5 : pos + 7] == "\\u":
                low = _hex_code(src, pos + 7, 4, notation)
                if 0xDC00 <= low <= 0xDFFF:
                    return pos + 11, chr(0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00))
            raise fail(notation, "lone high surrogate in \\u escape", src, pos - 1)
        if 0xDC00 <= code <= 0xDFFF:
            raise fail(notation, "lone low surrogate in \\u escape", src, pos - 1)
        return pos + 5, chr(code)
    if esc == "x" and not strict:  # lenient (spec §2): \xHH
        return pos + 3, chr(_hex_code(src, pos + 1, 2, notation))
    if not esc:
        raise fail(notation, "unterminated string", src, pos - 1)
    raise fail(notation, f"invalid escape \\{esc}", src, pos - 1)


def _hex_code(src: str, pos: int, width: int, notation: str) -> int:
    digits = src[pos : pos + width]
    if len(digits) != width or not all(c in "0123456789abcdefABCDEF" for c in digits):
        raise fail(notation, f"expected {width} hex digits in escape", src, pos)
    return int(digits, 16)


def parse_document(
    src: str, notation: str, parse_value: Callable[[str, int, int, bool], tuple[int, Any]], strict: bool
) -> Any:
    """Parse exactly one value with ``parse_value``: whitespace around it, nothing else (spec §2)."""
    try:
        pos, value = parse_value(src, skip_ws(src, 0), 0, strict)
    except IndexError:
        raise fail(notation, "unexpected end of input", src, len(src)) from None
    pos = skip_ws(src, pos)
    if pos != len(src):
        raise fail(notation, f"unexpected {src[pos]!r} after the value", src, pos)
    return value


def parse_handle_name(src: str, pos: int, notation: str, prefix: str) -> tuple[int, Handle]:
    """The name of a handle after its notation's ``prefix`` (spec §1: ``[A-Za-z0-9_]``, 1–255 bytes)."""
    m = NAME_RE.match(src, pos)
    if m is None:
        raise expect(src, pos, f"a handle name [A-Za-z0-9_] after '{prefix}'", notation)
    if m.end() - pos > 255:
        raise fail(notation, "handle name longer than 255 bytes", src, pos)
    return m.end(), Handle(m.group(0))


def parse_hex(src: str, pos: int, notation: str) -> tuple[int, bytes]:
    """Parse the hex digits of a bytes literal (after its prefix) at ``pos``."""
    end = _HEX_RE.match(src, pos).end()  # type: ignore[union-attr]
    if (end - pos) % 2:
        raise fail(notation, "odd number of hex digits in bytes literal", src, pos)
    return end, bytes.fromhex(src[pos:end])


def emit_float(x: float) -> str:
    """Canonical float text (spec §2): Python's shortest round-trip ``repr``."""
    return repr(x)


_ESC_MAP = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_ESC_MAP.update({chr(i): f"\\u{i:04x}" for i in range(0x20) if chr(i) not in _ESC_MAP})
_ESC_MAP["\x7f"] = "\\u007f"
_NEEDS_ESC_RE = re.compile('[\x00-\x1f"\\\\\x7f]')
_NEEDS_ESC_ASCII_RE = re.compile('[\x00-\x1f"\\\\\x7f-\U0010ffff]')


def _ascii_escape(m: re.Match[str]) -> str:
    char = m.group(0)
    if char in _ESC_MAP:
        return _ESC_MAP[char]
    code = ord(char)
    if code < 0x10000:
        return f"\\u{code:04x}"
    code -= 0x10000
    return f"\\u{0xD800 | (code >> 10):04x}\\u{0xDC00 | (code & 0x3FF):04x}"


def emit_string(s: str) -> str:
    """Canonical string for HLXL and LC-R: escapes per spec §2, other characters raw."""
    if _NEEDS_ESC_RE.search(s) is None:
        return '"' + s + '"'
    return '"' + _NEEDS_ESC_RE.sub(lambda m: _ESC_MAP[m.group(0)], s) + '"'


def emit_string_ascii(s: str) -> str:
    """Canonical string for LC-T and LC-B text: pure ASCII, ``\\uxxxx`` above 0x7E (spec §2)."""
    if _NEEDS_ESC_ASCII_RE.search(s) is None:
        return '"' + s + '"'
    return '"' + _NEEDS_ESC_ASCII_RE.sub(_ascii_escape, s) + '"'
