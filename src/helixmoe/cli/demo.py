"""``helixmoe demo``: the main job on the built-in default, end to end.

1. the HLX oracle: a handful of spec values in every notation, each checked to round-trip;
2. the pipeline (:func:`helixmoe.ship.train_and_evaluate`): corpus → tokenizer → base → experts →
   router under the training budget, then evaluation on the test and ood splits into ``<output>/reports/``,
   with a Rich progress display per stage and the time estimate printed up front;
3. the summary table (per expert: exact match test/ood, routing accuracy, latency) and a few sample
   queries (expert, confidence, verified, time).

``--ship`` runs the same pipeline through :func:`~helixmoe.ship.build_default_system` and installs
the result as the built-in system (``make default-system``). Ctrl-C stops cleanly and says how to resume.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from helixmoe import hlx
from helixmoe.errors import ConfigError

__all__ = ["register"]

SAMPLES = (
    "{14: {@0: 42}}",
    '{name: "Alice", age: 30}',
    "[1, 2, 3]",
    '{1000: {@0: "search", @1: &h_documents}}',
    '{902: {@0: "render_pipeline", @1: [&h_vs, &h_fs]}}',
    'b"data"',
    "3.14159",
)
DEFAULT_OUTPUT = Path("systems/demo")


def codec_table(console: Console) -> None:
    """Section 1: every sample value in every notation (each cell round-trips through the oracle)."""
    table = Table(title="HLX: one value, five notations (every cell round-trips through the oracle)")
    for name in ("hlxl", "lc-t", "lc-r", "lc-b-text", "lc-b (hex)"):
        table.add_column(name, overflow="fold")
    for text in SAMPLES:
        value = hlx.loads(text, "hlxl")
        cells = []
        for name in ("hlxl", "lc-t", "lc-r", "lc-b-text", "lc-b"):
            out = hlx.dumps(value, name)
            if not hlx.equal(hlx.loads(out, name), value):
                raise AssertionError(f"round trip failed for {text} in {name}")
            cells.append(Text(out.hex() if isinstance(out, bytes) else out))  # Text: brackets are not markup
        table.add_row(*cells)
    console.print(table)


def demo(
    overrides: Annotated[
        Optional[list[str]],
        typer.Argument(help="Dotted config overrides, e.g. training.experts.max_steps=100 evaluation.n=50."),
    ] = None,
    time_budget: Annotated[
        Optional[str],
        typer.Option(
            "--time-budget",
            help="Training budget, e.g. 12m or 90s (default: the config's, cut to fit the demo in 15 minutes).",
        ),
    ] = None,
    size: Annotated[
        Optional[int],
        typer.Option("--size", help="Training examples per expert (training.corpus.train_per_expert)."),
    ] = None,
    output: Annotated[
        Optional[Path], typer.Option("--output", "-o", help="System directory (default: systems/demo).")
    ] = None,
    config: Annotated[
        Optional[Path], typer.Option("--config", "-c", help="System config (default: the built-in one).")
    ] = None,
    quick: Annotated[
        bool, typer.Option("--quick", help="A one-to-two-minute run with tiny step counts (wiring check).")
    ] = False,
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue an interrupted demo in --output.")
    ] = False,
    ship: Annotated[
        bool,
        typer.Option(
            "--ship",
            help="Install the result as the built-in default system (make default-system); with "
            "--resume --output DIR, finish, evaluate and install the system trained in DIR.",
        ),
    ] = False,
    started_at: Annotated[
        Optional[float],
        typer.Option(
            "--started-at",
            help="Unix time the 15-minute target counts from (default: now); make demo passes the time "
            "it began, so its set-up counts too.",
        ),
    ] = None,
) -> None:
    """Build the corpus, train tokenizer, base, experts and router, evaluate, and answer sample queries."""
    from helixmoe.ship import DEMO_TARGET_S, demo_config, estimate_seconds

    if ship and (output is not None) != resume:
        raise ConfigError(
            "--ship installs into the package; --ship --resume --output DIR ships the system trained in DIR"
        )
    console = Console(file=sys.stdout)  # pinned: library output is redirected to a log while stages run
    started = time.monotonic()
    before = spent_before(started_at, time.time())  # e.g. make demo's set-up
    if ship and output is not None and config is None:
        config = output / "system.yaml"  # ship what DIR was trained with
    cfg = demo_config(config, time_budget=time_budget, size=size, quick=quick, overrides=overrides or ())
    out = output or DEFAULT_OUTPUT
    if not ship:
        _prepare_output(console, out, resume)
    codec_table(console)
    _print_plan(console, cfg, estimate_seconds(cfg), time_budget, quick)
    if before >= 1:
        console.print(
            Text(f"{_fmt_s(before)} of the target went before the demo began (--started-at: set-up)")
        )
    log = _log_path(out, ship)
    console.print(Text(f"training log: {log}"))
    try:
        with _quiet(log):
            # the default run fits its budget to the machine, to end within the demo's target
            fits = time_budget is None and not quick and not ship
            finish_in = DEMO_TARGET_S - before - (time.monotonic() - started) if fits else None
            result = _run(console, cfg, out, ship=ship, resume=resume, finish_in_s=finish_in)
    except KeyboardInterrupt:
        result = None
    if result is None or result.interrupted:
        _interrupted(console, out, ship)
    from helixmoe.ship import describe_fit, summary_rows

    console.print(_summary_table(summary_rows(result), cfg.name))
    if result.fitted:
        console.print(Text(describe_fit(result.fitted)))
    console.print(Text(f"reports: {result.root / 'reports'}  (summary.md, eval-test/report.md, plots)"))
    with _quiet(log):
        moe = _load(result.root, cfg)
    _sample_queries(console, moe, cfg)
    took = time.monotonic() - started
    since = f" ({_fmt_s(before + took)} since --started-at)" if started_at is not None else ""
    console.print(Text(f"done in {_fmt_s(took)}{since} · system: {result.root}"))
    if ship:
        console.print(Text("installed: HelixMoE.load(), helixmoe query and helixmoe chat now use it"))
    else:
        console.print(Text(f'next: helixmoe query --system {out} "Convert to LC-R: [1, 2, 3]"'))


def spent_before(started_at: float | None, now: float) -> float:
    """Seconds between ``--started-at`` (Unix time) and ``now``: what the demo's target already spent."""
    if started_at is None:
        return 0.0
    if started_at > now + 60:  # a minute of clock skew is tolerated
        raise ConfigError(f"--started-at {started_at:.0f} is {started_at - now:.0f} s in the future")
    return max(0.0, now - started_at)


def _prepare_output(console: Console, out: Path, resume: bool) -> None:
    """A fresh run replaces an earlier system at ``out``; anything else there is refused."""
    if resume:
        if not (out / "system.yaml").is_file():
            raise ConfigError(f"--resume: {out} holds no interrupted demo (no system.yaml)")
        return
    if not out.exists():
        return
    if not out.is_dir() or (any(out.iterdir()) and not (out / "system.yaml").is_file()):
        raise ConfigError(f"--output {out} exists and is not a system directory; choose another")
    if (out / "system.yaml").is_file():
        console.print(Text(f"replacing the earlier system at {out}"))
        shutil.rmtree(out)


def _log_path(out: Path, ship: bool) -> Path:
    if ship:
        fd, name = tempfile.mkstemp(prefix="helixmoe-ship-", suffix=".log")
        with open(fd, "w", encoding="utf-8"):
            pass
        return Path(name)
    path = out / ".train" / "demo.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


@contextlib.contextmanager
def _quiet(log: Path) -> Iterator[None]:
    """Send what the libraries print (Trainer log dicts, weight-loading bars, warnings) to ``log``;
    our own logger's warnings still reach the terminal through its handler."""
    # transformers' own warnings (e.g. "missing keys: lm_head.weight" of a tied head) are expected here
    logging.getLogger("transformers").setLevel(logging.ERROR)
    with (
        open(log, "a", encoding="utf-8") as handle,
        contextlib.redirect_stdout(handle),
        contextlib.redirect_stderr(handle),
    ):
        yield


def _print_plan(
    console: Console, cfg: Any, plan: dict[str, float], given: Optional[str], quick: bool
) -> None:
    from helixmoe.ship import DEMO_TARGET_S

    budget = cfg.training.time_budget
    if given is not None:
        source = "--time-budget"
    elif quick:
        source = "--quick"
    else:
        source = (
            f"the config's, fitted into the demo's {DEMO_TARGET_S / 60:g}-minute target, and again to this "
            "machine's speed once the router is fitted"
        )
    splits = " and ".join(cfg.evaluation.splits)
    console.print(
        Text(
            f"about {max(1, round(plan['total'] / 60))} minutes: training budget "
            f"{_fmt_s(budget) if budget else 'none'} ({source}; the router fit included), then evaluation "
            f"on {splits} (~{_fmt_s(plan['evaluation'])}, n={cfg.evaluation.n} each) and sample queries · "
            f"{len(cfg.experts)} experts, {_examples_text(cfg)}",
            style="bold",
        )
    )


def _examples_text(cfg: Any) -> str:
    """``N training examples each``, or each expert's count where their ``train_weight`` differ."""
    counts = {name: cfg.train_examples(name) for name in cfg.experts}
    if len(set(counts.values())) == 1:
        return f"{next(iter(counts.values()))} training examples each"
    return "training examples " + ", ".join(f"{name} {n}" for name, n in counts.items())


def _run(
    console: Console, cfg: Any, out: Path, *, ship: bool, resume: bool, finish_in_s: float | None
) -> Any:
    from helixmoe.cli.demo_progress import StageProgress
    from helixmoe.ship import build_default_system, train_and_evaluate

    with StageProgress(console, cfg) as progress:
        if ship:
            return build_default_system(cfg, on_stage=progress.hook, trained=out if resume else None)
        return train_and_evaluate(cfg, out, resume=resume, on_stage=progress.hook, finish_in_s=finish_in_s)


def _interrupted(console: Console, out: Path, ship: bool) -> None:
    if ship:
        console.print(Text("interrupted: the built-in system is unchanged (run make default-system again)"))
    else:
        console.print(
            Text(
                f"interrupted: checkpoints are saved under {out}/.train. Continue with\n"
                f"  helixmoe demo --output {out} --resume\n"
                f"or train on with: helixmoe train --config {out}/system.yaml --output {out} --resume"
            )
        )
    raise typer.Exit(130)


def _pct(x: Any) -> str:
    return "—" if x is None else f"{100 * x:.1f}%"


def _ms(x: Any) -> str:
    return "—" if x is None else f"{x:.0f} ms"


def _fmt_s(seconds: float) -> str:
    seconds = round(seconds)
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


def _summary_table(rows: list[dict[str, Any]], name: str) -> Table:
    table = Table(
        title=f"{name}: exact match (the model's own answer), routing accuracy and latency",
        caption="exact: model-only exact match graded by the HLX oracle; routed: router picked the true "
        "expert; latency: p50 of single queries",
    )
    table.add_column("expert", no_wrap=True)
    for head in ("exact test", "exact ood", "verified test", "routed test", "routed ood", "latency"):
        table.add_column(head, justify="right")
    for r in rows:
        table.add_row(
            r["expert"] if r["expert"] != "all" else "[bold]all[/bold]",
            _pct(r["exact_test"]),
            _pct(r["exact_ood"]),
            _pct(r["verified_test"]),
            _pct(r["routed_test"]),
            _pct(r["routed_ood"]),
            _ms(r["latency_p50_ms"]),
        )
    return table


def _load(root: Path, cfg: Any) -> Any:
    from helixmoe.system import HelixMoE

    return HelixMoE.load(root, verify="flag", max_new_tokens=cfg.evaluation.max_new_tokens)


def _sample_queries(console: Console, moe: Any, cfg: Any) -> None:
    from helixmoe.ship import sample_queries

    table = Table(title="sample queries (verify: flag — checked against the oracle, never replaced)")
    for head, justify in (("query", "left"), ("expert", "left"), ("conf.", "right"), ("answer", "left")):
        table.add_column(head, justify=justify, overflow="fold")  # type: ignore[arg-type]
    table.add_column("verified")
    table.add_column("time", justify="right")
    for text in sample_queries(cfg):
        a = moe.answer(text)
        mark = {True: "✓ yes", False: "✗ no", None: "· n/a"}[a.verified]
        table.add_row(
            Text(text),
            a.expert,
            f"{a.route.confidence:.2f}",
            Text(a.text if len(a.text) < 80 else a.text[:77] + "..."),
            mark,
            _ms(a.timings.get("total")),
        )
    console.print(table)


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
