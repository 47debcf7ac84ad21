"""``helixmoe corpus``: build, summarise, grade, import and export task corpora (no torch).

helixmoe corpus build --out data/corpus --size 20000 --seed 0 [--families convert,parse]
helixmoe corpus stats data/corpus
helixmoe corpus grade --corpus data/corpus/test.jsonl --answers answers.jsonl
helixmoe corpus export --corpus data/corpus/train.jsonl --out train.instr.jsonl --format instruction
helixmoe corpus import --input external.jsonl --out imported.jsonl --expert coordinator
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from helixmoe import tasks
from helixmoe.atomic import atomic_target, read_json
from helixmoe.errors import DataError
from helixmoe.tasks.corpus import corpus_files, iter_corpus, write_corpus
from helixmoe.tasks.formats import EXPORT_FORMATS
from helixmoe.tasks.grading import GradeCounts, load_answers
from helixmoe.tasks.jsonl import atomic_write_lines, dump_line, read_jsonl

__all__ = ["register"]

corpus_app = typer.Typer(
    help="Build, summarise, grade, import and export task corpora.", no_args_is_help=True
)


def _families(values: Optional[list[str]]) -> Optional[list[str]]:
    """``--families a,b --families c`` -> ``["a", "b", "c"]`` (validated against the registry)."""
    if not values:
        return None
    names = [n.strip().lower() for v in values for n in v.split(",") if n.strip()]
    for name in names:
        tasks.get_family(name)
    return names


@corpus_app.command("build")
def build(
    out: Annotated[Path, typer.Option("--out", "-o", help="Corpus directory to write.")],
    size: Annotated[int, typer.Option("--size", "-n", help="Total examples over all splits.")] = 20000,
    seed: Annotated[int, typer.Option("--seed", "-s", help="Random seed.")] = 0,
    families: Annotated[
        Optional[list[str]],
        typer.Option("--families", "-f", help="Families to mix (comma-separated or repeated); default all."),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace the corpus files --out already holds.")
    ] = False,
) -> None:
    """Generate a corpus: train/val/test/ood JSONL files and a manifest."""
    chosen = _families(families)
    if not force:
        _refuse_existing_corpus(out)
    start = time.perf_counter()
    paths = tasks.build_corpus(out, size, seed, chosen)
    elapsed = time.perf_counter() - start
    manifest = read_json(out / "manifest.json")
    for split, path in paths.items():
        typer.echo(f"{split:>5}: {manifest['splits'][split]:>9} examples  {path}")
    typer.echo(f"built {size} examples in {elapsed:.1f} s ({size / max(elapsed, 1e-9):.0f} examples/s)")


def _refuse_existing_corpus(out: Path) -> None:
    """A build replaces every split file and the manifest of ``out``: refuse when some already exist."""
    names = [f"{s}.jsonl" for s in tasks.SPLITS] + ["manifest.json"]
    held = [name for name in names if (out / name).exists()]
    if held:
        raise DataError(
            f"--out {out} already holds corpus files ({', '.join(held)}); "
            "pass --force to replace them or choose another directory"
        )


def _table(title: str, rows: dict[str, Any]) -> None:
    typer.echo(title)
    for key, value in rows.items():
        typer.echo(f"  {key:<22} {value}")


@corpus_app.command("stats")
def stats(
    path: Annotated[Path, typer.Argument(help="A corpus directory or JSONL file.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the statistics as JSON.")] = False,
) -> None:
    """Counts per split, family and expert, and prompt/response length histograms."""
    summary = tasks.corpus_stats(iter_corpus(path))
    if as_json:
        typer.echo(json.dumps(summary, indent=2, ensure_ascii=False))
        return
    typer.echo(f"{summary['total']} examples in {', '.join(str(p) for p in corpus_files(path))}")
    for key, title in (
        ("by_split", "split"),
        ("by_family", "family"),
        ("by_expert", "expert"),
        ("by_split_expert", "split/expert"),
    ):
        _table(f"by {title}:", summary[key])
    for key in ("prompt_chars", "response_chars"):
        s = summary[key]
        typer.echo(
            f"{key.replace('_', ' ')}: mean {s['mean']}  p50 {s['p50']}  p95 {s['p95']}  max {s['max']}"
        )
        _table("  histogram:", s["histogram"])


def _grade_rows(title: str, rows: dict[str, GradeCounts]) -> None:
    typer.echo(f"{title:<14} {'n':>7} {'answered':>9} {'exact':>8} {'equiv':>8} {'valid':>8}")
    for name, c in sorted(rows.items()):
        r = c.rates()
        typer.echo(
            f"{name:<14} {c.n:>7} {c.answered:>9} {r['exact']:>8.2%} {r['equivalent']:>8.2%} {r['valid']:>8.2%}"
        )


@corpus_app.command("grade")
def grade(
    corpus: Annotated[Path, typer.Option("--corpus", "-c", help="Corpus JSONL file or directory.")],
    answers: Annotated[Path, typer.Option("--answers", "-a", help='JSONL of {"id" or "prompt", "answer"}.')],
    split: Annotated[
        Optional[str], typer.Option("--split", help="Grade only this split of the corpus.")
    ] = None,
    only_answered: Annotated[
        bool,
        typer.Option(
            "--only-answered", help="Ignore examples without an answer (default: they count as wrong)."
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Grade an answers file: exact / equivalent / valid rates per family and per expert."""
    _check_split(split)
    examples = [ex for ex in tasks.load_corpus(corpus) if split is None or ex.split == split]
    report = tasks.grade_answers(
        examples, load_answers(answers), source=str(answers), only_answered=only_answered
    )
    if as_json:
        typer.echo(json.dumps(report.to_dict(), indent=2))
        return
    _grade_rows("family", report.by_family)
    typer.echo("")
    _grade_rows("expert", report.by_expert)
    typer.echo("")
    _grade_rows("total", {"all": report.total})


@corpus_app.command("export")
def export(
    corpus: Annotated[Path, typer.Option("--corpus", "-c", help="Corpus JSONL file or directory.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="JSONL file to write.")],
    fmt: Annotated[
        str, typer.Option("--format", help=f"One of: {', '.join(EXPORT_FORMATS)}.")
    ] = "instruction",
    split: Annotated[Optional[str], typer.Option("--split", help="Export only this split.")] = None,
    minimal: Annotated[
        bool, typer.Option("--minimal", help="Only the format's own fields (no id/family/expert/meta).")
    ] = False,
) -> None:
    """Write a corpus in the instruction ({"input", "output"}) or chat ({"messages"}) format."""
    _check_split(split)
    _refuse_own_file(out, corpus, "a file of the corpus being exported")
    examples = (ex for ex in iter_corpus(corpus) if split is None or ex.split == split)
    count = atomic_write_lines(
        out, (dump_line(r) for r in tasks.export_examples(examples, fmt, minimal=minimal))
    )
    typer.echo(f"wrote {count} {fmt} records to {out}")


def _check_split(split: str | None) -> None:
    """``--split`` names one of the corpus splits (an unknown one would silently select nothing)."""
    if split is not None and split not in tasks.SPLITS:
        raise DataError(f"--split {split!r}: expected one of {', '.join(tasks.SPLITS)}")


def _refuse_own_file(out: Path, source: Path, role: str) -> None:
    """An export or import written over a file it reads would replace that file's records with its own output;
    ``role`` says what ``out`` would be (``"the file being imported"``)."""
    target = atomic_target(out).resolve()
    if any(path.resolve() == target for path in corpus_files(source)):
        raise DataError(f"--out {out} is {role} ({source}); write somewhere else")


@corpus_app.command("import")
def import_(
    input_: Annotated[Path, typer.Option("--input", "-i", help="Instruction, Alpaca, chat or corpus JSONL.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Corpus JSONL file to write.")],
    expert: Annotated[
        str, typer.Option("--expert", help="Expert of records that do not name one.")
    ] = "coordinator",
    split: Annotated[str, typer.Option("--split", help="Split of records that do not name one.")] = "train",
) -> None:
    """Convert an instruction/chat JSONL file into corpus examples."""
    _refuse_own_file(out, input_, "the file being imported")
    examples = tasks.import_records(read_jsonl(input_), str(input_), expert=expert, split=split)
    count = write_corpus(out, examples)
    typer.echo(f"imported {count} examples into {out}")


def register(app: typer.Typer) -> None:
    """Add the ``corpus`` command group to the main app."""
    app.add_typer(corpus_app, name="corpus")
