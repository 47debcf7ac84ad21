"""Fuzz tests (spec §8.4): malformed, mutated, deep and huge inputs only ever raise HLXError, quickly.

Every parser (all notations), ``detect`` and ``find_values`` get random text, mutated canonical text of
generated values and random bytes; adversarial inputs (100 000 nested openers, >1 MiB, 1 MiB of digits,
huge int literals) must be rejected with the right error well inside the timeout.
"""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helixmoe import hlx

from .strategies import FAST, values

TEXT_NOTATIONS = [n for n in hlx.NOTATIONS if n != "lc-b"]
_ALPHABET = (
    '[]{}()"\\/:,=|@#&_-+.0123456789abcdefxABCDEFCTFNUL eE\n\t\r🜃🜄🜊🜁🜂◇◆⟁⊠∅⊤⊥🐃🐄🐊🐁🐂\ud800é😀\x00\x7f'
)


def _only_hlx_errors(text: str | bytes) -> None:
    """Feed ``text`` to every reader; anything but success or HLXError fails the test."""
    if isinstance(text, bytes):
        try:
            hlx.loads(text, "lc-b")
        except hlx.HLXError as err:
            assert err.notation == "lc-b" and err.offset is not None, str(err)
        return
    for notation in TEXT_NOTATIONS:
        for strict in (False, True):
            try:
                value = hlx.loads(text, notation, strict=strict)
            except hlx.HLXError as err:  # spec §8.4: the error names its notation and position
                assert err.notation == notation or (notation == "lc-b-hex" and err.notation == "lc-b"), err
                assert err.line is not None and err.column is not None, str(err)
                continue
            hlx.validate(value)  # whatever parses is inside the value model
    with contextlib.suppress(hlx.HLXError):
        hlx.detect(text)
    for found in hlx.find_values(text):
        assert 0 <= found.start < found.end <= len(text)
        assert found.text == text[found.start : found.end]
        assert found.notation in hlx.NOTATIONS


@st.composite
def _mutated(draw: st.DrawFn) -> str | bytes:
    """The canonical text of a generated value in some notation, with a few random edits."""
    notation = draw(st.sampled_from(list(hlx.NOTATIONS)))
    data: Any = hlx.dumps(draw(values(max_leaves=12)), notation)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["delete", "insert", "swap", "truncate", "duplicate"]))
        n = len(data)
        i = draw(st.integers(0, max(n - 1, 0)))
        if op == "delete" and n:
            data = data[:i] + data[i + 1 :]
        elif op == "insert":
            piece = (
                bytes([draw(st.integers(0, 255))])
                if isinstance(data, bytes)
                else draw(st.sampled_from(_ALPHABET))
            )
            data = data[:i] + piece + data[i:]
        elif op == "swap" and n > 1:
            j = draw(st.integers(0, n - 1))
            i, j = min(i, j), max(i, j)
            data = data[:i] + data[j : j + 1] + data[i + 1 : j] + data[i : i + 1] + data[j + 1 :]
        elif op == "truncate":
            data = data[:i]
        elif op == "duplicate":
            data = data[:i] + data[i:] + data[i:]
    return data


@pytest.mark.timeout(120)
@settings(FAST, max_examples=200)
@given(data=_mutated())
def test_mutated_canonical_inputs(data: str | bytes) -> None:
    _only_hlx_errors(data)
    if isinstance(data, bytes):  # the same bytes as lc-b-hex text, and as latin-1 text
        _only_hlx_errors(data.hex())
        _only_hlx_errors(data.decode("latin-1"))


@pytest.mark.slow
@pytest.mark.timeout(1800)
@settings(FAST, max_examples=5000)
@given(data=_mutated())
def test_mutated_canonical_inputs_long(data: str | bytes) -> None:
    """The same as above with many more examples (``pytest -m slow``)."""
    test_mutated_canonical_inputs.hypothesis.inner_test(data)  # type: ignore[attr-defined]


@pytest.mark.timeout(120)
@settings(FAST, max_examples=200)
@given(text=st.text(st.sampled_from(_ALPHABET), max_size=40))
def test_random_text(text: str) -> None:
    _only_hlx_errors(text)


@pytest.mark.timeout(120)
@settings(FAST, max_examples=150)
@given(data=st.binary(max_size=64))
def test_random_bytes(data: bytes) -> None:
    _only_hlx_errors(data)
    _only_hlx_errors(data.hex())


@pytest.mark.timeout(60)
@settings(FAST, max_examples=100)
@given(prefix=st.text(max_size=20), value=values(max_leaves=8), suffix=st.text(max_size=20))
def test_find_values_in_free_text(prefix: str, value: Any, suffix: str) -> None:
    """Values embedded in prose: find_values never raises, and every span it reports parses."""
    for notation in TEXT_NOTATIONS:
        text = f"{prefix} {hlx.dumps(value, notation)} {suffix}"
        for found in hlx.find_values(text):
            assert found.text == text[found.start : found.end]
            assert hlx.equal(hlx.loads(found.text, found.notation), found.value)


# --- adversarial inputs -------------------------------------------------------------------------
N = 100_000
_DEPTH_WORDS = ("deep", "depth", "64", "nest")
_DEEP = [
    ("hlxl", "[" * N),
    ("hlxl", "{a: " * N),
    ("hlxl", "{1: {@0: " * (N // 10)),
    ("lc-t", "[" * N),
    ("lc-t", "{a:" * N),
    ("lc-t", "{C:1,0=" * (N // 10)),
    ("lc-r", "🜃" * N),
    ("lc-r", "🐃" * N),
    ("lc-r", "◇a: " * N),
    ("lc-r", "{a: " * N),
    ("lc-r", "🜊1🜁0 " * (N // 10)),
    ("lc-b-text", "[" * N),
    ("lc-b-text", "[{a:" * (N // 4)),
    ("lc-b-text", "[1|0:" * (N // 10)),
    ("lc-b", bytes.fromhex("600001") * N),
    ("lc-b", bytes.fromhex("70010161") * (N // 10)),
    ("lc-b", bytes.fromhex("5000010100") * (N // 10)),
    ("lc-b-hex", "600001" * N),
]


@pytest.mark.timeout(30)
@pytest.mark.parametrize(("notation", "data"), _DEEP, ids=[f"{n}-{d[:6]!r}" for n, d in _DEEP])
def test_deep_nesting_is_a_depth_error(notation: str, data: str | bytes) -> None:
    """spec §1: nesting beyond 64 levels is a clear error, never a RecursionError or a hang."""
    closing = "]" * 10 if notation in ("hlxl", "lc-t", "lc-b-text") else ""
    for closed in (data, data + closing) if closing else (data,):
        with pytest.raises(hlx.HLXError) as info:
            hlx.loads(closed, notation)
        assert any(w in str(info.value).lower() for w in _DEPTH_WORDS), str(info.value)[:200]


@pytest.mark.timeout(15)
@pytest.mark.parametrize("opener", ["[", "{a: ", "🜃", "{C:1,0=", "[1|0:"])
def test_deep_nesting_detect_and_find_values(opener: str) -> None:
    """detect and find_values on 100 000 nested openers finish quickly (spec §8.4: never unbounded)."""
    text = opener * N
    with contextlib.suppress(hlx.HLXError):
        hlx.detect(text)
    found = hlx.find_values(text)
    assert all(0 <= f.start < f.end <= len(text) for f in found)


_BIG_ITEMS = 600_000  # "1," * 600 000 is 1.2 MB


@pytest.mark.timeout(30)
@pytest.mark.parametrize("notation", list(hlx.NOTATIONS))
def test_input_over_1mib_is_a_size_error(notation: str) -> None:
    data: str | bytes = {
        "hlxl": "[" + "1," * _BIG_ITEMS + "1]",
        "lc-t": "[" + "1," * _BIG_ITEMS + "1]",
        "lc-r": "🜃" + "1, " * _BIG_ITEMS + "1🜄",
        "lc-b-text": "[[" + "0x01," * _BIG_ITEMS + "0x01]]",
        "lc-b": bytes.fromhex("31ffff") + b"\x00" * (1 << 20),
        "lc-b-hex": "31ffff" + "00" * (1 << 20),
    }[notation]
    with pytest.raises(hlx.HLXError) as info:
        hlx.loads(data, notation)
    assert any(w in str(info.value).lower() for w in ("mib", "size", "large", "limit")), str(info.value)[:200]


@pytest.mark.timeout(30)
@pytest.mark.parametrize("notation", ["hlxl", "lc-t", "lc-r"])
@pytest.mark.parametrize("length", [5000, (1 << 20) - 16])
def test_huge_int_literal_is_a_range_error(notation: str, length: int) -> None:
    """A decimal literal far beyond int64 (including 1 MiB of digits) is an HLXError, quickly."""
    for text in ("1" * length, "-" + "9" * length, "[" + "7" * length + "]"):
        with pytest.raises(hlx.HLXError):
            hlx.loads(text, notation)


@pytest.mark.timeout(30)
@pytest.mark.parametrize("notation", ["hlxl", "lc-t", "lc-r", "lc-b-text"])
def test_huge_float_literals(notation: str) -> None:
    """Long mantissas are fine floats; exponents beyond binary64 are errors, never inf."""
    wrap = (lambda s: f"[{s}]") if notation == "lc-b-text" else (lambda s: s)
    assert hlx.loads(wrap("0." + "3" * 100_000), notation) == float("0." + "3" * 30)
    with pytest.raises(hlx.HLXError):
        hlx.loads(wrap("1" + "0" * 400 + ".0"), notation)
    with pytest.raises(hlx.HLXError):
        hlx.loads(wrap("1e" + "9" * 1000), notation)


@pytest.mark.timeout(30)
def test_huge_hex_int_literal() -> None:
    for text in ("[0x" + "f" * 100_000 + "]", "[0x" + "0" * 100_000 + "1]"):
        try:
            value = hlx.loads(text, "lc-b-text")
        except hlx.HLXError:
            continue
        assert value == 1  # only the zero-padded 1 may parse


@pytest.mark.timeout(30)
@pytest.mark.parametrize("notation", TEXT_NOTATIONS)
def test_raw_lone_surrogate_in_str_input(notation: str) -> None:
    """A Python str holding a raw lone surrogate (no escape) is rejected, not encoded or crashed on."""
    for text in ('"\ud800"', '["a\udfff"]', "\ud800"):
        with pytest.raises(hlx.HLXError):
            hlx.loads(text, notation)


@pytest.mark.timeout(30)
@pytest.mark.parametrize("notation", list(hlx.NOTATIONS))
def test_wrong_input_type(notation: str) -> None:
    for data in (None, 42, ["[1]"], b"[1]" if notation != "lc-b" else "00"):
        with pytest.raises(hlx.HLXError):
            hlx.loads(data, notation)  # type: ignore[arg-type]
