"""Corpus files: build/load, JSONL shape, import/export round trips, bad-file errors."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from helixmoe import tasks
from helixmoe.errors import DataError
from helixmoe.tasks.jsonl import read_jsonl


def test_build_writes_every_split_and_a_manifest(small_corpus: Path) -> None:
    manifest = json.loads((small_corpus / "manifest.json").read_text())
    assert manifest["splits"] == {"train": 510, "val": 30, "test": 30, "ood": 30}
    examples = tasks.load_corpus(small_corpus)
    assert len(examples) == 600
    for split in tasks.SPLITS:
        rows = tasks.load_corpus(small_corpus / f"{split}.jsonl")
        assert {ex.split for ex in rows} == {split}
        assert sum(manifest["counts"][split].values()) == len(rows)
    assert not list(small_corpus.glob(".*.tmp"))


def test_build_with_custom_profiles(tmp_path: Path) -> None:
    easy = dataclasses.replace(tasks.PROFILES["train"], value=tasks.ValueSpec(max_depth=0))
    tasks.build_corpus(tmp_path, 200, 1, ["convert"], profiles={"train": easy})
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["profiles"]["test"]["value"]["max_depth"] == 0
    assert manifest["profiles"]["ood"]["value"]["max_depth"] == 3
    for ex in tasks.load_corpus(tmp_path / "train.jsonl"):
        assert not ex.meta["value"].startswith(("[", "{"))


def test_build_is_byte_reproducible(tmp_path: Path, small_corpus: Path) -> None:
    tasks.build_corpus(tmp_path, 600, 5)
    for split in tasks.SPLITS:
        assert (tmp_path / f"{split}.jsonl").read_bytes() == (small_corpus / f"{split}.jsonl").read_bytes()


def test_jsonl_rows_have_one_schema(small_corpus: Path) -> None:
    """What ``datasets.load_dataset("json")`` needs: same keys and value types on every line."""
    shapes = set()
    for file in small_corpus.glob("*.jsonl"):
        for _, row in read_jsonl(file):
            assert list(row) == ["id", "family", "expert", "prompt", "response", "split", "meta"]
            assert all(isinstance(row[k], str) for k in list(row)[:6])
            assert all(v is None or isinstance(v, str) for v in row["meta"].values())
            shapes.add(tuple(row["meta"]))
    assert shapes == {tasks.META_KEYS}


def test_loads_with_datasets_when_installed(small_corpus: Path) -> None:
    datasets = pytest.importorskip("datasets", reason="optional: pip install 'helixmoe[datasets]'")
    files = {s: str(small_corpus / f"{s}.jsonl") for s in tasks.SPLITS}
    loaded = datasets.load_dataset("json", data_files=files)
    assert loaded["train"].num_rows == 510 and loaded["ood"][0]["meta"]["template"]


@pytest.mark.parametrize("fmt", ["instruction", "chat"])
def test_export_import_round_trip(small_corpus: Path, fmt: str) -> None:
    examples = tasks.load_corpus(small_corpus / "test.jsonl")
    records = list(tasks.export_examples(examples, fmt))
    if fmt == "instruction":
        assert records[0]["input"] == f"### Instruction:\n{examples[0].prompt}\n\n### Response:\n"
        assert records[0]["output"] == examples[0].response
    else:
        assert [m["role"] for m in records[0]["messages"]] == ["user", "assistant"]
    back = tasks.import_records(enumerate(json.loads(json.dumps(r)) for r in records))
    assert back == examples
    minimal = list(tasks.export_examples(examples, fmt, minimal=True))
    plain = tasks.import_records(enumerate(minimal, 1), expert="runic", split="val")
    assert [(e.prompt, e.response) for e in plain] == [(e.prompt, e.response) for e in examples]
    assert {e.family for e in plain} == {"imported"} and {e.expert for e in plain} == {"runic"}
    assert tasks.grade(plain[0], examples[0].response).exact


def test_import_alpaca_and_errors() -> None:
    rows = [(1, {"instruction": "Add", "input": "2 + 2", "output": "4"})]
    (ex,) = tasks.import_records(rows, "a.jsonl")
    assert ex.prompt == "Add\n\n2 + 2" and ex.response == "4" and ex.id == "imported-1"
    with pytest.raises(DataError, match=r"^a.jsonl:7: unrecognised record"):
        tasks.import_records([(7, {"text": "x"})], "a.jsonl")
    with pytest.raises(DataError, match=r"^a.jsonl:2: chat record has no assistant"):
        tasks.import_records([(2, {"messages": [{"role": "user", "content": "hi"}]})], "a.jsonl")
    with pytest.raises(DataError, match=r"^a.jsonl:3: unknown expert"):
        tasks.import_records([(3, {"input": "a", "output": "b", "expert": "wizard"})], "a.jsonl")


def test_bad_corpus_files(tmp_path: Path) -> None:
    good = tasks.generate(2, 1)[0].to_dict()
    bad_json = tmp_path / "bad.jsonl"
    bad_json.write_text(json.dumps(good) + "\n\n{not json\n")
    with pytest.raises(DataError, match=r"bad.jsonl:3: invalid JSON"):
        tasks.load_corpus(bad_json)
    cut = tmp_path / "cut.jsonl"  # a line cut short: the column is where it ends, not 1 of a next line
    cut.write_text('{"prompt": "a", "response": "b"\n')
    with pytest.raises(DataError, match=r"cut.jsonl:1: invalid JSON: Expecting ',' delimiter \(column 32\)"):
        tasks.load_corpus(cut)
    missing = tmp_path / "missing.jsonl"
    missing.write_text(json.dumps({k: v for k, v in good.items() if k != "response"}) + "\n")
    with pytest.raises(DataError, match=r"missing.jsonl:1: missing field\(s\) response"):
        tasks.load_corpus(missing)
    assert "corpus import" not in _error(tasks.load_corpus, missing)  # a corpus line lacking a field
    pairs = tmp_path / "pairs.jsonl"  # someone's own prompt/response file: told how to convert it
    pairs.write_text(json.dumps({"prompt": "a", "response": "b"}) + "\n")
    with pytest.raises(
        DataError, match=r"pairs.jsonl:1: missing field.*helixmoe corpus import -i .*pairs.jsonl"
    ):
        tasks.load_corpus(pairs)
    typed = tmp_path / "typed.jsonl"
    typed.write_text(json.dumps({**good, "prompt": 3}) + "\n")
    with pytest.raises(DataError, match=r"typed.jsonl:1: field 'prompt' must be a string"):
        tasks.load_corpus(typed)
    with pytest.raises(DataError, match="no such file"):
        tasks.load_corpus(tmp_path / "nope.jsonl")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match=r"no \.jsonl files"):
        tasks.load_corpus(tmp_path / "empty")


def test_grade_answers_counts_and_errors(small_corpus: Path) -> None:
    examples = tasks.load_corpus(small_corpus / "test.jsonl")
    answers = [(i + 1, "id", ex.id, ex.response) for i, ex in enumerate(examples[:20])]
    answers.append((21, "prompt", examples[20].prompt, "wrong"))
    report = tasks.grade_answers(examples, answers)
    assert (report.total.n, report.total.answered, report.total.exact) == (30, 21, 20)
    only = tasks.grade_answers(examples, answers, only_answered=True)
    assert (only.total.n, only.total.exact) == (21, 20)
    assert sum(c.n for c in report.by_expert.values()) == 30
    with pytest.raises(DataError, match=r"^ans.jsonl:4: id 'nope' is not in the corpus"):
        tasks.grade_answers(examples, [(4, "id", "nope", "x")], source="ans.jsonl")


def test_stats(small_corpus: Path) -> None:
    stats = tasks.corpus_stats(tasks.load_corpus(small_corpus))
    assert stats["total"] == 600 and stats["by_split"]["train"] == 510
    assert set(stats["by_expert"]) == set(tasks.EXPERTS)
    assert sum(stats["prompt_chars"]["histogram"].values()) == 600


def _error(function, *args) -> str:
    with pytest.raises(DataError) as err:
        function(*args)
    return str(err.value)
