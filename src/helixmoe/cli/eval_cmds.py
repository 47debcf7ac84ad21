"""``helixmoe eval``: evaluate a system end to end, or grade an external answers file (a thin shell over
:mod:`helixmoe.evaluation`).

    helixmoe eval --system runs/hlx-tiny --split test --n 200 [--verify flag] [--out DIR]
    helixmoe eval --system runs/hlx-tiny --split my_items.jsonl
    helixmoe eval --answers answers.jsonl --corpus data/corpus --split test      # no model needed
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from helixmoe.cli.query_cmds import RetryOpt, prepare_to_load
from helixmoe.errors import ConfigError, SystemLoadError

__all__ = ["register"]

_DEFAULT_SPLIT = "test"


def eval_command(
    system: Annotated[
        Optional[Path], typer.Option("--system", "-s", help="System directory (default: built-in).")
    ] = None,
    split: Annotated[
        Optional[str], typer.Option("--split", help="test | ood | val | a JSONL file of examples.")
    ] = None,
    n: Annotated[
        Optional[int], typer.Option("--n", min=1, help="Examples to evaluate (default: evaluation.n).")
    ] = None,
    verify: Annotated[Optional[str], typer.Option("--verify", help="off | flag | retry | oracle.")] = None,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Report directory.")] = None,
    router: Annotated[
        Optional[str], typer.Option("--router", help="keyword | classifier | cascade | coordinator")
    ] = None,
    batch_size: Annotated[
        Optional[int], typer.Option("--batch-size", min=1, help="Rows per generation batch.")
    ] = None,
    oracle_route: Annotated[
        Optional[str], typer.Option("--oracle-route", help="full | misrouted | off")
    ] = None,
    latency_queries: Annotated[
        Optional[int], typer.Option("--latency-queries", min=0, help="Requests timed one at a time.")
    ] = None,
    device: Annotated[Optional[str], typer.Option("--device", help="cpu | cuda | auto")] = None,
    constrained: Annotated[
        Optional[bool],
        typer.Option(
            "--constrained/--no-constrained",
            help="Grammar-constrained decoding (default: the system's serving.constrained).",
        ),
    ] = None,
    plots: Annotated[Optional[bool], typer.Option("--plots/--no-plots", help="Write PNG plots.")] = None,
    retry_branches: RetryOpt = None,
    answers: Annotated[
        Optional[Path], typer.Option("--answers", help="Grade this answers JSONL instead.")
    ] = None,
    corpus: Annotated[
        Optional[Path], typer.Option("--corpus", help="Corpus dir or file for --answers.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Evaluate a system (routing, experts, verification, latency, memory, sizes) and write its report;
    with --answers, grade another system's answers on the same items instead."""
    overrides = {
        "n": n,
        "verify": verify,
        "batch_size": batch_size,
        "oracle_route": oracle_route,
        "latency_queries": latency_queries,
        "plots": plots,
    }
    loader = {
        "router": router,
        "device": device,
        "constrained": constrained,
        "retry_branches": retry_branches,
    }
    with _report_dir(out):
        if answers is not None or corpus is not None:
            _grade_answers(answers, corpus, split, out, as_json)
            return
        _evaluate_system(system, split or _DEFAULT_SPLIT, overrides, loader, out, as_json)


@contextmanager
def _report_dir(out: Optional[Path]) -> Iterator[None]:
    """Create ``--out`` now, so that a directory that cannot be made fails before the evaluation, not after it;
    when the run then fails, remove the directories this run created that are still empty (an existing
    ``--out`` is never removed)."""
    if out is None:
        yield
        return
    created = []
    missing = out
    while not missing.exists() and not missing.is_symlink() and missing != missing.parent:
        created.append(missing)
        missing = missing.parent
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ConfigError(
            f"--out {out}: cannot create the report directory ({err.strerror or err})"
        ) from None
    try:
        yield
    except BaseException:
        for directory in created:  # innermost first; rmdir leaves a directory that holds anything
            try:
                directory.rmdir()
            except OSError:
                break
        raise


def _evaluate_system(
    system: Optional[Path],
    split: str,
    overrides: dict[str, Any],
    loader: dict[str, Any],
    out: Optional[Path],
    as_json: bool,
) -> None:
    from helixmoe.evaluation.run import evaluate_system
    from helixmoe.models.layout import read_system_config
    from helixmoe.system import HelixMoE, default_system_path

    prepare_to_load(system, loader["router"])  # a --router mistake fails now, with the valid choices
    root = system if system is not None else default_system_path()
    if system is None and not (root / "system.yaml").is_file():
        raise SystemLoadError(
            f"the built-in system is missing at {root}; rebuild it with: make default-system"
        )
    cfg = read_system_config(root).evaluation
    cfg = _validated(cfg.model_copy(update={k: v for k, v in overrides.items() if v is not None}))
    moe = HelixMoE.load(system, verify=cfg.verify, max_new_tokens=cfg.max_new_tokens, **loader)
    typer.echo(f"evaluating {split} on {root} ...", err=True)
    if out is None and system is None:  # the built-in system lives inside the package: report to cwd
        out = Path.cwd() / "helixmoe-reports" / f"eval-{Path(split).stem}"
    report, written = evaluate_system(moe, split, config=cfg, out=out)
    if as_json:
        typer.echo(json.dumps(report.summary, indent=2))
    else:
        _print_summary(report)
    typer.echo(f"report: {written['markdown']}", err=True)


def _validated(cfg: Any) -> Any:
    """Re-validate the evaluation section after CLI overrides (``--verify sometimes`` is a ConfigError)."""
    from pydantic import ValidationError

    try:
        return type(cfg).model_validate(cfg.model_dump())
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"evaluation option {where}: {first['msg']}") from None


def _print_summary(report: Any) -> None:
    from rich import box
    from rich.console import Console
    from rich.table import Table

    from helixmoe.evaluation.markdown import GROUP_RATES
    from helixmoe.evaluation.published import fmt_pct

    s, m = report.summary, report.meta
    table = Table(
        title=f"{m.get('system_name') or 'system'} · {m.get('split')} · n={s['n']} · verify {m['verify']}",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        caption="exact/equiv/valid: the model's own text; verif: final answer after verification; "
        "routed: routing accuracy; pinned: exact with the true expert pinned (a perfect router)",
    )
    table.add_column("expert", no_wrap=True)
    for head in ("n", "exact", "equiv", "valid", "verif", "fallbk", "routed", "pinned"):
        table.add_column(head, justify="right", no_wrap=True)
    for name, g in [*report.by_expert.items(), ("[bold]all[/bold]", s)]:
        table.add_row(name, str(g["n"]), *(fmt_pct(g[k]) for k in GROUP_RATES))
    console = Console()
    console.print(table)
    console.print(_summary_line(report))


def _summary_line(report: Any) -> str:
    from helixmoe.evaluation.published import fmt_bytes, fmt_ms, fmt_pct

    s = report.summary
    rate = s["generated_per_second"]
    a = report.attribution
    return (
        f"keyword rules route {fmt_pct(s['keyword_routing_accuracy'])} · {a['errors']} errors: {a['routing']} "
        f"routing, {a['expert']} expert, {a['both']} both · single query p50 {fmt_ms(s['single_query_p50_ms'])}, "
        f"p95 {fmt_ms(s['single_query_p95_ms'])} · "
        f"{'—' if rate is None else f'{rate:.0f}'} {s['throughput_unit']}/s · peak RSS {fmt_bytes(s['rss_peak_bytes'])}"
    )


def _grade_answers(
    answers: Optional[Path], corpus: Optional[Path], split: Optional[str], out: Optional[Path], as_json: bool
) -> None:
    from helixmoe.atomic import write_text_atomic
    from helixmoe.evaluation import grade_answers_file

    if answers is None or corpus is None:
        raise ConfigError("grading an answers file needs both --answers FILE and --corpus DIR_OR_FILE")
    if split is None and corpus.is_dir():
        split = _DEFAULT_SPLIT
    result = grade_answers_file(corpus, answers, split=split)
    text = json.dumps(result, indent=2, ensure_ascii=False)
    if out is not None:
        path = write_text_atomic(out / "answers_report.json", text + "\n")
        typer.echo(f"report: {path}", err=True)
    if as_json:
        typer.echo(text)
        return
    _print_grades(result)


def _print_grades(result: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    from helixmoe.evaluation.published import fmt_pct

    table = Table(title=f"{result['answers']} on {result['corpus']} ({result['split'] or 'all splits'})")
    for head in ("group", "n", "answered", "exact", "value-eq.", "valid"):
        table.add_column(head, justify="left" if head == "group" else "right")

    def row(name: str, g: dict[str, Any]) -> None:
        table.add_row(
            name,
            str(g["n"]),
            str(g["answered"]),
            fmt_pct(g["exact"]),
            fmt_pct(g["equivalent"]),
            fmt_pct(g["valid"]),
        )

    for name, g in result["by_expert"].items():
        row(f"expert {name}", g)
    for name, g in result["by_family"].items():
        row(f"family {name}", g)
    row("all", result["total"])
    Console().print(table)


def register(app: typer.Typer) -> None:
    app.command("eval")(eval_command)
