"""The HLX language family: one value model, five notations, and the tools around them.

This is the *oracle* of Helix MoE: it generates training data and grades every answer exactly. It is
pure Python and never imports torch. Public API::

    loads(data, notation, *, strict=False)   dumps(value, notation)   convert(text, to, *, src=None)
    detect(text)   find_values(text)   find_value(text, notation)   code_spans(text)   equal(a, b)   validate(value)
    Handle(name)   Contract(id, fields)   HLXError   NOTATIONS

Notations: ``"hlxl"`` (spec §3), ``"lc-t"`` (§4), ``"lc-r"`` (§5), ``"lc-b-text"`` (§6.2), ``"lc-b"``
(§6.1, bytes) and ``"lc-b-hex"`` (LC-B bytes written as hex text, for prompts and the CLI).
"""

from helixmoe.hlx.api import NOTATIONS, TEXT_NOTATIONS, convert, dumps, loads
from helixmoe.hlx.detect import FoundValue, code_spans, detect, find_value, find_values
from helixmoe.hlx.errors import HLXError
from helixmoe.hlx.values import MAX_DEPTH, MAX_SIZE, Contract, Handle, Value, equal, validate

__all__ = [
    "MAX_DEPTH",
    "MAX_SIZE",
    "NOTATIONS",
    "TEXT_NOTATIONS",
    "Contract",
    "FoundValue",
    "HLXError",
    "Handle",
    "Value",
    "code_spans",
    "convert",
    "detect",
    "dumps",
    "equal",
    "find_value",
    "find_values",
    "loads",
    "validate",
]
