"""Hypothesis strategies for HLX values (spec §1), shared by the property and fuzz tests.

``values()`` stays inside every notation's limits (LC-B widths included) so one value can be written in
all notations; ``values(wide=True)`` also draws contract ids and field indices beyond LC-B's u16/u8 widths.
Floats never include -0.0 (the codecs normalise it to 0.0, spec §1; tested separately), NaN or ±inf.
"""

from __future__ import annotations

import string
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from helixmoe import hlx

INT_MIN, INT_MAX = -(2**63), 2**63 - 1

#: Fast, reproducible settings for the default suite.
FAST = settings(
    max_examples=100,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
)

_INT_EDGES = [
    0,
    1,
    -1,
    127,
    128,
    255,
    256,
    32767,
    32768,
    -32768,
    -32769,
    65535,
    65536,
    2**31 - 1,
    2**31,
    -(2**31),
    -(2**31) - 1,
    2**53 - 1,
    2**53 + 1,
    INT_MAX,
    INT_MIN,
    INT_MAX - 1,
    INT_MIN + 1,
]
ints = st.one_of(st.sampled_from(_INT_EDGES), st.integers(INT_MIN, INT_MAX), st.integers(-1000, 1000))

_FLOAT_EDGES = [
    0.0,
    1.0,
    -1.0,
    0.1,
    1e-10,
    1e16,
    1e22,
    1e-7,
    123456789.0,
    10000000000.0,
    1e300,
    5e-324,
    2.2250738585072014e-308,
    1.7976931348623157e308,
    -1.5e-5,
    3.14159,
    9007199254740993.0,
]
floats = st.one_of(
    st.sampled_from(_FLOAT_EDGES),
    st.floats(allow_nan=False, allow_infinity=False).map(lambda x: x + 0.0),  # -0.0 -> 0.0
)

_SPECIAL_CHARS = (
    '"\\/\n\r\t\b\f\x00\x01\x1f\x7f\x80\xa0\u2028\ufeff\uffff😀\U0010ffff🜃🜄🜊🜁🜂◇◆⟁⊠∅⊤⊥{}[]|:=,@#&_'
)
_chars = st.one_of(
    st.characters(exclude_categories=("Cs",)),  # any scalar value: astral and control characters included
    st.sampled_from(_SPECIAL_CHARS),
)
strings = st.text(_chars, max_size=24)
byte_strings = st.binary(max_size=24)

_NAME_ALPHABET = string.ascii_letters + string.digits + "_"
handles = st.text(_NAME_ALPHABET, min_size=1, max_size=16).map(hlx.Handle)
keys = st.builds(
    lambda first, rest: first + rest,
    st.sampled_from(string.ascii_letters + "_"),
    st.text(_NAME_ALPHABET, max_size=10),
).filter(lambda k: k != "C")

scalars = st.one_of(st.none(), st.booleans(), ints, floats, strings, byte_strings, handles)
#: Scalars whose text in any notation holds no punctuation or glyphs (for token-level text rewriting).
safe_scalars = st.one_of(
    st.none(),
    st.booleans(),
    ints,
    floats,
    st.text(string.ascii_letters + string.digits + " ", max_size=12),
    st.lists(st.sampled_from([0, 1, 0x41, 0x7A, 0x80, 0xFF]), max_size=6).map(bytes),
    handles,
)


def _contracts(children: st.SearchStrategy[Any], wide: bool) -> st.SearchStrategy[hlx.Contract]:
    ids = st.one_of(st.integers(0, 65535), st.integers(0, INT_MAX)) if wide else st.integers(0, 65535)
    indices = st.integers(0, 2**40) if wide else st.integers(0, 255)
    fields = st.lists(st.tuples(indices, children), max_size=5, unique_by=lambda f: f[0]).map(
        lambda fs: tuple(sorted(fs, key=lambda f: f[0]))  # gaps allowed, strictly ascending
    )
    return st.builds(hlx.Contract, ids, fields)


def values(*, wide: bool = False, safe: bool = False, max_leaves: int = 24) -> st.SearchStrategy[Any]:
    """Arbitrary HLX values (nested arrays, ordered objects, contracts); ``safe`` uses :data:`safe_scalars`."""
    return st.recursive(
        safe_scalars if safe else scalars,
        lambda children: st.one_of(
            st.lists(children, max_size=6),
            st.dictionaries(keys, children, max_size=6),
            _contracts(children, wide),
        ),
        max_leaves=max_leaves,
    )


@st.composite
def deep_values(draw: st.DrawFn, max_depth: int = 64) -> Any:
    """A chain of 1..max_depth nested containers (array / object / contract) around a scalar."""
    depth = draw(st.integers(1, max_depth))
    value = draw(scalars)
    for kind in draw(st.lists(st.sampled_from("aoc"), min_size=depth, max_size=depth)):
        if kind == "a":
            value = [value]
        elif kind == "o":
            value = {draw(keys): value}
        else:
            value = hlx.Contract(draw(st.integers(0, 65535)), ((draw(st.integers(0, 255)), value),))
    return value


def depth_of(value: Any) -> int:
    """Nesting depth as the spec counts it: a scalar is 0, ``[]`` is 1."""
    if isinstance(value, list):
        return 1 + max((depth_of(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((depth_of(v) for v in value.values()), default=0)
    if isinstance(value, hlx.Contract):
        return 1 + max((depth_of(v) for _, v in value.fields), default=0)
    return 0
