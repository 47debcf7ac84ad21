"""The HLX value model (spec §1): Python representation, limits, strict equality and validation.

A value is ``None``, ``bool``, ``int``, ``float``, ``str``, ``bytes``, ``list``, ``dict`` (ordered, str keys),
:class:`Handle` or :class:`Contract`. Python's ``==`` is too loose for HLX (``True == 1``, ``1.0 == 1``, and
dicts compare without order), so :func:`equal` implements the spec's equality.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Union

from helixmoe.hlx.errors import HLXError

__all__ = [
    "INT_MAX",
    "INT_MIN",
    "MAX_DEPTH",
    "MAX_SIZE",
    "Contract",
    "Handle",
    "Value",
    "equal",
    "validate",
]

INT_MIN = -(2**63)
INT_MAX = 2**63 - 1
MAX_DEPTH = 64  # spec §1: nesting depth ≤ 64
MAX_SIZE = 1 << 20  # spec §1: a serialised value ≤ 1 MiB

HANDLE_RE = re.compile(r"[A-Za-z0-9_]{1,255}\Z")
KEY_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_SURROGATE_RE = re.compile("[\ud800-\udfff]")

Value = Union[None, bool, int, float, str, bytes, list[Any], dict[str, Any], "Handle", "Contract"]


@dataclass(frozen=True, slots=True)
class Handle:
    """A reference by name (spec §1); the name matches ``[A-Za-z0-9_]+``, 1–255 bytes."""

    name: str

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not HANDLE_RE.match(self.name):
            raise HLXError("value", f"invalid handle name {self.name!r}: expected [A-Za-z0-9_]{{1,255}}")


@dataclass(frozen=True, slots=True, eq=False)
class Contract:
    """A typed record ``(id, fields)`` (spec §1).

    ``fields`` is a tuple of ``(index, value)`` pairs with strictly ascending non-negative indices. A list
    (or any iterable of pairs) is accepted and stored as a tuple. Equality is HLX equality (:func:`equal`).
    """

    id: int
    fields: tuple[tuple[int, Any], ...] = ()

    def __post_init__(self) -> None:
        if type(self.id) is not int or not 0 <= self.id <= INT_MAX:
            raise HLXError("value", f"contract id must be a non-negative int64, got {self.id!r}")
        fields = tuple((idx, val) for idx, val in self.fields)
        last = -1
        for idx, _ in fields:
            if type(idx) is not int or idx < 0 or idx > INT_MAX:
                raise HLXError("value", f"contract field index must be a non-negative int, got {idx!r}")
            if idx <= last:
                raise HLXError(
                    "value", f"contract field indices must be strictly ascending: @{idx} after @{last}"
                )
            last = idx
        object.__setattr__(self, "fields", fields)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Contract) and equal(self, other)

    def __hash__(self) -> int:
        return hash(_freeze(self))

    def field(self, index: int, default: Any = None) -> Any:
        """Return the value of field ``@index``, or ``default`` when absent."""
        for idx, val in self.fields:
            if idx == index:
                return val
        return default


def _freeze(value: Any) -> Any:
    """A hashable twin of ``value`` that distinguishes types the way :func:`equal` does."""
    kind = type(value)
    if kind is list:
        return ("list", tuple(_freeze(v) for v in value))
    if kind is dict:
        return ("dict", tuple((k, _freeze(v)) for k, v in value.items()))
    if kind is Contract:
        return ("contract", value.id, tuple((i, _freeze(v)) for i, v in value.fields))
    return (kind.__name__, value)


def equal(a: Any, b: Any) -> bool:
    """HLX equality: types must match (``True`` ≠ ``1``, ``1.0`` ≠ ``1``) and object order matters."""
    kind = type(a)
    if kind is not type(b):
        return False
    if kind is list:
        return len(a) == len(b) and all(equal(x, y) for x, y in zip(a, b))
    if kind is dict:
        return len(a) == len(b) and all(
            ka == kb and equal(va, vb) for (ka, va), (kb, vb) in zip(a.items(), b.items())
        )
    if kind is Contract:
        return (
            a.id == b.id
            and len(a.fields) == len(b.fields)
            and all(ia == ib and equal(va, vb) for (ia, va), (ib, vb) in zip(a.fields, b.fields))
        )
    return bool(a == b)


def validate(value: Any, notation: str = "value") -> None:
    """Raise :class:`HLXError` unless ``value`` lies inside the HLX value model (spec §1).

    Checks types, int64 range, finite floats, lone surrogates, object keys (identifier, not ``C``) and the
    nesting depth. Emitters call this once, then write without re-checking.
    """
    _validate(value, notation, 0)


def _validate(value: Any, notation: str, depth: int) -> None:  # one branch per type
    kind = type(value)
    if kind is int:
        if not INT_MIN <= value <= INT_MAX:
            raise HLXError(notation, f"integer {value} is outside the int64 range")
    elif kind is float:
        if not math.isfinite(value):
            raise HLXError(notation, f"float {value!r} is not allowed (NaN and Infinity are errors)")
    elif kind is str:
        if _SURROGATE_RE.search(value):
            raise HLXError(notation, "string contains a lone surrogate code point")
    elif kind is list or kind is dict or kind is Contract:
        if depth >= MAX_DEPTH:
            raise HLXError(notation, f"value nested deeper than {MAX_DEPTH} levels")
        if kind is list:
            for item in value:
                _validate(item, notation, depth + 1)
        elif kind is dict:
            for key, item in value.items():
                _check_key(key, notation)
                _validate(item, notation, depth + 1)
        else:
            for _, item in value.fields:
                _validate(item, notation, depth + 1)
    elif value is None or kind is bool or kind is bytes or kind is Handle:
        pass
    elif kind is tuple:
        raise HLXError(notation, "tuples are not HLX values; use a list for an array")
    else:
        raise HLXError(notation, f"{kind.__name__} is not an HLX value type")


def _check_key(key: Any, notation: str) -> None:
    if type(key) is not str or not KEY_RE.match(key):
        raise HLXError(notation, f"invalid object key {key!r}: expected an identifier [A-Za-z_][A-Za-z0-9_]*")
    if key == "C":
        raise HLXError(notation, "object key 'C' is reserved (it starts an LC-T contract, spec §4)")
