"""The automata and Lark grammars accept exactly the canonical form of each notation (spec §2–§6)."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest

from helixmoe import hlx
from helixmoe.grammar import GRAMMAR_NOTATIONS, automaton, lark_grammar
from helixmoe.grammar.literals import INF
from helixmoe.hlx import Contract

from .values import random_value

# spec §3, §4, §5, §6.2 and the LC-B table of §6.1, verbatim.
# Every example of the spec, per notation (the golden suite's data file).
SPEC_EXAMPLES: dict[str, list[str]] = json.loads(
    (Path(__file__).resolve().parents[1] / "data" / "hlx" / "spec_examples.json").read_text(encoding="utf-8")
)

NON_CANONICAL = {
    "hlxl": [
        "[1,2]",
        "[1, 2 ]",
        "{ }",
        "01",
        "1.50",
        "-0",
        "1E5",
        ".5",
        '"\\/"',
        '"\\u0041"',
        "True",
        "[1, 2,]",
        "{a: 1, a: 2}",
        "{C: 1}",
        "{14: {@1: 1, @0: 2}}",
        "{14:{}}",
        'b"\\x41"',
        '"a\x01"',
        "9223372036854775808",
        "&h_",
        " 1",
        "1 ",
        "[1, 2]]",
    ],
    "lc-t": [
        "{C:14, 0=42}",
        "null",
        '{name: "x"}',
        "1E5",
        '"\u00e9"',
        "{C:14,0=1,0=2}",
        "{a:1,a:2}",
        "[1,]",
        "#abc",
        "#AB",
        "{C:14 0=1}",
        '"\\u00E9"',
        '"\\ud83d"',
        "@",
        "[1, 2]",
    ],
    "lc-r": ["🜃1,2🜄", "🐃1🐄", "{a: 1}", "🜊14🜁0  42🜂", "🜊14 🜁0 42🜂", "◇a:1◆", "⊠abc", "∅∅", "NULL"],
    "lc-b-text": [
        "[0x01,42]",
        "[0x2A]",
        "[0x03e8]",
        "[[14]]",
        "[]",
        "[0xffffffff]",
        "[-0x01]",
        "[1.0e5]",
        "[_,_]",
        "_",
        "[{C:0x01}]",
        "[14|1:_|0:_]",
        "[0x0080]",
        "[14 ]",
        "[0x1]",
    ],
    "lc-b-hex": [
        "1301000000000000000",
        "1301000000000000000" + "0",
        "10ff",
        "300001ff",
        "2100000000000000f87f",
        "2100000000000000" + "0080",
        "700201610101610101",
        "50000102010000",
        "ABCD",
        "0000",
        "6000010",
        "400100",
        "40000161",
        "7001014301",
    ],
}


def accepts(notation: str, text: str) -> bool:
    machine = automaton(notation)
    state = machine.feed(machine.start(), text)
    return machine.accepting(state)


@pytest.mark.parametrize("notation", GRAMMAR_NOTATIONS)
def test_spec_examples_are_accepted(notation: str) -> None:
    for text in SPEC_EXAMPLES[notation]:
        assert hlx.dumps(hlx.loads(text, notation, strict=True), notation) == text, text  # really canonical
        assert accepts(notation, text), text


@pytest.mark.parametrize("notation", GRAMMAR_NOTATIONS)
def test_non_canonical_forms_are_rejected(notation: str) -> None:
    for text in NON_CANONICAL[notation]:
        assert not accepts(notation, text), text


@pytest.mark.parametrize("notation", GRAMMAR_NOTATIONS)
def test_every_canonical_value_is_accepted_and_remaining_counts_down(notation: str) -> None:
    rng = random.Random(7)
    machine = automaton(notation)
    checked = 0
    for _ in range(250):
        try:
            text = hlx.dumps(random_value(rng), notation)
        except hlx.HLXError:  # e.g. an LC-B width limit
            continue
        state = machine.start()
        for i, ch in enumerate(text):
            # the characters still to come always cover the automaton's lower bound
            assert machine.remaining(state) <= len(text) - i, (text, i)
            state = machine.feed(state, ch)
            assert state is not None, (text, i)
        assert machine.accepting(state) and machine.remaining(state) == 0, text
        checked += 1
    assert checked > 200


ALPHABET = [chr(c) for c in range(0x20, 0x7F)] + list("∅⊤⊥⟁⊠🜊🜁🜂🜃🜄◇◆é😀\n")


def has_float(value: object) -> bool:
    if isinstance(value, float):
        return True
    if isinstance(value, list):
        return any(map(has_float, value))
    if isinstance(value, dict):
        return any(map(has_float, value.values()))
    if isinstance(value, Contract):
        return any(has_float(v) for _, v in value.fields)
    return False


@pytest.mark.parametrize("notation", GRAMMAR_NOTATIONS)
def test_random_walks_within_budget_end_strictly_parseable(notation: str) -> None:
    """Any path the automaton allows, cut to a budget the way the decoder cuts it, is a canonical value
    (floats: canonically shaped, strictly parseable, not necessarily the shortest repr)."""
    rng = random.Random(notation)
    machine = automaton(notation)
    for _ in range(150):
        budget = rng.choice([machine.remaining(machine.start()), 5, 9, 16, 40])
        state, text = machine.start(), ""
        for left in range(budget, 0, -1):
            moves = [
                (c, s)
                for c in ALPHABET
                if (s := machine.feed(state, c)) is not None and machine.remaining(s) <= left - 1
            ]
            if machine.accepting(state) and (not moves or rng.random() < 0.15):
                break
            assert moves, (text, budget)
            ch, state = rng.choice(moves)
            text += ch
        assert machine.accepting(state), text
        value = hlx.loads(text, notation, strict=True)
        if not has_float(value):
            assert hlx.dumps(value, notation) == text


def test_remaining_is_exact_at_the_start() -> None:
    assert {n: automaton(n).remaining(automaton(n).start()) for n in GRAMMAR_NOTATIONS} == {
        "hlxl": 1,
        "lc-t": 1,
        "lc-r": 1,
        "lc-b-text": 3,
        "lc-b-hex": 2,
    }
    machine = automaton("lc-r")
    assert machine.remaining(machine.feed(machine.start(), "🜃🜃◇ab")) == len(": 0◆🜄🜄")
    assert machine.remaining(machine.feed(machine.start(), "🜊3🜁4")) == len(" 0🜂")
    hexa = automaton("lc-b-hex")
    assert hexa.remaining(hexa.feed(hexa.start(), "6001")) == 2 + 256 * 2  # count >= 0x0100, one byte each
    assert hexa.remaining(hexa.feed(hexa.start(), "6")) == 5  # "00000"
    assert machine.remaining(None) == INF


def test_semantic_rules_are_enforced() -> None:
    assert not accepts("lc-t", "{a:1,a:2}") and accepts("lc-t", "{a:1,b:2}")
    assert not accepts("lc-r", "🜊1🜁2 ∅🜁2 ∅🜂") and accepts("lc-r", "🜊1🜁2 ∅🜁3 ∅🜂")
    assert accepts("hlxl", "9223372036854775807") and not accepts("hlxl", "9223372036854775808")
    assert accepts("hlxl", "-9223372036854775808")
    assert accepts("hlxl", "[" * 60 + "]" * 60) and not accepts("hlxl", "[" * 61 + "]" * 61)


def test_lc_b_bytes_has_no_text_grammar() -> None:
    with pytest.raises(hlx.HLXError, match="lc-b-hex"):
        automaton("lc-b")
    with pytest.raises(hlx.HLXError):
        lark_grammar("lc-b-hex")


def test_lark_grammars_validate_and_accept_the_spec_examples(tokenizer: object) -> None:
    import llguidance
    import llguidance.hf

    lltok = llguidance.hf.from_tokenizer(tokenizer)
    for notation in ("hlxl", "lc-t", "lc-r", "lc-b-text"):
        grammar = llguidance.LLMatcher.grammar_from_lark(lark_grammar(notation))
        assert not llguidance.LLMatcher.validate_grammar(grammar, lltok), notation
        for text in SPEC_EXAMPLES[notation]:
            matcher = llguidance.LLMatcher(lltok, grammar, log_level=0)
            assert matcher.consume_tokens(tokenizer.encode(text, add_special_tokens=False)), text
            assert matcher.is_accepting(), text
        for text in NON_CANONICAL[notation][:4]:  # syntax errors (the later entries include semantic ones)
            matcher = llguidance.LLMatcher(lltok, grammar, log_level=0)
            ok = matcher.consume_tokens(tokenizer.encode(text, add_special_tokens=False))
            assert not (ok and matcher.is_accepting()), (notation, text)


def test_grammars_never_import_torch() -> None:
    code = (
        "import sys, helixmoe.grammar, helixmoe.grammar.grammars, helixmoe.grammar.tokens\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'transformers'))\n"
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
