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
