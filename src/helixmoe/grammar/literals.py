"""Prefix checks for bounded numeric literals: can these digits still become a canonical literal, and how
many more characters does that take?

Hand-written because the checks are range questions over fixed-width digit strings (an int64 decimal, a
canonical LC-B text hex integer, a ``\\uXXXX`` escape), which a regular expression cannot answer for a
*prefix* without building the automaton by hand. A literal kind is a tuple of ``(width, lo, hi)``: the
canonical literals of that width are exactly the ``width``-digit strings whose value (in ``base``) lies in
``[lo, hi]``; leading zeros are part of the width. Pure Python; no torch.
"""

from __future__ import annotations

INF = 1 << 30  # "no completion exists": larger than any token budget

Ranges = tuple[tuple[int, int, int], ...]

INT_MAX = (1 << 63) - 1


def _decimal_ranges(lo: int, hi: int) -> Ranges:
    """Canonical decimal (no leading zeros) naturals in ``[lo, hi]``, split by width."""
    out = []
    for width in range(1, len(str(hi)) + 1):
        first = 0 if width == 1 else 10 ** (width - 1)
        a, b = max(lo, first), min(hi, 10**width - 1)
        if a <= b:
            out.append((width, a, b))
    return tuple(out)


def decimal_ranges(lo: int, hi: int = INT_MAX) -> Ranges:
    """Ranges of the canonical decimal naturals in ``[lo, hi]`` (cached for the common bounds)."""
    key = (lo, hi)
    cached = _DECIMAL_CACHE.get(key)
    if cached is None:
        cached = _decimal_ranges(lo, hi)
        if len(_DECIMAL_CACHE) < 4096:
            _DECIMAL_CACHE[key] = cached
    return cached


_DECIMAL_CACHE: dict[tuple[int, int], Ranges] = {}

#: Canonical magnitudes of a non-negative / negative int64 (``-0`` is not canonical, spec §1).
UINT64 = decimal_ranges(0, INT_MAX)
NEG_INT64 = decimal_ranges(1, INT_MAX + 1)


def _hex(width: int, lo: str, hi: str) -> tuple[int, int, int]:
    return (width, int(lo, 16), int(hi, 16))


def _lcb_hex_ints() -> Ranges:
    """Digits after ``0x`` of every canonical LC-B text integer (spec §6.2), by width.

    Non-negative: at least 2 digits, no leading zeros beyond that, ``00`` before a 4/8/16-digit form
    starting 8–f; negative: 4/8/16-digit two's complement in the smallest width that holds it.
    """
    out = [_hex(2, "00", "ff")]
    for width in range(3, 17):
        out.append((width, 16 ** (width - 1), 16**width - 1))
    table = {w: (lo, hi) for w, lo, hi in out}
    table[8] = (0x1000_0000, 0xFFFF_7FFF)  # positive 1000_0000..7fff_ffff, negative 8000_0000..ffff_7fff
    table[16] = (0x1000_0000_0000_0000, 0xFFFF_FFFF_7FFF_FFFF)
    ranges = [(w, lo, hi) for w, (lo, hi) in sorted(table.items())]
    ranges.append(_hex(6, "008000", "00ffff"))  # 00-prefixed 0x8000..0xffff
    ranges.append(_hex(10, "0080000000", "00ffffffff"))
    return tuple(sorted(ranges))


LCB_HEX_INT = _lcb_hex_ints()
#: ``\\uXXXX`` escapes a canonical HLXL / LC-R string uses: control characters and DEL (spec §2).
U_ESC_RAW: Ranges = ((4, 0x00, 0x08), (4, 0x0B, 0x0C), (4, 0x0E, 0x1F), (4, 0x7F, 0x7F))
#: ... and in LC-T / LC-B text also everything above 0x7E, high surrogates opening a pair.
U_ESC_ASCII: Ranges = (*U_ESC_RAW, (4, 0x80, 0xDBFF), (4, 0xE000, 0xFFFF))
U_ESC_ASCII_NO_HIGH: Ranges = (*U_ESC_RAW, (4, 0x80, 0xD7FF), (4, 0xE000, 0xFFFF))
U_ESC_LOW: Ranges = ((4, 0xDC00, 0xDFFF),)
#: Exponent digits of a canonical float ``repr`` (``1e+16``, ``1e-05``); ``+308`` is left out because
#: ``9e+308`` overflows.
EXP_POS: Ranges = ((2, 16, 99), (3, 100, 307))
EXP_NEG: Ranges = ((2, 5, 99), (3, 100, 324))
#: HLXL ``\\xhh`` escapes in bytes literals: only bytes outside printable ASCII (spec §2).
X_ESC: Ranges = ((2, 0x00, 0x1F), (2, 0x7F, 0xFF))


def extension(ranges: Ranges, value: int, length: int, base: int = 10) -> int:
    """Fewest digits to append to a prefix (``length`` digits, numeric ``value``) to reach a member.

    Returns:
        0 when the prefix itself is a member, :data:`INF` when no extension is.
    """
    best = INF
    for width, lo, hi in ranges:
        if width < length:
            continue
        span = base ** (width - length)
        low = value * span
        if low <= hi and low + span - 1 >= lo:
            best = min(best, width - length)
    return best
