"""Property tests of the HLX invariants (spec §8.1–§8.3) over generated values, public API only."""

from __future__ import annotations

import itertools
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helixmoe import hlx

from .strategies import FAST, deep_values, depth_of, values

# Hypothesis sometimes reprs the (large) recursive strategy for its own bookkeeping; harmless.
pytestmark = pytest.mark.filterwarnings("ignore:Generating overly large repr")

NOTATIONS = list(hlx.NOTATIONS)
PAIRS = list(itertools.permutations(NOTATIONS, 2))


@pytest.mark.parametrize("notation", NOTATIONS)
@FAST
@given(value=values())
def test_round_trip(notation: str, value: Any) -> None:
    """spec §8.2: parse_Y(emit_Y(v)) == v, and emit is deterministic and idempotent over parse."""
    out = hlx.dumps(value, notation)
    assert isinstance(out, bytes if notation == "lc-b" else str)
    assert hlx.equal(hlx.loads(out, notation), value)
    assert hlx.equal(hlx.loads(out, notation, strict=True), value)  # canonical text is strict-valid
    assert hlx.dumps(hlx.loads(out, notation), notation) == out  # idempotent
    assert hlx.dumps(value, notation) == out  # deterministic within a run


@pytest.mark.parametrize("notation", ["hlxl", "lc-t", "lc-r", "lc-b-text"])
@FAST
@given(value=values(wide=True))
def test_round_trip_wide_ids(notation: str, value: Any) -> None:
    """Contract ids / field indices beyond LC-B's u16/u8 widths round-trip in the text notations."""
    out = hlx.dumps(value, notation)
    assert hlx.equal(hlx.loads(out, notation), value)


@pytest.mark.parametrize("notation", NOTATIONS)
@FAST
@given(value=deep_values())
def test_round_trip_deep(notation: str, value: Any) -> None:
    """Nesting up to the depth limit (64) round-trips; one more level is rejected by dumps."""
    assert 1 <= depth_of(value) <= 64
    out = hlx.dumps(value, notation)
    assert hlx.equal(hlx.loads(out, notation), value)
    if depth_of(value) == 64:
        with pytest.raises(hlx.HLXError):
            hlx.dumps([value], notation)


@settings(FAST, max_examples=60)
@given(value=values())
def test_cross_conversion(value: Any) -> None:
    """spec §8.3: X -> Y -> X via ``convert`` returns the canonical X, for every ordered pair."""
    canonical = {n: hlx.dumps(value, n) for n in NOTATIONS}
    for src, dst in PAIRS:
        there = hlx.convert(canonical[src], dst, src=src)
        assert there == canonical[dst], (src, dst)
        assert hlx.convert(there, src, src=dst) == canonical[src], (src, dst)


@FAST
@given(value=values())
def test_equal_is_strict(value: Any) -> None:
    """``equal`` is reflexive on generated values and tells bool/int/float and key order apart."""
    assert hlx.equal(value, value)
    assert not hlx.equal(True, 1)
    assert not hlx.equal(1.0, 1)
    assert not hlx.equal({"a": 1, "b": 2}, {"b": 2, "a": 1})


@pytest.mark.parametrize("notation", NOTATIONS)
def test_negative_zero_normalises(notation: str) -> None:
    """spec §1: -0.0 is written and read as 0.0 (and stays a float)."""
    out = hlx.dumps(-0.0, notation)
    assert out == hlx.dumps(0.0, notation)
    back = hlx.loads(out, notation)
    assert type(back) is float
    assert str(back) == "0.0"
    nested = hlx.loads(hlx.dumps([-0.0, {"z": -0.0}], notation), notation)
    assert str(nested[0]) == "0.0"
    assert str(nested[1]["z"]) == "0.0"


@pytest.mark.parametrize("notation", NOTATIONS)
@pytest.mark.parametrize(
    "bad",
    [
        float("nan"),
        float("inf"),
        float("-inf"),
        2**63,
        -(2**63) - 1,
        "\ud800",
        "a\udfffb",
        {"C": 1},
        {"1a": 1},
        {"": 1},
        {"a-b": 1},
        {1: 2},
        (1, 2),
        {1, 2},
        object(),
        bytearray(b"x"),
        [float("nan")],
        {"ok": [1, {"C": None}]},
    ],
    ids=repr,
)
def test_dumps_rejects_values_outside_the_model(notation: str, bad: Any) -> None:
    """spec §1: values outside the model raise HLXError from every emitter."""
    with pytest.raises(hlx.HLXError):
        hlx.dumps(bad, notation)


def test_value_types_reject_bad_parts() -> None:
    """spec §1: handle names and contract ids/indices are checked when the value is built."""
    for name in ["", "a-b", "é", "a b", "x" * 256]:
        with pytest.raises(hlx.HLXError):
            hlx.Handle(name)
    for make in [
        lambda: hlx.Contract(-1, ()),
        lambda: hlx.Contract(1, ((1, 0), (0, 0))),
        lambda: hlx.Contract(1, ((0, 0), (0, 1))),
        lambda: hlx.Contract(1, ((-1, 0),)),
    ]:
        with pytest.raises(hlx.HLXError):
            make()
    assert hash(hlx.Handle("x")) == hash(hlx.Handle("x"))
    assert hash(hlx.Contract(1, ((0, [1]),))) == hash(hlx.Contract(1, [(0, [1])]))


# --- LC-B width limits (spec §6.1): the largest value that fits works, one more is an error -------
_LIMITS = [
    ("object_255_members", {f"k{i}": i for i in range(255)}, {f"k{i}": i for i in range(256)}),
    ("string_65535_bytes", "x" * 65535, "x" * 65536),
    ("string_utf8_bytes", "€" * 21845, "€" * 21846),  # 3 bytes each: 65535 vs 65538 bytes
    ("bytes_65535", b"\x00" * 65535, b"\x00" * 65536),
    ("array_65535", [None] * 65535, [None] * 65536),
    ("key_255_bytes", {"k" * 255: 1}, {"k" * 256: 1}),
    ("contract_id_65535", hlx.Contract(65535), hlx.Contract(65536)),
    ("field_index_255", hlx.Contract(1, ((255, 1),)), hlx.Contract(1, ((256, 1),))),
    (
        "fields_255",
        hlx.Contract(1, tuple((i, None) for i in range(255))),
        hlx.Contract(1, tuple((i, None) for i in range(256))),
    ),
]


@pytest.mark.parametrize(("name", "fits", "too_wide"), _LIMITS, ids=[x[0] for x in _LIMITS])
def test_lcb_width_limits(name: str, fits: Any, too_wide: Any) -> None:
    for notation in ("lc-b", "lc-b-hex"):
        assert hlx.equal(hlx.loads(hlx.dumps(fits, notation), notation), fits)
        with pytest.raises(hlx.HLXError):
            hlx.dumps(too_wide, notation)
    # the other notations have no such widths: the wider value still round-trips
    for notation in ("hlxl", "lc-t", "lc-r", "lc-b-text"):
        assert hlx.equal(hlx.loads(hlx.dumps(too_wide, notation), notation), too_wide)


@pytest.mark.parametrize("notation", NOTATIONS)
def test_dumps_rejects_output_over_1mib(notation: str) -> None:
    """spec §1: a serialised value is at most 1 MiB; a bigger one is an error, not a silent write."""
    big = ["y" * 60000 for _ in range(20)]  # ~1.2 MB in every notation
    with pytest.raises(hlx.HLXError):
        hlx.dumps(big, notation)


_DETERMINISM_SCRIPT = """
import hashlib, json, sys
from pathlib import Path
from helixmoe import hlx
digest = hashlib.sha256()
for twin in sorted(Path(sys.argv[1]).glob('*/canonical/*.hlxl')):
    value = hlx.loads(twin.read_bytes().decode('utf-8'), 'hlxl')
    for n in hlx.NOTATIONS:
        out = hlx.dumps(value, n)
        digest.update(out if isinstance(out, bytes) else out.encode('utf-8'))
print(digest.hexdigest())
"""


def test_determinism_across_processes() -> None:
    """spec §8.1: the same values give identical output in fresh interpreters with different hash seeds."""
    data = Path(__file__).resolve().parents[1] / "data" / "hlx"
    digests = set()
    for seed in ("1", "2"):
        env = {"PYTHONHASHSEED": seed, "PATH": "/usr/bin:/bin"}
        proc = subprocess.run(
            [sys.executable, "-c", _DETERMINISM_SCRIPT, str(data)],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr
        digests.add(proc.stdout.strip())
    assert len(digests) == 1


@settings(FAST, max_examples=40)
@given(value=values(), pad=st.sampled_from(["", " ", "\n", " \t\r\n "]))
def test_surrounding_whitespace(value: Any, pad: str) -> None:
    """spec §2: text parsers skip whitespace around the whole value."""
    for notation in ("hlxl", "lc-t", "lc-b-text"):
        text = hlx.dumps(value, notation)
        assert hlx.equal(hlx.loads(pad + text + pad, notation), value)


_ANIMALS = str.maketrans({"🜊": "🐊", "🜁": "🐁", "🜂": "🐂", "🜃": "🐃", "🜄": "🐄", "◇": "{", "◆": "}"})


@settings(FAST, max_examples=60)
@given(value=values(safe=True))
def test_lcr_lenient_glyphs(value: Any) -> None:
    """spec §5 lenient: animal-emoji glyphs and ``{}`` objects read as the canonical glyphs (not in strict)."""
    canonical = hlx.dumps(value, "lc-r")
    variant = canonical.translate(_ANIMALS)
    assert hlx.equal(hlx.loads(variant, "lc-r"), value)
    assert hlx.convert(variant, "lc-r", src="lc-r") == canonical
    if variant != canonical:
        with pytest.raises(hlx.HLXError):
            hlx.loads(variant, "lc-r", strict=True)


def _spread(text: str, marks: str, pad: str) -> str:
    """Insert ``pad`` after every character in ``marks`` (only safe when no string holds them)."""
    return "".join(ch + pad if ch in marks else ch for ch in text)


@settings(FAST, max_examples=60)
@given(value=values(safe=True), pad=st.sampled_from([" ", "\n  ", "\t", " \r\n "]))
def test_whitespace_between_tokens(value: Any, pad: str) -> None:
    """spec §2: parsers skip whitespace between tokens (HLXL, LC-T; pretty-printed LC-R is lenient)."""
    for notation, marks in (("hlxl", ",:[{"), ("lc-t", ",:=[{"), ("lc-r", ",🜃◇🜁")):
        spread = _spread(hlx.dumps(value, notation), marks, pad)
        assert hlx.equal(hlx.loads(spread, notation), value), (notation, spread)
