"""``helixmoe demo``: the codec table, the quick end-to-end run, Ctrl-C + resume, and user mistakes.

The end-to-end tests run ``helixmoe demo --quick`` (tiny step counts, one torch thread) in a subprocess,
exactly as a user would; each takes about 10–30 s on 2 shared cores.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helixmoe.config import load_config
from helixmoe.errors import ConfigError
from helixmoe.ship import (
    DEMO_TARGET_S,
    QUICK_OVERRIDES,
    builtin_config_path,
    demo_config,
    estimate_seconds,
)

REPO = Path(__file__).resolve().parents[2]
ENV = {
    "COLUMNS": "400",
    "PATH": "/usr/bin:/bin",
    "PYTHONUNBUFFERED": "1",
    "HOME": os.environ.get("HOME", "/"),
}


def _demo(*args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "helixmoe", "demo", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env=ENV,
    )


def test_quick_demo_runs_end_to_end(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    began = time.monotonic()
    result = _demo("--quick", "--output", str(out), "--started-at", str(time.time() - 75))
    took = time.monotonic() - began
    assert result.returncode == 0, result.stdout + result.stderr
    text = result.stdout
    assert re.search(r"1m(1[5-9]|[2-5]\d)s of the target went before the demo began", text), (
        text
    )  # + start-up
    assert "since --started-at)" in text
    # section 1: the codec table, printed verbatim (brackets are not Rich markup)
    for cell in ('{C:902,0="render_pipeline",1=[@vs,@fs]}', "[#64617461]", "🜊14🜁0 42🜂", "[14|0:0x2a]"):
        assert cell in text, cell
    assert "about " in text and "minutes: training budget 2m30s (--quick; the router fit included)" in text
    for stage in ("build the corpus", "train the tokenizer", "pretrain the base", "train the experts"):
        assert stage in text, stage
    assert "fit the router" in text and "evaluate on test" in text and "evaluate on ood" in text
    assert "exact test" in text and "routed ood" in text  # the summary table
    for expert in ("ascii", "runic", "coordinator"):
        assert expert in text
    assert "Convert to LC-R: [1, 2, 3]" in text and "What is the HLX contract 14?" in text
    assert "Traceback" not in result.stdout + result.stderr
    # the system on disk: every part, both evaluation reports, the demo summary
    for part in ("system.yaml", "tokenizer", "base", "router/router.json", "experts/runic"):
        assert (out / part).exists(), part
    for split in ("test", "ood"):
        report = json.loads((out / "reports" / f"eval-{split}" / "report.json").read_text())
        assert report["meta"]["split"] == split and report["summary"]["n"] == 9
    summary = json.loads((out / "reports" / "summary.json").read_text())
    assert [r["expert"] for r in summary["rows"]] == ["ascii", "runic", "coordinator", "all"]
    training = json.loads((out / "reports" / "training_summary.json").read_text())
    assert set(training["stages"]) == {"corpus", "tokenizer", "base", "experts", "router"}
    assert "skipped" not in training["stages"]["router"]
    # the training's wall time, once: every stage counted, none twice (the per-stage runs merge as they go)
    assert sum(training["stage_seconds"].values()) - 0.5 <= training["wall_time_s"] <= took
    # system.yaml holds the run's config (not the per-stage budgets the pipeline used internally)
    assert load_config(out / "system.yaml").training.time_budget == 150.0


def _wait_for(path: Path, needle: str, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if path.is_file() and needle in path.read_text(encoding="utf-8", errors="replace"):
            return True
        time.sleep(0.2)
    return False


def _interrupt_during_experts(out: Path) -> tuple[int, str]:
    """Start a quick demo, Ctrl-C it once the experts train; return its exit code and output."""
    args = [sys.executable, "-m", "helixmoe", "demo", "--quick", "--output", str(out)]
    args += ["training.experts.max_steps=20"]  # long enough to be interrupted
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    try:
        assert _wait_for(out / "reports" / "training_metrics.jsonl", '"experts/ascii"', 120)
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    return proc.returncode, stdout + stderr


def test_ctrl_c_stops_cleanly_and_says_how_to_resume(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    code, text = _interrupt_during_experts(out)
    assert code == 130, text
    assert "interrupted" in text and f"helixmoe demo --output {out} --resume" in text
    assert f"helixmoe train --config {out}/system.yaml --output {out} --resume" in text
    assert "Traceback" not in text
    assert (out / ".train" / "state.json").is_file() and (out / "base" / "config.json").is_file()


@pytest.mark.slow
def test_resume_after_ctrl_c_finishes_the_demo(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    code, text = _interrupt_during_experts(out)
    assert code == 130, text
    summary = out / "reports" / "training_summary.json"
    first = json.loads(summary.read_text())["wall_time_s"]
    began = time.monotonic()
    resumed = _demo("--quick", "--output", str(out), "--resume", "training.experts.max_steps=20")
    took = time.monotonic() - began
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert (out / "reports" / "eval-ood" / "report.md").is_file()
    training = json.loads(summary.read_text())
    assert "skipped" in json.dumps(training["stages"]["base"])
    assert first < training["wall_time_s"] <= first + took  # both runs' training time, each counted once


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--time-budget", "soon"], "error: --time-budget"),
        (["--size", "0"], "error: --size must be at least 1"),
        (["--config", "/nonexistent/x.yaml"], "error:"),
        (["--ship", "--output", "somewhere"], "error: --ship installs into the package"),
        (["--ship", "--resume"], "error: --ship installs into the package"),
        (["training.no_such_key=1"], "error:"),
        (["--started-at", str(time.time() + 3600)], "error: --started-at"),
    ],
)
def test_user_mistakes_are_one_line_errors(args: list[str], message: str) -> None:
    result = _demo(*args, timeout=60)
    assert result.returncode == 1, result.stdout + result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_started_at_counts_what_went_before_the_demo() -> None:
    from helixmoe.cli.demo import spent_before

    assert spent_before(None, 1000.0) == 0.0
    assert spent_before(900.0, 1000.0) == 100.0  # e.g. make demo's set-up
    assert spent_before(1030.0, 1000.0) == 0.0  # a little clock skew is no error
    with pytest.raises(ConfigError, match="in the future"):
        spent_before(1100.0, 1000.0)


def test_output_that_is_not_a_system_is_refused(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    result = _demo("--quick", "--output", str(tmp_path), timeout=60)
    assert result.returncode == 1 and "is not a system directory" in result.stderr
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_builtin_config_ships_in_the_package_and_the_repo_path_links_to_it() -> None:
    path = builtin_config_path()
    assert path.is_file() and path.parent.name == "configs" and path.parent.parent.name == "helixmoe"
    repo_link = REPO / "configs" / "hlx-tiny.yaml"
    assert repo_link.is_symlink() and repo_link.resolve() == path.resolve()
    assert load_config(path).name == "hlx-tiny"


def test_demo_config_fits_the_training_budget_into_the_demo_target() -> None:
    own = load_config(builtin_config_path()).training.time_budget
    cfg = demo_config()
    budget = cfg.training.time_budget
    assert budget is not None and budget <= (own or float("inf"))
    plan = estimate_seconds(cfg)
    assert plan["total"] <= DEMO_TARGET_S or budget == 120  # the 2-minute floor
    assert plan["router"] > 0 and plan["evaluation"] > 0
    # a cheaper evaluation leaves more time to train
    assert demo_config(overrides=["evaluation.n=20"]).training.time_budget >= budget


def test_demo_config_applies_the_options() -> None:
    assert demo_config(time_budget="5m").training.time_budget == 300.0
    assert demo_config(time_budget="30m").training.time_budget == 1800.0  # explicit: no cut
    cfg = demo_config(size=77, quick=True)
    assert cfg.training.corpus.train_per_expert == 77 and cfg.training.time_budget == 150.0
    # the built-in copy warm-up runs, briefly: it must not eat the quick run's base budget
    assert 0 < cfg.training.copy_warmup.steps <= 10 < demo_config().training.copy_warmup.steps
    assert not cfg.training.progress_bars
    assert len(QUICK_OVERRIDES) == len({o.split("=")[0] for o in QUICK_OVERRIDES})
