"""benchmarks/data/plain_english.jsonl: the hand-written requests are labelled by the project's own rules, and
``bench_plain_english.py --corpus`` turns their value requests into a corpus the task graders accept."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import ModuleType

from helixmoe import hlx, tasks
from helixmoe.tasks.hlx_families import MULTI_ORDER

KEYS = {"prompt", "expert", "task", "kind", "src", "dst", "value", "split"}
OTHER_TASKS = {"validate", "explain", "choose", "glyph", "glyph_reverse"}


def test_every_request_is_labelled_by_the_project_rules(
    benchmark_script: Callable[[str], ModuleType],
) -> None:
    bench = benchmark_script("bench_plain_english")
    items = bench.load_requests()
    assert len(items) >= 200 and len({i["prompt"] for i in items}) == len(items)
    assert {i["split"] for i in items} == {"dev", "test"}
    for n, item in enumerate(items, 1):
        where = f"line {n}"
        assert set(item) == KEYS, where
        assert item["expert"] in tasks.EXPERTS, where
        if item["kind"] not in bench.VALUE_KINDS:
            assert item["task"] in OTHER_TASKS and item["value"] is None, where
            continue
        value = hlx.loads(item["value"], "hlxl")
        assert hlx.dumps(value, "hlxl") == item["value"], f"{where}: value not canonical HLXL"
        found = hlx.find_value(item["prompt"], item["src"])  # the request holds the value, in its notation
        assert found is not None and hlx.equal(hlx.loads(found.text, item["src"]), value), where
        if item["kind"] == "multi":
            targets = item["dst"].split(",")
            assert targets == [t for t in MULTI_ORDER if t in targets] and len(targets) >= 2, where
            assert (item["expert"], item["task"]) == ("coordinator", f"multi:{item['dst']}"), where
        else:
            assert item["task"] == item["dst"], where
            owner = item["src"] if item["kind"] == "canonicalise" else None
            want = tasks.expert_for(owner, owner) if owner else tasks.expert_for(item["src"], item["dst"])
            assert item["expert"] == want, where


def test_value_requests_become_a_corpus_the_graders_accept(
    tmp_path: Path, benchmark_script: Callable[[str], ModuleType]
) -> None:
    bench = benchmark_script("bench_plain_english")
    out = tmp_path / "plain.jsonl"
    assert bench.main(["--split", "all", "--corpus", str(out)]) == 0
    examples = tasks.load_corpus(out)
    assert len(examples) == sum(i["kind"] in bench.VALUE_KINDS for i in bench.load_requests())
    assert {e.split for e in examples} == {"val", "test"}
    for example in examples:
        assert tasks.grade(example, example.response).exact, example.id
        assert not tasks.grade(example, example.response[:-1]).exact, example.id
