"""The ``retry`` policy's search (helixmoe.system.retry): branch at the least certain steps of a wrong answer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from helixmoe import hlx
from helixmoe.system import HelixMoE
from helixmoe.system.retry import alternatives, least_sure

EOS = 1
V = 32


def _scores(chosen: int, runner_up: int | None, margin: float) -> torch.Tensor:
    row = torch.full((V,), float("-inf"))
    row[chosen] = 5.0
    if runner_up is not None:
        row[runner_up] = 5.0 - margin
    return row


def test_least_sure_is_the_lead_over_the_best_other_allowed_token() -> None:
    scores = torch.stack([_scores(3, 7, 0.25), _scores(4, None, 0.0), torch.zeros(V)])
    assert least_sure(scores, [3, 4, 0]) == [(0.25, 7), None, (0.0, 1)]  # ties: the lowest other id


def test_alternatives_branch_at_the_smallest_margins_first() -> None:
    """Two answers; the search re-reads each with its EOS, then decodes the answer up to each of the
    ``branches`` least certain steps plus the runner-up there (steps with no other allowed token never)."""
    answers = [[10, 11, 12], [20]]
    # per answer and step: (runner-up, margin); the EOS step of answer 0 is its least certain one
    steps = {0: [(13, 2.0), None, (14, 0.5), (15, 0.1)], 1: [(21, 3.0), (22, 1.0)]}
    calls: list[tuple[list[int], list[list[int]]]] = []

    def decode(rows: list[int], forced: list[list[int]], observe: Any) -> list[list[int]]:
        calls.append((rows, forced))
        if observe is None:  # the branches: each prefix, then a fixed continuation
            return [[*prefix, 99] for prefix in forced]
        assert getattr(observe, "top", None) == 2
        for t in range(max(len(f) for f in forced)):
            live = [r for r in rows if t < len(forced[r])]
            table = []
            for r in live:
                found = steps[r][t]
                table.append(_scores(forced[r][t], *(found if found else (None, 0.0))))
            observe(live, torch.stack(table))
        return [f[:-1] for f in forced]

    out = alternatives(answers, EOS, decode, branches=2)
    assert calls[0] == ([0, 1], [[10, 11, 12, EOS], [20, EOS]])
    assert calls[1][0] == [0, 0, 1, 1]
    assert out[0] == [[10, 11, 12, 15, 99], [10, 11, 14, 99]]  # margins 0.1 (the EOS step), then 0.5
    assert out[1] == [[20, 22, 99], [21, 99]]  # margins 1.0 (the EOS step), then 3.0
    assert alternatives(answers, EOS, decode, branches=0) == [[], []]
    assert len(calls) == 2  # no branches: nothing decoded


@pytest.fixture(scope="module")
def moe(tiny_system: Path) -> HelixMoE:
    return HelixMoE.load(tiny_system, device="cpu", constrained=True)


def test_constrained_answers_do_not_depend_on_their_batch(moe: HelixMoE, monkeypatch: Any) -> None:
    """Each row's grammar closes its value within the row's own cap, so a request answers the same alone and
    beside a request with a larger cap (the grammar once took the batch's largest cap for every row)."""
    monkeypatch.setattr(moe, "token_limit", lambda tokens, expert=None: 8 if tokens < 40 else 64)
    prompts = [
        "Convert to LC-R: [[1]]",
        "Convert to LC-T: " + str(list(range(40))),
        "Encode [[true]] in LC-B",
    ]
    together = [a.model_text for a in moe.batch(prompts, verify="off")]
    alone = [moe.answer(p, verify="off").model_text for p in prompts]
    assert together == alone


def test_retry_tries_alternatives_and_keeps_the_models_text(moe: HelixMoE, monkeypatch: Any) -> None:
    """Under constrained decoding ``retry`` used to decode the same answer again; now it branches. The
    untrained model's alternatives are checked like its answer: a verified one is returned as ``retry``,
    else the answer stays the model's own, not verified."""
    import helixmoe.system.retry as retry

    tried: list[int] = []
    real = retry.alternatives

    def spy(answers: Any, eos: int, decode: Any, branches: int) -> Any:
        out = real(answers, eos, decode, branches)
        tried.extend(len(options) for options in out)
        return out

    monkeypatch.setattr(retry, "alternatives", spy)
    prompts = ["Convert to LC-R: [1, 2, 3]", "Convert to LC-T: {a: 1}"]
    answers = moe.batch(prompts, verify="retry")
    assert tried and all(0 < n <= moe.retry_branches for n in tried)
    for answer in answers:
        if answer.fallback_used == "retry":
            assert answer.verified and answer.text != answer.model_text
        else:
            assert answer.verified is False and answer.text == answer.model_text


class _Intent:
    """A fake intent model: every request asks for ``task``."""

    def __init__(self, task: str) -> None:
        self.task = task

    def route(self, text: str) -> Any:
        from helixmoe.routing import RouteDecision

        return RouteDecision(self.task, 1.0, {self.task: 1.0}, "fake")


@pytest.mark.parametrize(
    ("request_text", "task", "expected"),
    [
        # the same text, two values: the notation the request names decides
        ("Read this bracket form value and write it as HLX-L: [-1.0]", "hlxl", "-1.0"),
        ("Parse this LC-B text into plain HLXL: [100.0]", "hlxl", "100.0"),
        ("Convert this HLXL to LC-B: [[0.75]]", "lc-b-text", "[[[0.75]]]"),
        (
            "What is the canonical bracket form of [[0.75]]?",
            "lc-b-text",
            "[[0.75]]",
        ),  # the target, named alone
        ("Change the notation of 600000 from LC-B hex to LC-T", "lc-t", "[]"),
        # the target named alone is a conversion's target, not its source (these read as LC-B text before)
        ("Encode [3.14] as LC-B", "lc-b-text", "[[3.14]]"),
        ("Translate [243] into bracket notation", "lc-b-text", "[[0xf3]]"),
        ("Clean up this LC-B: [ [0.75] ]", "lc-b-text", "[[0.75]]"),  # messy text: a canonicalisation
        # a named source whose reading equals HLXL's still counts (LC-T was dropped as HLXL's duplicate)
        ('Convert this LC-T to LC-B: ["a"]', "lc-b-text", '[["a"]]'),
        # nothing named but the target: the HLXL reading, as before
        ("Convert to LC-R: [1]", "lc-r", "🜃1🜄"),
        # one reading only: names do not matter
        ("Turn the LC-B text [true] into runes", "lc-r", "🜃⊤🜄"),
        # a hex dump spaced into byte words is one value (it was not found at all: nothing was checked)
        ("Translate this LC-B hex to HLXL: 60 00 02 12 01 00 00 00 12 02 00 00 00", "hlxl", "[1, 2]"),
        (
            "Canonicalise this hex-encoded LC-B: 60 00 02 12 01 00 00 00 12 02 00 00 00",
            "lc-b-hex",
            "60000212010000001202000000",
        ),
    ],
)
def test_verification_reads_the_value_in_the_notation_the_request_names(
    request_text: str, task: str, expected: str
) -> None:
    from helixmoe.system.verify import Verifier

    check = Verifier(_Intent(task)).check(request_text)
    assert check.checkable and check.oracle_answer() == expected


@pytest.mark.parametrize("split", ["train", "test", "ood"])
def test_every_generated_reference_verifies_under_its_own_task(split: str) -> None:
    """With a perfect intent model (each example's own task label), the reference answer of every checkable
    generated example verifies: verification reads the value and the task the way the task families wrote
    them. (A conversion to LC-B of ``[3.14]`` was read as canonicalising the LC-B text ``[3.14]``.)"""
    from helixmoe import tasks
    from helixmoe.system.verify import Verifier

    intent = _Intent("")
    verifier = Verifier(intent)
    checked = 0
    for example in tasks.generate(1500, seed=11, split=split):
        intent.task = tasks.task_label(example.meta)
        check = verifier.check(example.prompt)
        if check.checkable:
            checked += 1
            assert check.verify(example.response), (example.prompt, example.response, check.oracle_answer())
    assert checked > 700


def test_a_value_the_request_leaves_ambiguous_is_not_checked() -> None:
    """Two readings, both named as sources: no verdict rather than a wrong one (and no oracle answer)."""
    from helixmoe.system.verify import Verifier

    check = Verifier(_Intent("lc-r")).check("Is [[1]] HLXL or LC-B? Write it in runes")
    assert check.target == "lc-r" and not check.checkable and check.oracle_answer() is None


@pytest.mark.parametrize(
    ("request_text", "task", "expected"),
    [
        ("Give me HLXL and LC-R for [1, 2]", "multi:hlxl,lc-r", "HLXL: [1, 2]\nLC-R: 🜃1, 2🜄"),
        (
            "Show `{C:14,0=42}` as HLXL, LC-T, LC-R and LC-B",
            "multi:hlxl,lc-t,lc-r,lc-b-text",
            "HLXL: {14: {@0: 42}}\nLC-T: {C:14,0=42}\nLC-R: 🜊14🜁0 42🜂\nLC-B: [14|0:0x2a]",
        ),
    ],
)
def test_a_multi_format_answer_is_checked_line_by_line(request_text: str, task: str, expected: str) -> None:
    """Multi-format requests were never checked (a wrong line came back ``verified: None``): the task label
    names the notations, in answer order, and the oracle writes the lines the task family's reference has."""
    from helixmoe.system.verify import Verifier

    check = Verifier(_Intent(task)).check(request_text)
    assert check.checkable and check.target is None  # no one-notation grammar for the whole answer
    assert check.oracle_answer() == expected and check.verify(expected + "\n")
    assert not check.verify(expected.rsplit("\n", 1)[0])  # a line missing
    assert not check.verify(expected.replace("2", "3"))


@pytest.mark.parametrize("task", ["multi:", "multi:hlxl,hlxl", "multi:hlxl,lc-b-hex", "multi:runes"])
def test_a_multi_label_naming_no_answer_lines_is_not_checked(task: str) -> None:
    from helixmoe.system.verify import Verifier

    check = Verifier(_Intent(task)).check("Give me HLXL and LC-R for [1, 2]")
    assert not check.checkable and check.oracle_answer() is None


@pytest.mark.parametrize(
    ("request_text", "task", "expected"),
    [
        ("HLXL, LC-T, LC-R and LC-B for [1], please", "multi:hlxl,lc-t,lc-r,lc-b-text", "[1]"),
        ("provide LC-R and LC-B for this value: \n```\n[{}]\n```", "multi:lc-r,lc-b-text", "[{}]"),
        ("LC-B text [{}] as HLXL and LC-R", "multi:hlxl,lc-r", "{}"),
    ],
)
def test_a_multi_format_answer_names_its_lines_not_its_source(
    request_text: str, task: str, expected: str
) -> None:
    """``[1]`` is an HLXL list and the LC-B text contract 1, ``[{}]`` a list and the LC-B text of ``{}``: the
    notations a multi-format request lists are its answer lines, not the source, so the HLXL reading stands
    unless the request names another source (a correct answer to the second request was flagged wrong)."""
    from helixmoe.system.verify import Verifier

    check = Verifier(_Intent(task)).check(request_text)
    assert check.checkable and hlx.equal(check.value, hlx.loads(expected, "hlxl"))


def test_retry_branches_a_multi_format_answer_without_decoding_it_again() -> None:
    """An answer with no grammar (multi-format) is not decoded a second time the same way before the search;
    an alternative that verifies replaces it as the model's own (``retry``)."""
    from helixmoe.routing import RouteDecision
    from helixmoe.system.answer import Answer
    from helixmoe.system.retry import retry_failed
    from helixmoe.system.verify import Check

    right = "HLXL: [1]\nLC-T: [1]"
    check = Check(None, [1], True, task="multi:hlxl,lc-t", listing=("hlxl", "lc-t"))
    route = RouteDecision("coordinator", 1.0, {"coordinator": 1.0}, "fake")
    answers = [Answer(text="HLXL: [1]\nLC-T: [2]", expert="coordinator", route=route, model_text="x")]
    answers[0].verified = False
    texts = {(5, 6): "HLXL: [1]\nLC-T: [2]", (5, 7, 99): right}
    calls: list[list[list[int]]] = []

    def regenerate(rows: list[int], forced: list[list[int]], observe: Any) -> list[list[int]]:
        calls.append(forced)
        if observe is not None:  # the re-read: the runner-up 7 at step 1
            for t in range(len(forced[0])):
                observe([0], _scores(forced[0][t], 7 if t == 1 else None, 0.5)[None])
            return [forced[0][:-1]]
        return [[*f, 99] for f in forced]

    def to_text(rows: Any) -> list[str]:
        return [texts.get(tuple(r), "?") for r in rows]

    retry_failed(answers, [check], [0], regenerate, to_text, EOS, 2, [[5, 6]], False)
    assert [f for f in calls[0]] == [[5, 6, EOS]]  # straight to the re-read: no second free decode
    assert answers[0].text == right and answers[0].verified and answers[0].fallback_used == "retry"


@pytest.mark.parametrize(
    ("request_text", "verdict"),
    [
        ("Is this LC-T valid? `{C:14,0=42}`", "valid"),
        (
            'Would this bracket form be accepted? `[1000|\'0:"search"]`',
            "invalid: expected a decimal field index",
        ),
        ("Find the problem in this HLXL, if any:\n```hlxl\n[1, 2,]\n```", "invalid: trailing comma"),
    ],
)
def test_a_validation_is_checked_when_the_request_shows_its_text_unmistakably(
    request_text: str, verdict: str
) -> None:
    """The one code span, one notation named outside it: the codec's verdict is the answer (the answer must be
    exactly ``valid`` or ``invalid: <the codec's message>``, as the task family writes it)."""
    from helixmoe.system.verify import Verifier
    from helixmoe.tasks.hlx_checks import validate_answer

    check = Verifier(_Intent("validate")).check(request_text)
    expected = check.oracle_answer()
    assert check.checkable and expected is not None and expected.startswith(verdict)
    assert check.verify(expected) and not check.verify("valid" if expected != "valid" else "invalid: x")
    body = request_text.split("`")[1] if "```" not in request_text else "[1, 2,]"
    notation = {"LC-T": "lc-t", "bracket form": "lc-b-text", "HLXL": "hlxl"}
    named = next(n for name, n in notation.items() if name in request_text.split("`")[0])
    assert expected == validate_answer(body, named)


@pytest.mark.parametrize(
    "request_text",
    [
        "Is this LC-T valid? {C:14,0=42}",  # no code span: where the text ends is a guess
        "Is `{C:14}` or `{C:15}` valid LC-T?",  # two spans
        "Is this valid? `{C:14,0=42}`",  # no notation named
        "Is this LC-T or HLXL valid? `{C:14,0=42}`",  # two named
        "Is this LC-T valid? `  `",  # an empty span
    ],
)
def test_a_validation_the_request_leaves_unclear_is_not_checked(request_text: str) -> None:
    from helixmoe.system.verify import Verifier

    check = Verifier(_Intent("validate")).check(request_text)
    assert check.task == "validate" and not check.checkable and check.oracle_answer() is None
