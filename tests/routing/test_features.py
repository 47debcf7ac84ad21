"""The routers' prompt normalisation (``helixmoe.routing.features``)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from helixmoe import tasks
from helixmoe.routing import features

PLAIN_ENGLISH = Path(__file__).resolve().parents[2] / "benchmarks" / "data" / "plain_english.jsonl"


def _regex_mentions(text: str) -> list[str]:
    """The reference: one case-insensitive expression of every name, longest first, as whole words."""
    names = sorted(features._NAMES, key=len, reverse=True)
    pattern = re.compile(
        r"(?<![\w-])(" + "|".join(re.escape(n) for n in names) + r")(?![\w-])", re.IGNORECASE
    )
    return list(dict.fromkeys(features._NAMES[m.group(1).lower()] for m in pattern.finditer(text)))


def test_mentions_find_what_one_expression_of_all_names_finds() -> None:
    texts = [e.prompt for e in tasks.generate(1500, seed=31, split="ood")]
    texts += [json.loads(line)["prompt"] for line in PLAIN_ENGLISH.read_text(encoding="utf-8").splitlines()]
    texts += [
        "LC-B-texts lcr, LCR- lc-b bytes in hexes, LC-B BYTES IN HEX",
        "raw binary (hex)x raw binary (hex) x-lcr lcr-x (lcr) runes-runic runic_form ascii wire formats",
        "hlxvaluehlxl hlxl hlxlhlxl lc-b-hex-dump hex dump",
        "",
    ]
    for text in texts:
        body = features.normalise(text)
        assert features.mentions(body) == _regex_mentions(body), text


def test_mentions_keep_order_and_take_the_longest_name() -> None:
    assert features.mentions("from LC-B bytes in hex to runes, then runic and HLXL") == [
        "lc-b-hex",
        "lc-r",
        "hlxl",
    ]
    assert features.mentions("the lc-b-text form, not lc-bx or xlcr") == ["lc-b-text"]


def _tags(text: str) -> list[str]:
    return [w for w in features.normalise(text).split() if w.startswith("hlx")]


def test_a_value_written_as_the_codec_writes_it_reads_canonical() -> None:
    # canonicalise requests always show messy text; the value of a conversion is canonical
    assert "hlxcanon" in _tags("Would this HLXL be accepted? {region: 10.0, quota: {gamma: -127}}")
    assert "hlxmessy" in _tags("Tidy this LC-B text up: [[# ,0xFFB1  ,0x3E ,0xFFBD]]")
    assert "hlxmessy" in _tags("Make this canonical: {a:1,   b: [1,2]}")
    # scalars say nothing either way (every notation writes 42 the same)
    assert not {"hlxcanon", "hlxmessy"} & set(_tags("Convert 42 to runes"))
    counts: dict[str, list[int]] = {}
    for example in tasks.generate(1200, seed=17, split="train"):
        tags = _tags(example.prompt)
        tally = counts.setdefault(example.meta["kind"], [0, 0])
        tally[0] += "hlxmessy" in tags
        tally[1] += "hlxcanon" in tags
    messy, canon = counts["canonicalise"]
    assert messy >= 0.95 * (messy + canon) and messy > 50
    for kind in ("convert", "translate"):
        messy, canon = counts[kind]
        assert messy <= 0.05 * (messy + canon) and canon > 50


def test_a_value_two_named_notations_write_alike_leaves_the_source_to_the_words() -> None:
    # [#657933] is canonical LC-T and LC-B text: the tags must not claim LC-T is the source
    tags = _tags("Rewrite this LC-B bracket notation value as ASCII: [#657933]")
    assert "hlxsrc_ambiguous" in tags and {"hlxdst_lct", "hlxdst_lcbtext"} <= set(tags)
    assert not [t for t in tags if t.startswith("hlxpair_")]
    assert "hlxvalueambiguous" in tags
    # an integer that is also LC-B hex, the two notations named
    assert "hlxsrc_ambiguous" in _tags("What is the LC-R form of the LC-B hex value 1201000000?")
    # the lenient LC-R parser reads HLXL text, but LC-R does not write it so: HLXL stays the source
    assert {"hlxsrc_hlxl", "hlxpair_hlxl_lcr"} <= set(_tags("Convert to LC-R: {a: 1}"))
    # no other named notation: nothing to decide
    assert "hlxsrc_lct" in _tags("Make this HLXL please: [#657933]")
    # long values are not read again (routing time): the scanner's notation stands
    long = "[" + ",".join(str(i) for i in range(40)) + "]"
    assert "hlxsrc_ambiguous" not in _tags(f"Rewrite this LC-B bracket notation value as ASCII: {long}")


def test_canonical_text_with_nothing_to_convert_to_reads_as_its_own_tag() -> None:
    # "canonical and no other notation named" is validate's shape, never canonicalise's: one tag for both
    assert "hlxsamecanon" in _tags("Find the problem in this LC-T, if any: [0.5,[2,{a:TRUE}]]")
    assert "hlxsamemessy" in _tags("Tidy this LC-T up: [0.5 , [2,{a:TRUE}]]")
    conversion = _tags("Convert [0.5,[2,{a:TRUE}]] (LC-T) to runes")
    assert "hlxcanon" in conversion and not {"hlxsamecanon", "hlxsamemessy"} & set(conversion)


def test_a_bracketed_span_no_value_covers_reads_broken() -> None:
    assert "hlxbroken" in _tags('Would this LC-B text be accepted? [{timeout_ms:"F",created_at:F,}]')
    assert "hlxbroken" in _tags("Would this LCB be accepted? [15|0:-1.0")  # left open
    assert "hlxbroken" in _tags("Is this runic right? \U0001f703\u2205,' \u2205, 1\U0001f704")
    # values, brackets inside strings, chat wrappers and short or wordy brackets are not broken
    for text in (
        'Convert {a: "]x[", b: [1, 2]} to LC-T',
        "[INST] Show me [&h_fb, 2] written in LC-B-hex [/INST]",
        "Convert \U0001f7031, 2\U0001f704 to HLXL, see [docs]",
        "What is [] in LC-R?",
        "What does \U0001f703 mean in LC-R? Thanks",
        'Parse {a: "x\\\\"} into LC-T',
    ):
        assert "hlxbroken" not in _tags(text), text
    # generated conversions are never broken; many validate requests are (93 of 223 in 3 000, README)
    counts = {"convert": [0, 0], "validate": [0, 0]}
    for example in tasks.generate(1500, seed=23, split="train"):
        kind = example.meta["kind"]
        if kind in counts and example.meta.get("src") != "lc-b-hex":  # hex has no brackets
            counts[kind][0] += "hlxbroken" in _tags(example.prompt)
            counts[kind][1] += 1
    assert counts["convert"][1] > 50 and counts["convert"][0] == 0
    assert counts["validate"][1] > 50 and counts["validate"][0] > 0.2 * counts["validate"][1], counts


def test_one_glyph_in_the_words_reads_as_a_glyph_question() -> None:
    assert "hlxglyph" in _tags("What is \U0001f701 used for in runic?")
    assert "hlxglyph" in _tags("Meaning of the LC-R glyph \u25c6?")
    assert "hlxglyph" not in _tags("Glyph for false in the runic notation?")
    assert "hlxglyph" not in _tags("Convert \U0001f7031, 2\U0001f704 to HLXL")  # a value's glyphs are its own
