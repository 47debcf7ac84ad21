"""``helixmoe corpus`` through Typer's CliRunner (on an app holding only this command group)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from helixmoe import tasks
from helixmoe.cli import corpus as corpus_cli
from helixmoe.errors import DataError

runner = CliRunner()


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    app = typer.Typer()
    app.command("noop")(lambda: None)  # a second command keeps "corpus" a sub-command
    corpus_cli.register(app)
    return app


@pytest.fixture(scope="module")
def built(app: typer.Typer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("cli") / "corpus"
    result = runner.invoke(
        app,
        [
            "corpus",
            "build",
            "--out",
            str(out),
            "--size",
            "400",
            "--seed",
            "3",
            "--families",
            "convert,math",
            "--families",
            "glyph",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "examples/s" in result.output
    return out


def test_build(built: Path) -> None:
    examples = tasks.load_corpus(built)
    assert len(examples) == 400
    assert {ex.family for ex in examples} == {"convert", "math", "glyph"}


def test_stats(app: typer.Typer, built: Path) -> None:
    result = runner.invoke(app, ["corpus", "stats", str(built)])
    assert result.exit_code == 0, result.output
    assert "by expert:" in result.output and "histogram:" in result.output
    result = runner.invoke(app, ["corpus", "stats", str(built / "test.jsonl"), "--json"])
    assert json.loads(result.output)["by_split"] == {"test": 20}


def test_grade(app: typer.Typer, built: Path, tmp_path: Path) -> None:
    examples = tasks.load_corpus(built / "test.jsonl")
    answers = tmp_path / "answers.jsonl"
    lines = [{"id": ex.id, "answer": ex.response} for ex in examples[:-1]]
    lines.append({"prompt": examples[-1].prompt, "answer": "nonsense"})
    answers.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    result = runner.invoke(
        app, ["corpus", "grade", "--corpus", str(built / "test.jsonl"), "--answers", str(answers)]
    )
    assert result.exit_code == 0, result.output
    assert "family" in result.output and "expert" in result.output and "95.00%" in result.output
    result = runner.invoke(
        app, ["corpus", "grade", "-c", str(built / "test.jsonl"), "-a", str(answers), "--json"]
    )
    report = json.loads(result.output)
    assert report["total"]["n"] == 20 and report["total"]["exact"] == pytest.approx(0.95)


def test_export_then_import(app: typer.Typer, built: Path, tmp_path: Path) -> None:
    exported = tmp_path / "chat.jsonl"
    result = runner.invoke(
        app, ["corpus", "export", "-c", str(built), "-o", str(exported), "--format", "chat", "--split", "val"]
    )
    assert result.exit_code == 0, result.output
    back = tmp_path / "back.jsonl"
    result = runner.invoke(app, ["corpus", "import", "-i", str(exported), "-o", str(back)])
    assert result.exit_code == 0, result.output
    assert tasks.load_corpus(back) == tasks.load_corpus(built / "val.jsonl")


def test_bad_inputs_raise_data_errors(app: typer.Typer, built: Path, tmp_path: Path) -> None:
    """The app's ``main`` prints DataError as ``error: <message>``; here we check the messages."""
    answers = tmp_path / "bad.jsonl"
    answers.write_text('{"id": "x", "answer": "1"}\n{"id": "x"}\n')
    result = runner.invoke(app, ["corpus", "grade", "-c", str(built / "test.jsonl"), "-a", str(answers)])
    assert isinstance(result.exception, DataError)
    assert str(result.exception) == f"{answers}:2: missing string field 'answer'"
    answers.write_text('{"id": "x", "answer": "1"}\n{"id": "x", "answer": 123}\n')
    result = runner.invoke(app, ["corpus", "grade", "-c", str(built / "test.jsonl"), "-a", str(answers)])
    assert str(result.exception) == f"{answers}:2: field 'answer' must be a string, got 123"
    answers.write_text('\n{"id": "x", "answer": "1"}\n')
    result = runner.invoke(app, ["corpus", "grade", "-c", str(built / "test.jsonl"), "-a", str(answers)])
    assert str(result.exception) == f"{answers}:2: id 'x' is not in the corpus"
    broken = tmp_path / "broken.jsonl"
    broken.write_text("[1, 2]\n")
    result = runner.invoke(app, ["corpus", "import", "-i", str(broken), "-o", str(tmp_path / "o.jsonl")])
    assert str(result.exception) == f"{broken}:1: expected a JSON object"
    assert not (tmp_path / "o.jsonl").exists()
    result = runner.invoke(
        app, ["corpus", "build", "--out", str(tmp_path / "c"), "--size", "5", "--families", "nope"]
    )
    assert isinstance(result.exception, DataError) and "unknown task family 'nope'" in str(result.exception)
    result = runner.invoke(
        app, ["corpus", "export", "-c", str(built), "-o", str(tmp_path / "e.jsonl"), "--format", "xml"]
    )
    assert isinstance(result.exception, DataError) and "unknown export format" in str(result.exception)
    assert not (tmp_path / "e.jsonl").exists()


def test_import_refuses_to_write_over_its_input(app: typer.Typer, tmp_path: Path) -> None:
    source = tmp_path / "imp1.jsonl"
    text = json.dumps({"input": "What is 2 + 2?", "output": "4"}) + "\n"
    source.write_text(text)
    (tmp_path / "sub").mkdir()
    for out in (source, tmp_path / "sub" / ".." / "imp1.jsonl"):
        result = runner.invoke(app, ["corpus", "import", "-i", str(source), "-o", str(out)])
        assert isinstance(result.exception, DataError)
        assert str(result.exception) == (
            f"--out {out} is the file being imported ({source}); write somewhere else"
        )
    assert source.read_text() == text


def test_build_refuses_an_existing_corpus_unless_forced(app: typer.Typer, tmp_path: Path) -> None:
    out = tmp_path / "corpus"
    out.mkdir()
    (out / "train.jsonl").write_text("my own data\n")
    args = ["corpus", "build", "--out", str(out), "--size", "20", "--seed", "1"]
    result = runner.invoke(app, args)
    assert isinstance(result.exception, DataError)
    assert str(result.exception) == (
        f"--out {out} already holds corpus files (train.jsonl); "
        "pass --force to replace them or choose another directory"
    )
    assert sorted(p.name for p in out.iterdir()) == ["train.jsonl"]
    assert (out / "train.jsonl").read_text() == "my own data\n"
    result = runner.invoke(app, [*args, "--force"])
    assert result.exit_code == 0, result.output
    assert len(tasks.load_corpus(out)) == 20
    assert "manifest.json" in str(runner.invoke(app, args).exception)  # a built corpus is kept too


def test_an_unwritable_output_path_is_a_one_line_error(tmp_path: Path) -> None:
    """Through the real entry point: an OS error on a path the user gave is a message, not a traceback."""
    import subprocess
    import sys

    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps(e.to_dict()) + "\n" for e in tasks.generate(3, 1)))
    (tmp_path / "afile").write_text("a file, not a directory")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "helixmoe",
            "corpus",
            "import",
            "-i",
            str(source),
            "-o",
            str(tmp_path / "afile" / "x.jsonl"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1, result.stderr
    assert result.stderr.startswith("error: ") and "afile" in result.stderr
    assert "Traceback" not in result.stderr
