"""``loads``/``dumps``/``convert``: the notation registry and the checks every codec shares.

Each notation is a module with ``loads(src, strict) -> value`` and ``dumps(value) -> str | bytes`` that
trusts its input value; this module validates values once (spec §1), enforces the 1 MiB limit, and
normalises the notation name. Adding a notation is a module plus one line in ``_MODULES``.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

from helixmoe.hlx.errors import HLXError
from helixmoe.hlx.lexical import check_size
from helixmoe.hlx.values import MAX_SIZE, validate

__all__ = ["NOTATIONS", "TEXT_NOTATIONS", "convert", "dumps", "loads", "module_for", "normalise"]

_MODULES = {
    "hlxl": "helixmoe.hlx.hlxl",
    "lc-t": "helixmoe.hlx.lct",
    "lc-r": "helixmoe.hlx.lcr",
    "lc-b-text": "helixmoe.hlx.lcbtext",
    "lc-b": "helixmoe.hlx.lcb",
    "lc-b-hex": "helixmoe.hlx.lcbhex",
}
NOTATIONS: tuple[str, ...] = tuple(_MODULES)
#: Notations whose canonical form is a ``str`` (``lc-b`` is bytes).
TEXT_NOTATIONS: tuple[str, ...] = tuple(n for n in NOTATIONS if n != "lc-b")
_ALIASES = {
    "hlx": "hlxl",
    "lct": "lc-t",
    "lc_t": "lc-t",
    "lcr": "lc-r",
    "lc_r": "lc-r",
    "runic": "lc-r",
    "lcb": "lc-b",
    "lc_b": "lc-b",
    "binary": "lc-b",
    "lcb-text": "lc-b-text",
    "lc_b_text": "lc-b-text",
    "lc-b-bracket": "lc-b-text",
    "hex": "lc-b-hex",
    "lcb-hex": "lc-b-hex",
    "lc_b_hex": "lc-b-hex",
}
_loaded: dict[str, ModuleType] = {}


def normalise(notation: str) -> str:
    """Return the registry name for ``notation`` (case-insensitive, a few aliases), or raise HLXError."""
    name = str(notation).strip().lower()
    name = _ALIASES.get(name, name)
    if name not in _MODULES:
        raise HLXError("value", f"unknown notation {notation!r}; expected one of {', '.join(NOTATIONS)}")
    return name


def module_for(notation: str) -> ModuleType:
    """The codec module of a (normalised) notation, imported on first use."""
    module = _loaded.get(notation)
    if module is None:
        module = _loaded[notation] = importlib.import_module(_MODULES[notation])
    return module


def loads(data: str | bytes, notation: str, *, strict: bool = False) -> Any:
    """Parse one HLX value.

    Args:
        data: ``str`` for the text notations, ``bytes`` for ``"lc-b"``.
        notation: ``"hlxl"``, ``"lc-t"``, ``"lc-r"``, ``"lc-b-text"``, ``"lc-b"`` or ``"lc-b-hex"``.
        strict: reject the lenient forms the spec lists (then only canonical-compatible input parses).

    Returns:
        The value (see :mod:`helixmoe.hlx.values`).

    Raises:
        HLXError: malformed input, a value outside the model, or a limit exceeded; with position.
    """
    name = normalise(notation)
    if name == "lc-b":
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise HLXError(
                name, f"lc-b input must be bytes, got {type(data).__name__} (use 'lc-b-hex' for hex text)"
            )
        data = bytes(data)
    elif not isinstance(data, str):
        raise HLXError(name, f"{name} input must be str, got {type(data).__name__}")
    check_size(name, data)
    return module_for(name).loads(data, strict)


def dumps(value: Any, notation: str) -> Any:
    """Write ``value`` canonically: ``str`` for text notations, ``bytes`` for ``"lc-b"``.

    Raises:
        HLXError: the value is outside the HLX model or exceeds a limit of the notation.
    """
    name = normalise(notation)
    validate(value, name)
    out = module_for(name).dumps(value)
    if len(out) > MAX_SIZE or (
        isinstance(out, str) and len(out) * 4 > MAX_SIZE and len(out.encode()) > MAX_SIZE
    ):
        raise HLXError(name, f"serialised value is larger than the 1 MiB limit ({len(out)} units)")
    return out


def convert(text: str | bytes, to: str, *, src: str | None = None, strict: bool = False) -> Any:
    """Convert a value from one notation to another; ``src=None`` detects the input notation."""
    if src is None:
        from helixmoe.hlx.detect import detect

        src = "lc-b" if isinstance(text, (bytes, bytearray)) else detect(text)
    return dumps(loads(text, src, strict=strict), to)
