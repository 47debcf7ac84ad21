"""``"lc-b-hex"``: LC-B bytes (spec §6.1) written as hex text, for prompts and the command line.

Canonical form is the lowercase hex of :func:`helixmoe.hlx.lcb.dumps`, no prefix, no spaces. The lenient
parser also accepts upper-case digits, whitespace between byte pairs (``12 2a 00 00 00``) and a ``0x``
prefix; ``strict=True`` takes only contiguous lowercase hex (whitespace around the whole text is allowed,
as in every text notation). Errors from the LC-B decoder are re-raised with the *character* position in
the hex text of the byte pair they point at.
"""

from __future__ import annotations

import re
from typing import Any

from helixmoe.hlx import lcb
from helixmoe.hlx.errors import HLXError
from helixmoe.hlx.lexical import WS, fail, skip_ws

__all__ = ["dumps", "loads"]

NOTATION = "lc-b-hex"
_STRICT_PAIRS_RE = re.compile(r"(?:[0-9a-f]{2})*")
_LENIENT_PAIRS_RE = re.compile(r"(?:[0-9a-fA-F]{2})*")
_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")
_UPPER_DIGITS = frozenset("ABCDEF")


def loads(src: str, strict: bool = False) -> Any:
    """Parse LC-B bytes written as hex text.

    Raises:
        HLXError: malformed hex, or the LC-B decoder's error mapped to a character position.
    """
    start = skip_ws(src, 0)
    end = max(start, len(src.rstrip(" \t\r\n")))
    if src.startswith(("0x", "0X"), start):
        if strict:
            raise fail(NOTATION, "'0x' prefix (strict mode: bare lowercase hex only)", src, start)
        start += 2
    pairs_re = _STRICT_PAIRS_RE if strict else _LENIENT_PAIRS_RE
    if pairs_re.fullmatch(src, start, end):
        data = bytes.fromhex(src[start:end])
        starts = None  # contiguous: byte b sits at start + 2 * b
    else:
        starts = _scan_pairs(src, start, end, strict)
        data = bytes.fromhex(src[start:end])
    try:
        return lcb.loads(data, strict)
    except HLXError as err:
        raise fail(NOTATION, err.message, src, _char_offset(err.offset or 0, start, end, starts)) from None


def _char_offset(offset: int, start: int, end: int, starts: list[int] | None) -> int:
    """The character position in the hex text of the byte at ``offset`` (``end`` past the last byte)."""
    if starts is None:
        return start + 2 * offset
    return starts[offset] if offset < len(starts) else end


def _scan_pairs(src: str, pos: int, end: int, strict: bool) -> list[int]:
    """Check hex text that is not one contiguous run; return the character offset of every byte pair."""
    starts: list[int] = []
    while pos < end:
        char = src[pos]
        if char in WS:
            if strict:
                raise fail(NOTATION, "whitespace between hex digits (strict mode)", src, pos)
            pos = skip_ws(src, pos)
            continue
        _check_digit(src, pos, strict)
        if pos + 1 >= end or src[pos + 1] in WS:
            raise fail(NOTATION, "lone hex digit: each byte is two hex digits", src, pos)
        _check_digit(src, pos + 1, strict)
        starts.append(pos)
        pos += 2
    return starts


def _check_digit(src: str, pos: int, strict: bool) -> None:
    char = src[pos]
    if char not in _HEX_DIGITS:
        raise fail(NOTATION, f"invalid character {char!r} in hex text", src, pos)
    if strict and char in _UPPER_DIGITS:
        raise fail(NOTATION, f"upper-case hex digit {char!r} (strict mode: lowercase only)", src, pos)


def dumps(value: Any) -> str:
    """Canonical lc-b-hex: the lowercase hex of the LC-B bytes of an already validated value.

    Raises:
        HLXError: a value exceeds one of LC-B's width limits (spec §6.1).
    """
    try:
        return lcb.dumps(value).hex()
    except HLXError as err:
        raise HLXError(NOTATION, err.message) from None
