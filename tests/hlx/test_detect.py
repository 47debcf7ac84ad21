"""detect() and find_values(): which notation, and where values sit inside English prompts."""

from __future__ import annotations

import pytest

from helixmoe import hlx
from helixmoe.hlx import Contract, Handle


@pytest.mark.parametrize(
    ("text", "notation"),
    [
        ("[1, 2, 3]", "hlxl"),
        ("[1,2,3]", "lc-t"),  # canonical LC-T wins over lenient HLXL
        ("{14: {@0: 42}}", "hlxl"),
        ("{C:14,0=42}", "lc-t"),
        ("🜊14🜁0 42🜂", "lc-r"),
        ("🐊14🐁0 42🐂", "lc-r"),
        ("[14|0:0x2a]", "lc-b-text"),
        ("[0x2a]", "lc-b-text"),
        ("null", "hlxl"),
        ("NULL", "lc-t"),
        ("42", "hlxl"),  # same value in HLXL and LC-T: not ambiguous
        ("50000e0100122a000000", "lc-b-hex"),  # hex is only a fallback
        ('  {name: "Alice", age: 30}\n', "hlxl"),
    ],
)
def test_detect(text: str, notation: str) -> None:
    assert hlx.detect(text) == notation


def test_detect_bytes_is_lc_b() -> None:
    assert hlx.detect(bytes.fromhex("00")) == "lc-b"


def test_detect_error_points_at_the_closest_parse() -> None:
    with pytest.raises(hlx.HLXError) as info:
        hlx.detect('{C:1000 0="x"}')
    err = info.value
    assert "closest is lc-t" in err.message
    assert "after the contract id" in err.message
    assert (err.line, err.column) == (1, 9)
    assert "^" in str(err)


@pytest.mark.parametrize(
    ("prompt", "value", "notation", "text"),
    [
        ("please make `{14: {@0: 42}}` runic", Contract(14, ((0, 42),)), "hlxl", "{14: {@0: 42}}"),
        ("Convert to LC-R: [1, 2, 3].", [1, 2, 3], "hlxl", "[1, 2, 3]"),
        ("Parse this LC-T: {C:14,0=42} into HLXL", Contract(14, ((0, 42),)), "lc-t", "{C:14,0=42}"),
        ("what is 🜃1, 2🜄 in HLXL?", [1, 2], "lc-r", "🜃1, 2🜄"),
        (
            'Decode [1000|0:"search"|1:&query] please',
            Contract(1000, ((0, "search"), (1, Handle("query")))),
            "lc-b-text",
            '[1000|0:"search"|1:&query]',
        ),
        (
            "bytes: 600003120100000012020000001203000000 ok",
            [1, 2, 3],
            "lc-b-hex",
            "600003120100000012020000001203000000",
        ),
        ('```\n{name: "Alice"}\n```', {"name": "Alice"}, "hlxl", '{name: "Alice"}'),
        ("inline `42` scalar", 42, "hlxl", "42"),
    ],
)
def test_find_values(prompt: str, value: object, notation: str, text: str) -> None:
    found = hlx.find_values(prompt)
    assert len(found) == 1, found
    hit = found[0]
    assert hlx.equal(hit.value, value)
    assert hit.notation == notation
    assert hit.text == text
    assert prompt[hit.start : hit.end] == text


def test_find_values_skips_english_numbers_and_emails_by_default() -> None:
    prompt = "In 2024 I sent 3 files to bob@example.com, returns null"
    assert hlx.find_values(prompt) == []
    scalars = [f.value for f in hlx.find_values(prompt, scalars=True)]
    assert scalars == [2024, 3, None]


def test_find_values_several_in_order() -> None:
    found = hlx.find_values("Is {C:1} the same as 🜊1🜂 and {1: {}}?")
    assert [f.notation for f in found] == ["lc-t", "lc-r", "hlxl"]
    assert all(hlx.equal(f.value, Contract(1, ())) for f in found)
