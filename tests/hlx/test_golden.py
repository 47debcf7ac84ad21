"""Golden-file tests for every HLX notation ("tests are data", see tests/data/hlx/README.md).

Layout: ``tests/data/hlx/<notation>/{canonical,valid,invalid}/``. Inputs use the notation's extension
(``.hlx`` HLXL, ``.lct`` LC-T, ``.lcr`` LC-R, ``.lcbt`` LC-B text, ``.hex`` LC-B bytes as hex); ``NAME.hlxl``
beside an input is the canonical HLXL of its value. Written against the public API only.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helixmoe import hlx

DATA = Path(__file__).resolve().parents[1] / "data" / "hlx"
EXT = {"hlxl": ".hlx", "lc-t": ".lct", "lc-r": ".lcr", "lc-b-text": ".lcbt", "lc-b-hex": ".hex"}


def _read(path: Path) -> str:
    return path.read_bytes().decode("utf-8")  # no newline translation: files hold exact text


def _files(kind: str) -> list[object]:
    params = []
    for notation, ext in EXT.items():
        for path in sorted((DATA / notation / kind).glob(f"*{ext}")):
            params.append(pytest.param(notation, path, id=f"{notation}/{path.stem}"))
    return params


def _forms(notation: str, text: str) -> list[tuple[str, str | bytes]]:
    """The (notation, input) pairs a file stands for: LC-B hex files feed both lc-b-hex and lc-b."""
    if notation != "lc-b-hex":
        return [(notation, text)]
    try:
        return [("lc-b-hex", text), ("lc-b", bytes.fromhex(text))]
    except ValueError:  # deliberately malformed hex text: only lc-b-hex can read it
        return [("lc-b-hex", text)]


@pytest.mark.parametrize(("notation", "path"), _files("canonical"))
def test_canonical_round_trip(notation: str, path: Path) -> None:
    """spec §8.2/§8.3: canonical text parses (strictly) and re-emits byte-exact; value matches its twin."""
    text = _read(path)
    twin = _read(path.with_suffix(".hlxl"))
    for name, data in _forms(notation, text):
        value = hlx.loads(data, name, strict=True)
        assert hlx.dumps(value, name) == data
        assert hlx.equal(value, hlx.loads(twin, "hlxl", strict=True))
        assert hlx.dumps(value, "hlxl") == twin


@pytest.mark.parametrize(("notation", "path"), _files("valid"))
def test_valid_input(notation: str, path: Path) -> None:
    """Valid (often lenient) input gives the twin's value; ``lenient_*`` inputs fail under strict=True."""
    text = _read(path)
    twin = _read(path.with_suffix(".hlxl"))
    expected = hlx.loads(twin, "hlxl")
    for name, data in _forms(notation, text):
        value = hlx.loads(data, name)
        assert hlx.equal(value, expected), f"{name}: {value!r} != {expected!r}"
        assert hlx.dumps(value, "hlxl") == twin
        if path.stem.startswith("lenient_"):
            with pytest.raises(hlx.HLXError):
                hlx.loads(data, name, strict=True)
        elif not path.stem.startswith("loose_"):
            assert hlx.equal(hlx.loads(data, name, strict=True), expected)


def _expectation(path: Path) -> tuple[list[str], list[str]]:
    err = path.with_suffix(".err")
    if not err.exists():
        return [], []
    lines = [*_read(err).splitlines(), "", ""]
    subs = [s.strip().lower() for s in lines[0].split("|") if s.strip()]
    return subs, lines[1].split()


@pytest.mark.parametrize(("notation", "path"), _files("invalid"))
def test_invalid_input(notation: str, path: Path) -> None:
    """spec §8.4: every rejection is an HLXError with a message (and position) that says what and where."""
    text = _read(path)
    subs, positions = _expectation(path)
    for name, data in _forms(notation, text):
        with pytest.raises(hlx.HLXError):
            hlx.loads(data, name, strict=True)
        with pytest.raises(hlx.HLXError) as info:
            hlx.loads(data, name)
        err = info.value
        assert isinstance(err, ValueError)
        assert err.notation == name or (name == "lc-b-hex" and err.notation == "lc-b"), err.notation
        if name == "lc-b":
            assert err.offset is not None, f"no byte offset in {err}"
        else:
            assert err.line is not None and err.column is not None, f"no line/column in {err}"
        message = str(getattr(err, "message", err)).lower()
        if subs:
            assert any(s in message for s in subs), f"{name}: {message!r} lacks any of {subs}"
        byte_positions = {int(p[1:]) for p in positions if p.startswith("@")}
        text_positions = {p for p in positions if not p.startswith("@")}
        if name == "lc-b" and byte_positions:
            assert err.offset in byte_positions, f"offset {err.offset}, expected one of {byte_positions}"
        if name not in ("lc-b", "lc-b-hex") and text_positions:
            assert f"{err.line}:{err.column}" in text_positions, (
                f"{name}: error at {err.line}:{err.column}, expected one of {sorted(text_positions)}"
            )


def test_every_input_has_its_twin() -> None:
    """Data hygiene: canonical/valid inputs have an .hlxl twin; every .err belongs to an invalid input."""
    for notation, ext in EXT.items():
        for kind in ("canonical", "valid"):
            inputs = list((DATA / notation / kind).glob(f"*{ext}"))
            assert inputs, f"no {kind} files for {notation}"
            for path in inputs:
                assert path.with_suffix(".hlxl").exists(), path
        for err in (DATA / notation / "invalid").glob("*.err"):
            assert err.with_suffix(ext).exists(), err


# Every example printed in the spec, per notation (§3, §4, §5, §6.1 table, §6.2 list).
# Every example of the spec, per notation, in canonical form (shared with tests/grammar).
SPEC_EXAMPLES: dict[str, list[str]] = json.loads((DATA / "spec_examples.json").read_text(encoding="utf-8"))

# spec §6.1 table: HLXL -> LC-B bytes.
SPEC_LCB_TABLE = [
    ("null", "00"),
    ("true", "01"),
    ("false", "02"),
    ("42", "122a000000"),
    ("-100", "129cffffff"),
    ("9007199254740991", "13ffffffffffff1f00"),
    ("3.14159", "216e861bf0f9210940"),
    ('"hello"', "30000568656c6c6f"),
    ('b"data"', "31000464617461"),
    ("&h_ast", "4003617374"),
    ("[1, 2, 3]", "600003120100000012020000001203000000"),
    ("[]", "600000"),
    ('{name: "Alice", age: 30}', "7002046e616d65300005416c69636503616765121e000000"),
    ("{}", "7000"),
    ("{14: {@0: 42}}", "50000e0100122a000000"),
    ("{14: {}}", "50000e00"),
    ('{1000: {@0: "search", @1: &h_query}}', "5003e802003000067365617263680140057175657279"),
]


@pytest.mark.parametrize("notation", list(SPEC_EXAMPLES))
def test_spec_examples_are_golden_files(notation: str) -> None:
    """Every spec example exists as a canonical golden file (so the tests above cover it)."""
    texts = {_read(p) for p in (DATA / notation / "canonical").glob(f"*{EXT[notation]}")}
    missing = [t for t in SPEC_EXAMPLES[notation] if t not in texts]
    assert not missing


@pytest.mark.parametrize(("text", "hexed"), SPEC_LCB_TABLE)
def test_spec_lcb_table(text: str, hexed: str) -> None:
    """spec §6.1: the HLXL -> LC-B table, both directions, through the public API."""
    assert hlx.dumps(hlx.loads(text, "hlxl"), "lc-b") == bytes.fromhex(hexed)
    assert hlx.convert(text, "lc-b-hex", src="hlxl") == hexed
    assert hlx.convert(hexed, "hlxl", src="lc-b-hex") == text
    assert hlx.dumps(hlx.loads(bytes.fromhex(hexed), "lc-b"), "hlxl") == text
