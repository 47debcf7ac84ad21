"""Every family's references grade exact by its own grader; corrupted references do not."""

from __future__ import annotations

import random
import subprocess
import sys

import pytest

from helixmoe import hlx, tasks
from helixmoe.errors import DataError
from helixmoe.tasks.hlx_checks import messy_text

GENERATING = [n for n in tasks.list_families() if tasks.get_family(n).weight > 0]

VALUE_FAMILIES = ("convert", "parse", "translate", "canonicalise")


def test_registry_lists_the_issue_families() -> None:
    expected = {
        "convert",
        "parse",
        "translate",
        "multi",
        "canonicalise",
        "validate",
        "explain",
        "glyph",
        "math",
    }
    assert expected <= set(tasks.list_families())
    assert tasks.EXPERTS == ("ascii", "runic", "coordinator", "math")
    with pytest.raises(DataError):
        tasks.get_family("no-such-family")


@pytest.mark.parametrize("name", GENERATING)
def test_references_grade_exact(samples, name: str) -> None:
    for ex in samples[name]:
        result = tasks.grade(ex, ex.response)
        assert (result.exact, result.equivalent, result.valid) == (True, True, True), ex
        assert tasks.grade(ex.to_dict(), "  " + ex.response + "\n").exact  # trimming


@pytest.mark.parametrize("name", GENERATING)
def test_corrupted_references_fail(samples, name: str) -> None:
    for ex in samples[name]:
        ref = ex.response
        wrong = ref[:-1] if len(ref) > 1 else ref + "0"
        assert not tasks.grade(ex, wrong).exact, ex
        assert not tasks.grade(ex, ref + " extra").exact
        assert not tasks.grade(ex, "").exact


@pytest.mark.parametrize("name", GENERATING)
def test_example_shape(samples, name: str) -> None:
    family = tasks.get_family(name)
    for ex in samples[name]:
        assert ex.family == name and ex.expert in family.experts
        assert set(ex.meta) == set(tasks.META_KEYS)
        assert all(v is None or isinstance(v, str) for v in ex.meta.values())
        assert ex.meta["template"] and ex.meta["wrapper"]
        assert ex.prompt.strip() and ex.response.strip() == ex.response


@pytest.mark.parametrize("name", VALUE_FAMILIES)
def test_value_answers_equivalent_and_valid(samples, name: str) -> None:
    rng = random.Random(3)
    for ex in samples[name][:120]:
        notation = ex.meta["dst"]
        value = hlx.loads(ex.meta["value"], "hlxl")
        assert hlx.equal(hlx.loads(ex.response, notation), value)
        other = hlx.dumps([value, 1], notation)  # a different value, still valid text
        assert (lambda g: (g.exact, g.equivalent, g.valid))(tasks.grade(ex, other)) == (False, False, True)
        if isinstance(value, (list, dict, hlx.Contract)) and notation != "lc-b-hex":
            messy = messy_text(rng, value, notation)
            g = tasks.grade(ex, messy)
            assert (g.exact, g.equivalent, g.valid) == (False, True, True), (ex, messy)
        assert not tasks.grade(ex, "[[[").valid


def test_experts_follow_the_notation(samples) -> None:
    owner = {"lc-t": "ascii", "lc-b-text": "ascii", "lc-b-hex": "ascii", "lc-r": "runic"}
    for name in ("convert", "parse", "translate"):
        for ex in samples[name]:
            src, dst = ex.meta["src"], ex.meta["dst"]
            assert ex.expert == owner[dst if dst != "hlxl" else src]
    assert {ex.expert for ex in samples["multi"]} == {"coordinator"}
    assert {ex.expert for ex in samples["glyph"]} == {"runic"}
    assert {ex.expert for ex in samples["math"]} == {"math"}
    assert {ex.expert for ex in samples["explain"]} == {"coordinator"}


def test_response_is_a_function_of_the_prompt() -> None:
    seen: dict[str, tuple[str, str]] = {}
    for ex in tasks.generate(4000, 21, split="train"):
        assert seen.setdefault(ex.prompt, (ex.response, ex.expert)) == (ex.response, ex.expert), ex.prompt


def test_multi_lines_and_partial_credit(samples) -> None:
    for ex in samples["multi"][:50]:
        labels = [line.split(": ", 1)[0] for line in ex.response.splitlines()]
        assert len(labels) >= 2 and set(labels) <= {"HLXL", "LC-T", "LC-R", "LC-B"}
        assert not tasks.grade(ex, ex.response.splitlines()[0]).valid  # a line missing


def test_validate_verdicts(samples) -> None:
    verdicts = {ex.response == "valid" for ex in samples["validate"]}
    assert verdicts == {True, False}
    for ex in samples["validate"]:
        assert ex.response == "valid" or ex.response.startswith("invalid: ")
        assert "\n" not in ex.response
        flipped = "invalid: x" if ex.response == "valid" else "valid"
        g = tasks.grade(ex, flipped)
        assert (g.exact, g.equivalent, g.valid) == (False, False, True)


def test_math_equivalent_forms() -> None:
    for ex in tasks.generate(200, 4, ["math"]):
        number = ex.response.removeprefix("x = ")
        assert tasks.grade(ex, number).equivalent
        assert not tasks.grade(ex, str(int(number) + 1)).equivalent
        assert not tasks.grade(ex, "banana").valid


def test_glyph_lenient_equivalent() -> None:
    exs = [ex for ex in tasks.generate(300, 6, ["glyph"]) if ex.meta["topic"] == "glyph:contract start"]
    assert exs
    g = tasks.grade(exs[0], "🐊")
    assert (g.exact, g.equivalent, g.valid) == (False, True, True)


def test_tasks_never_import_torch(tmp_path) -> None:
    code = (
        "import sys; from helixmoe import tasks; tasks.generate(50, 1);"
        f"tasks.build_corpus({str(tmp_path)!r}, 20, 1);"
        "bad = [m for m in ('torch', 'transformers') if m in sys.modules]; assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_task_label_names_what_each_example_asks_for() -> None:
    from collections import Counter

    from helixmoe.hlx import TEXT_NOTATIONS

    seen = Counter(tasks.task_label(e.meta) for e in tasks.generate(3000, seed=5, split="train"))
    assert set(TEXT_NOTATIONS) | {"validate", "explain", "glyph"} <= set(seen)
    assert any(label.startswith("multi:hlxl") for label in seen)
    assert tasks.task_label({"kind": "convert", "dst": "lc-b-hex"}) == "lc-b-hex"
    assert tasks.task_label({"kind": "validate", "dst": "lc-t"}) == "validate"
    assert tasks.task_label({"kind": "multi", "dst": "hlxl,lc-r"}) == "multi:hlxl,lc-r"
    assert tasks.task_label({"kind": "explain", "dst": None}) == "explain"
    assert tasks.task_label({}) == "none" and tasks.task_label(None) == "none"
