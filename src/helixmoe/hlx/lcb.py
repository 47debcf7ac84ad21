"""LC-B bytes, the canonical binary HLX notation (spec §6.1): ``loads``/``dumps`` for one value.

Hand-written because LC-B is HLX's own wire format (no library knows it); :mod:`struct` does the
fixed-width packing with precompiled :class:`~struct.Struct` objects. Lengths, counts and contract ids
are **big-endian** while numbers are **little-endian**, exactly as the spec's table says.

The decoder is small recursive functions of ``(src, pos, depth)`` returning ``(new_pos, value)``, with
``pos`` at a value's tag byte. It reads every tag, including the decode-only ones (INT8/INT16, UINT8–64,
F32), and rejects everything the spec lists with an :class:`HLXError` carrying the byte offset. Recursion
is bounded by the depth limit (64), and a declared length or count can never make it read or loop past
the input. LC-B has no lenient forms, so ``strict`` changes nothing here.

The encoder writes INT32 when an int fits and INT64 otherwise, F64 for every float, and enforces LC-B's
width limits (values reaching it are already validated by :func:`helixmoe.hlx.dumps`).
"""

from __future__ import annotations

import math
import re
from struct import Struct
from struct import error as StructError
from typing import Any

from helixmoe.hlx.errors import HLXError
from helixmoe.hlx.lexical import fail
from helixmoe.hlx.values import INT_MAX, MAX_DEPTH, Contract, Handle

__all__ = ["dumps", "loads"]

NOTATION = "lc-b"

# Tags (spec §6.1).
NULL, TRUE, FALSE = 0x00, 0x01, 0x02
INT8, INT16, INT32, INT64 = 0x10, 0x11, 0x12, 0x13
UINT8, UINT16, UINT32, UINT64 = 0x14, 0x15, 0x16, 0x17
F32, F64 = 0x20, 0x21
STRING, BYTES, HANDLE, CONTRACT, ARRAY, OBJECT = 0x30, 0x31, 0x40, 0x50, 0x60, 0x70

U16_MAX = 0xFFFF
U8_MAX = 0xFF
_I32_MIN, _I32_MAX = -(2**31), 2**31 - 1

_U16BE = Struct(">H")  # string/bytes length, array count
_CONTRACT_HEAD = Struct(">HB")  # contract id (BE), field count
_I32 = Struct("<i")
_F64 = Struct("<d")
_INTS: dict[int, tuple[Struct, str]] = {
    INT8: (Struct("<b"), "INT8"),
    INT16: (Struct("<h"), "INT16"),
    INT32: (_I32, "INT32"),
    INT64: (Struct("<q"), "INT64"),
    UINT8: (Struct("<B"), "UINT8"),
    UINT16: (Struct("<H"), "UINT16"),
    UINT32: (Struct("<I"), "UINT32"),
    UINT64: (Struct("<Q"), "UINT64"),
}
_FLOATS: dict[int, tuple[Struct, str]] = {F32: (Struct("<f"), "F32"), F64: (_F64, "F64")}
_CONSTANTS: dict[int, Any] = {NULL: None, TRUE: True, FALSE: False}
_CONTAINER_TAGS = frozenset((ARRAY, OBJECT, CONTRACT))
_NAME_RE = re.compile(rb"[A-Za-z0-9_]+")
_KEY_RE = re.compile(rb"[A-Za-z_][A-Za-z0-9_]*")

# Encoder heads: the tag packed together with its fixed-width payload or length.
_TAG_I32 = Struct("<Bi")
_TAG_I64 = Struct("<Bq")
_TAG_F64 = Struct("<Bd")
_TAG_U16BE = Struct(">BH")
_TAG_CONTRACT = Struct(">BHB")
_TAG_U8 = Struct("BB")


def loads(src: bytes, strict: bool = False) -> Any:
    """Decode exactly one LC-B value from ``src``; trailing bytes are an error (spec §6.1).

    Args:
        src: the LC-B bytes.
        strict: accepted for API symmetry; LC-B has no lenient forms.

    Raises:
        HLXError: with the byte offset of the problem.
    """
    if not src:
        raise fail(NOTATION, "empty input: expected a value", src, 0)
    try:
        pos, value = _decode(src, 0, 0)
    except (StructError, IndexError):  # a fixed-width read ran past the end
        raise fail(NOTATION, "unexpected end of input (truncated value)", src, len(src)) from None
    if pos != len(src):
        raise fail(NOTATION, f"{len(src) - pos} trailing byte(s) after the value", src, pos)
    return value


def _decode(src: bytes, pos: int, depth: int) -> tuple[int, Any]:
    """Decode the value whose tag byte is at ``pos``; the common tags are tested first."""
    tag = src[pos]
    if tag == INT32:
        return pos + 5, _I32.unpack_from(src, pos + 1)[0]
    if tag == STRING:
        return _decode_string(src, pos)
    if tag in _CONTAINER_TAGS:
        if depth >= MAX_DEPTH:
            raise fail(NOTATION, f"value nested deeper than {MAX_DEPTH} levels", src, pos)
        if tag == ARRAY:
            return _decode_array(src, pos, depth + 1)
        if tag == OBJECT:
            return _decode_object(src, pos, depth + 1)
        return _decode_contract(src, pos, depth + 1)
    if tag in _CONSTANTS:
        return pos + 1, _CONSTANTS[tag]
    if tag in _FLOATS:
        return _decode_float(src, pos, tag)
    if tag in _INTS:
        return _decode_int(src, pos, tag)
    if tag == BYTES:
        start, end = _span(src, pos + 3, _U16BE.unpack_from(src, pos + 1)[0], "bytes", pos)
        return end, src[start:end]
    if tag == HANDLE:
        return _decode_handle(src, pos)
    raise fail(NOTATION, f"unknown tag 0x{tag:02x}", src, pos)


def _span(src: bytes, start: int, length: int, what: str, at: int) -> tuple[int, int]:
    """Return ``(start, end)`` of a ``length``-byte payload, or raise if it runs past the input."""
    end = start + length
    if end > len(src):
        left = max(0, len(src) - start)
        message = f"truncated {what}: declares {length} bytes but only {left} remain"
        raise fail(NOTATION, message, src, at)
    return start, end


def _decode_int(src: bytes, pos: int, tag: int) -> tuple[int, int]:
    codec, name = _INTS[tag]
    value: int = codec.unpack_from(src, pos + 1)[0]
    if value > INT_MAX:
        raise fail(NOTATION, f"{name} value {value} is outside the int64 range", src, pos)
    return pos + 1 + codec.size, value


def _decode_float(src: bytes, pos: int, tag: int) -> tuple[int, float]:
    codec, name = _FLOATS[tag]
    value: float = codec.unpack_from(src, pos + 1)[0]
    if not math.isfinite(value):
        raise fail(NOTATION, f"{name} value {value!r} is not allowed (NaN and Infinity are errors)", src, pos)
    return pos + 1 + codec.size, value + 0.0  # + 0.0 turns -0.0 into 0.0 (spec §1)


def _decode_string(src: bytes, pos: int) -> tuple[int, str]:
    start, end = _span(src, pos + 3, _U16BE.unpack_from(src, pos + 1)[0], "string", pos)
    try:
        return end, src[start:end].decode("utf-8")
    except UnicodeDecodeError as err:
        raise fail(NOTATION, f"invalid UTF-8 in string ({err.reason})", src, start + err.start) from None


def _decode_handle(src: bytes, pos: int) -> tuple[int, Handle]:
    start, end = _span(src, pos + 2, src[pos + 1], "handle", pos)
    if _NAME_RE.fullmatch(src, start, end) is None:
        name = src[start:end]
        if not name:
            why = "empty handle name"
        elif not name.isascii():
            why = f"non-ASCII handle name {name!r}"
        else:
            why = f"invalid handle name {name!r}"
        raise fail(NOTATION, f"{why}: expected [A-Za-z0-9_]{{1,255}}", src, start)
    return end, Handle(src[start:end].decode("ascii"))


def _decode_array(src: bytes, pos: int, depth: int) -> tuple[int, list[Any]]:
    count = _U16BE.unpack_from(src, pos + 1)[0]
    pos += 3
    items: list[Any] = []
    append = items.append
    for _ in range(count):
        pos, item = _decode(src, pos, depth)
        append(item)
    return pos, items


def _decode_object(src: bytes, pos: int, depth: int) -> tuple[int, dict[str, Any]]:
    count = src[pos + 1]
    pos += 2
    obj: dict[str, Any] = {}
    for _ in range(count):
        start, end = _span(src, pos + 1, src[pos], "object key", pos)
        if _KEY_RE.fullmatch(src, start, end) is None:
            raise fail(NOTATION, f"invalid object key {src[start:end]!r}: expected an identifier", src, start)
        key = src[start:end].decode("ascii")
        if key == "C":
            raise fail(NOTATION, "object key 'C' is reserved (spec §4)", src, start)
        if key in obj:
            raise fail(NOTATION, f"duplicate object key {key!r}", src, start)
        pos, obj[key] = _decode(src, end, depth)
    return pos, obj


def _decode_contract(src: bytes, pos: int, depth: int) -> tuple[int, Contract]:
    cid, count = _CONTRACT_HEAD.unpack_from(src, pos + 1)
    pos += 4
    fields: list[tuple[int, Any]] = []
    last = -1
    for _ in range(count):
        index = src[pos]
        if index <= last:
            message = f"contract field indices must be strictly ascending: {index} after {last}"
            raise fail(NOTATION, message, src, pos)
        last = index
        pos, value = _decode(src, pos + 1, depth)
        fields.append((index, value))
    return pos, Contract(cid, tuple(fields))


def dumps(value: Any) -> bytes:
    """Canonical LC-B bytes for an already validated value (see :func:`helixmoe.hlx.dumps`).

    Raises:
        HLXError: a value exceeds one of LC-B's width limits (spec §6.1).
    """
    out = bytearray()
    _encode(value, out)
    return bytes(out)


def _too_wide(what: str, size: int, limit: int) -> HLXError:
    return HLXError(NOTATION, f"{what} {size} exceeds the LC-B limit of {limit} (spec §6.1)")


def _encode(v: Any, out: bytearray) -> None:
    kind = type(v)
    if kind is int:
        out += _TAG_I32.pack(INT32, v) if _I32_MIN <= v <= _I32_MAX else _TAG_I64.pack(INT64, v)
    elif kind is str:
        data = v.encode("utf-8")
        if len(data) > U16_MAX:
            raise _too_wide("string length in bytes", len(data), U16_MAX)
        out += _TAG_U16BE.pack(STRING, len(data))
        out += data
    elif kind is list:
        if len(v) > U16_MAX:
            raise _too_wide("array length", len(v), U16_MAX)
        out += _TAG_U16BE.pack(ARRAY, len(v))
        for item in v:
            _encode(item, out)
    elif kind is dict:
        _encode_object(v, out)
    elif kind is float:
        out += _TAG_F64.pack(F64, v + 0.0)  # + 0.0: -0.0 is written as 0.0 (spec §1)
    elif kind is bool:
        out.append(TRUE if v else FALSE)
    elif v is None:
        out.append(NULL)
    elif kind is Contract:
        _encode_contract(v, out)
    elif kind is Handle:
        out += _TAG_U8.pack(HANDLE, len(v.name))
        out += v.name.encode("ascii")
    elif kind is bytes:
        if len(v) > U16_MAX:
            raise _too_wide("bytes length", len(v), U16_MAX)
        out += _TAG_U16BE.pack(BYTES, len(v))
        out += v
    else:
        raise HLXError(NOTATION, f"{kind.__name__} is not an HLX value type")


def _encode_object(obj: dict[str, Any], out: bytearray) -> None:
    if len(obj) > U8_MAX:
        raise _too_wide("object member count", len(obj), U8_MAX)
    out += _TAG_U8.pack(OBJECT, len(obj))
    for key, item in obj.items():
        if len(key) > U8_MAX:
            raise _too_wide(f"object key {key[:20]}... length", len(key), U8_MAX)
        out.append(len(key))
        out += key.encode("ascii")
        _encode(item, out)


def _encode_contract(contract: Contract, out: bytearray) -> None:
    fields = contract.fields
    if contract.id > U16_MAX:
        raise _too_wide("contract id", contract.id, U16_MAX)
    if len(fields) > U8_MAX:
        raise _too_wide("contract field count", len(fields), U8_MAX)
    out += _TAG_CONTRACT.pack(CONTRACT, contract.id, len(fields))
    for index, item in fields:
        if index > U8_MAX:
            raise _too_wide("contract field index", index, U8_MAX)
        out.append(index)
        _encode(item, out)
