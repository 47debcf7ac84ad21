"""``helixmoe eval`` on a tiny untrained system (real routers, real generation), and answers-file grading."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from helixmoe import tasks
from helixmoe.cli import eval_cmds
from helixmoe.errors import ConfigError, DataError, HelixMoEError
from helixmoe.evaluation import grade_answers_file

runner = CliRunner()


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    app = typer.Typer()
    app.command("noop")(lambda: None)  # a second command keeps "eval" a sub-command
    eval_cmds.register(app)
    return app


def test_eval_cli_on_tiny_system(app: typer.Typer, tiny_system: Path, tmp_path: Path) -> None:
    out = tmp_path / "report"
    result = runner.invoke(
        app,
        [
            "eval",
            "--system",
            str(tiny_system),
            "--split",
            "test",
            "--n",
            "16",
            "--latency-queries",
            "2",
            "--batch-size",
            "8",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "all" in result.output and "pinned" in result.output
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    s = report["summary"]
    assert s["n"] == 16 and report["meta"]["split"] == "test"
    assert 0.0 <= s["exact"] <= 1.0 and 0.0 <= s["routing_accuracy"] <= 1.0
    assert sum(map(sum, report["routing"]["matrix"])) == 16
    assert report["routing"]["labels"][:4] == list(tasks.EXPERTS)
    assert report["latency"]["single_query"]["total"]["n"] == 2
    assert report["latency"]["batched_per_row"]["total"]["p50"] > 0
    assert report["throughput"]["unit"] == "tokens" and report["throughput"]["generated"] > 0
    assert report["memory"]["rss_peak_bytes"] > 0
    sizes = report["sizes"]
    assert sizes["base"]["params"] > 0 and set(sizes["experts"]) == set(tasks.EXPERTS)
    assert all(e["params"] > 0 and e["weights_bytes"] > 0 for e in sizes["experts"].values())
    att = report["attribution"]
    assert att["errors"] == att["routing"] + att["expert"] + att["both"] + att["unknown"]
    assert att["errors"] == round(16 * (1 - s["exact"]))
    md = (out / "report.md").read_text(encoding="utf-8")
    assert "## Beside the published HLX MoE" in md and "## Sizes" in md
    for png in ("confusion.png", "families.png", "latency.png"):
        assert (out / png).stat().st_size > 1000
    # examples.jsonl is itself an answers file: re-grading it gives the report's final exact match
    graded = grade_answers_file(out / "examples.jsonl", out / "examples.jsonl")
    assert graded["total"]["exact"] == pytest.approx(s["verified_accuracy"])


def test_eval_cli_bad_options(app: typer.Typer, tiny_system: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["eval", "--system", str(tiny_system), "--verify", "sometimes"])
    assert isinstance(result.exception, ConfigError) and "verify" in str(result.exception)
    result = runner.invoke(app, ["eval", "--system", str(tiny_system), "--split", "nowhere.jsonl"])
    assert isinstance(result.exception, DataError) and "nowhere.jsonl" in str(result.exception)
    result = runner.invoke(app, ["eval", "--answers", str(tmp_path / "a.jsonl")])
    assert isinstance(result.exception, ConfigError) and "--corpus" in str(result.exception)
    (tmp_path / "empty.jsonl").write_text("\n")
    result = runner.invoke(
        app, ["eval", "--system", str(tiny_system), "--split", str(tmp_path / "empty.jsonl")]
    )
    assert isinstance(result.exception, DataError) and "empty.jsonl: no examples" in str(result.exception)
    (tmp_path / "afile").write_text("not a directory")  # refused before the evaluation, not after it
    result = runner.invoke(
        app, ["eval", "--system", str(tiny_system), "--out", str(tmp_path / "afile" / "sub")]
    )
    assert isinstance(result.exception, ConfigError) and "cannot create the report directory" in str(
        result.exception
    )


def test_a_failed_eval_leaves_no_report_directory(
    app: typer.Typer, tiny_system: Path, tmp_path: Path
) -> None:
    """Every input is checked before --out is kept: a failed run leaves no empty directory behind."""
    import shutil

    (tmp_path / "empty.jsonl").write_text("\n")
    (tmp_path / "broken.jsonl").write_text('{"id": \n')
    no_adapter = tmp_path / "no-adapter"
    shutil.copytree(tiny_system, no_adapter)
    (no_adapter / "experts" / "runic" / "adapter_model.safetensors").unlink()
    system = ["-s", str(tiny_system)]
    failing = {
        "missing split file": [*system, "--split", str(tmp_path / "nowhere.jsonl")],
        "unknown split": [*system, "--split", "bogus"],
        "empty split file": [*system, "--split", str(tmp_path / "empty.jsonl")],
        "malformed split file": [*system, "--split", str(tmp_path / "broken.jsonl")],
        "device": [*system, "--device", "bogus"],
        "oracle route": [*system, "--oracle-route", "bogus"],
        "verify": [*system, "--verify", "bogus"],
        "router": [*system, "--router", "bogus"],
        "missing adapter": ["-s", str(no_adapter)],
        "missing system": ["-s", str(tmp_path / "nonexistent")],
        "answers without corpus": ["--answers", str(tmp_path / "a.jsonl")],
    }
    existing = tmp_path / "existing"
    existing.mkdir()
    for case, args in failing.items():
        for out in (tmp_path / "new" / "report", existing):
            result = runner.invoke(app, ["eval", *args, "--n", "2", "--out", str(out)])
            assert isinstance(result.exception, HelixMoEError), (case, result.exception)
        assert not (tmp_path / "new").exists(), case
        assert existing.is_dir(), case
    result = runner.invoke(app, ["eval", "-s", str(tiny_system), "--router", "bogus"])
    assert (
        str(result.exception) == "--router 'bogus': expected one of cascade, classifier, coordinator, keyword"
    )


@pytest.fixture()
def corpus(tmp_path: Path) -> Path:
    return Path(tasks.build_corpus(tmp_path / "corpus", 400, seed=5)["test"]).parent


def test_grade_answers_file_and_cli(app: typer.Typer, corpus: Path, tmp_path: Path) -> None:
    test = tasks.load_corpus(corpus / "test.jsonl")
    answers = tmp_path / "answers.jsonl"
    lines = []
    for i, ex in enumerate(test):  # every other answer right; half of them keyed by prompt
        key = {"id": ex.id} if i % 4 < 2 else {"prompt": ex.prompt}
        lines.append(json.dumps({**key, "answer": ex.response if i % 2 == 0 else "nope"}))
    answers.write_text("\n".join(lines) + "\n", encoding="utf-8")
    graded = grade_answers_file(corpus, answers, split="test")
    right = (len(test) + 1) // 2
    assert graded["total"]["n"] == len(test) and graded["total"]["answered"] == len(test)
    assert graded["total"]["exact"] == pytest.approx(right / len(test))
    assert sum(g["n"] for g in graded["by_expert"].values()) == len(test)
    result = runner.invoke(
        app,
        [
            "eval",
            "--answers",
            str(answers),
            "--corpus",
            str(corpus),
            "--split",
            "test",
            "--json",
            "--out",
            str(tmp_path / "out"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["total"]["exact"] == pytest.approx(right / len(test))
    assert (tmp_path / "out" / "answers_report.json").is_file()
    # a file corpus filtered by split, and an id that is not in the corpus
    assert grade_answers_file(corpus / "test.jsonl", answers, split="test")["total"]["n"] == len(test)
    (tmp_path / "bad.jsonl").write_text('{"id": "no-such-id", "answer": "1"}\n', encoding="utf-8")
    with pytest.raises(DataError, match="no-such-id"):
        grade_answers_file(corpus, tmp_path / "bad.jsonl", split="test")
    (tmp_path / "bad.jsonl").write_text(f'{lines[0]}\n{{"id": "x", "answer": 123}}\n', encoding="utf-8")
    result = runner.invoke(app, ["eval", "--answers", str(tmp_path / "bad.jsonl"), "--corpus", str(corpus)])
    assert str(result.exception) == f"{tmp_path / 'bad.jsonl'}:2: field 'answer' must be a string, got 123"
    with pytest.raises(DataError, match="no example of split 'ood'"):
        grade_answers_file(corpus / "test.jsonl", answers, split="ood")
