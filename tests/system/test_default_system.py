"""The built-in default system: building and installing it, loading it, and the clear error without it.

``test_build_default_system_quick`` trains for real on the ``--quick`` settings (about 15–30 s on 2 shared
cores); the install rules (strip, size limit, atomic swap) are also checked on a fake pipeline. The
``shipped`` test checks what ``make default-system`` installed and fails, never skips, until it has run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

from helixmoe import ship
from helixmoe.errors import SystemLoadError
from helixmoe.system import HelixMoE, default_system_path
from helixmoe.system import loading as system_loading


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


def test_build_default_system_quick(tmp_path: Path) -> None:
    target = tmp_path / "default_system"
    stages: list[tuple[str, str]] = []
    result = ship.build_default_system(
        ship.demo_config(quick=True), target, on_stage=lambda s, e, info: stages.append((s, e))
    )
    assert result.root == target and not result.interrupted
    assert [s for s, e in stages if e == "end"] == [*ship.TRAIN_STAGES, "eval:test", "eval:ood"]
    assert sorted(p.name for p in target.iterdir()) == sorted(ship.SHIPPED_PARTS)
    assert not list(tmp_path.glob(".default_system*")), "the temporary build directory was left behind"
    size = ship.directory_bytes(target)
    assert size < ship.MAX_SHIPPED_BYTES
    for name in ("eval-test/report.md", "eval-test/report.json", "eval-ood/report.md", "summary.md"):
        assert (target / "reports" / name).is_file(), name
    assert str(target) in (target / "reports" / "eval-test" / "report.json").read_text()
    moe = HelixMoE.load(target)
    answer = moe.answer("Convert to LC-R: [1, 2, 3]")
    assert answer.expert in moe.experts and isinstance(answer.text, str)


def _fake_pipeline(extra_bytes: int = 0, interrupted: bool = False) -> Any:
    def fake(config: Any, output_dir: Path, **kw: Any) -> ship.PipelineResult:
        root = Path(output_dir)
        for part in ("tokenizer", "base", "experts", "router", "reports", ".train/corpus"):
            (root / part).mkdir(parents=True, exist_ok=True)
        (root / "system.yaml").write_text("name: fake\n")
        (root / "base" / "model.safetensors").write_bytes(b"\0" * (1000 + extra_bytes))
        (root / ".train" / "corpus" / "train.jsonl").write_bytes(b"\0" * 50_000)
        (root / "reports" / "report.md").write_text(f"measured {root}\n")
        return ship.PipelineResult(root=root, interrupted=interrupted)

    return fake


def test_ship_a_system_trained_elsewhere_resumes_on_a_copy(tmp_path: Path, monkeypatch: Any) -> None:
    seen: dict[str, Any] = {}

    def fake(config: Any, output_dir: Path, **kw: Any) -> ship.PipelineResult:
        seen.update(kw, copied=(Path(output_dir) / "base" / "model.safetensors").read_bytes())
        return _fake_pipeline()(config, output_dir)

    monkeypatch.setattr(ship, "train_and_evaluate", fake)
    trained = tmp_path / "long-run"
    (trained / "base").mkdir(parents=True)
    (trained / "system.yaml").write_text("name: long\n")
    (trained / "base" / "model.safetensors").write_bytes(b"weights")
    target = tmp_path / "default_system"
    ship.build_default_system(ship.demo_config(quick=True), target, trained=trained)
    assert seen["resume"] is True and seen["copied"] == b"weights"
    assert (trained / "base" / "model.safetensors").read_bytes() == b"weights"  # the original is untouched
    assert not (target / ".train").exists()
    with pytest.raises(SystemLoadError, match="not a trained system"):
        ship.build_default_system(ship.demo_config(quick=True), target, trained=tmp_path / "nothing")


def _old_system(target: Path) -> None:
    target.mkdir()
    (target / "system.yaml").write_text("name: old\n")


def test_install_strips_the_work_dir_and_relabels_reports(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setattr(ship, "train_and_evaluate", _fake_pipeline())
    target = tmp_path / "default_system"
    _old_system(target)
    ship.build_default_system(ship.demo_config(quick=True), target)
    assert sorted(p.name for p in target.iterdir()) == sorted(ship.SHIPPED_PARTS)
    assert (target / "system.yaml").read_text() == "name: fake\n"
    assert (target / "reports" / "report.md").read_text() == f"measured {target}\n"
    assert ship.directory_bytes(target) < 10_000


@pytest.mark.parametrize(
    ("fake", "message"),
    [
        (_fake_pipeline(extra_bytes=30_000), "over the 0.0 MB limit"),
        (_fake_pipeline(interrupted=True), "interrupted"),
    ],
)
def test_a_failed_build_leaves_the_old_system(
    tmp_path: Path, monkeypatch: Any, fake: Any, message: str
) -> None:
    monkeypatch.setattr(ship, "train_and_evaluate", fake)
    target = tmp_path / "default_system"
    _old_system(target)
    with pytest.raises(SystemLoadError, match=message):
        ship.build_default_system(ship.demo_config(quick=True), target, max_bytes=20_000)
    assert [p.name for p in target.iterdir()] == ["system.yaml"]
    assert (target / "system.yaml").read_text() == "name: old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["default_system"]


def test_load_without_a_shipped_system_says_how_to_build_it(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setattr(system_loading, "default_system_path", lambda: tmp_path / "missing")
    with pytest.raises(SystemLoadError, match="make default-system"):
        HelixMoE.load()


def test_query_without_system_uses_the_built_in_one(tmp_path: Path, monkeypatch: Any) -> None:
    from typer.testing import CliRunner

    from helixmoe.cli.app import app

    monkeypatch.setattr(system_loading, "default_system_path", lambda: tmp_path / "missing")
    result = CliRunner().invoke(app, ["query", "Convert to LC-R: [1]"])
    assert isinstance(result.exception, SystemLoadError)
    assert "make default-system" in str(result.exception)


SHIPPED_CONVERSIONS = (
    ("Convert to LC-R: [1, 2, 3]", "🜃1, 2, 3🜄"),
    ("Convert to LC-T: [1, 2, 3]", "[1,2,3]"),
    ("Convert to LC-T: {14: {@0: 42}}", "{C:14,0=42}"),
    ("Convert to LC-R: {14: {@0: 42}}", "🜊14🜁0 42🜂"),
)


def _shipped_root() -> Path:
    root = default_system_path()
    if not (root / "system.yaml").is_file():
        pytest.fail(f"no built-in system at {root}: run `make default-system` to train and install it")
    return root


@pytest.mark.shipped
def test_shipped_system_loads_and_converts_exactly() -> None:
    """The built-in system answers exactly: the model's own text when the oracle confirms it, the codec's
    otherwise, and it says which (``fallback_used``) — model-only accuracy is what its report measures."""
    root = _shipped_root()
    assert ship.directory_bytes(root) < ship.MAX_SHIPPED_BYTES
    assert (root / "reports" / "eval-test" / "report.md").is_file()
    moe = HelixMoE.load(verify="oracle")
    for prompt, expected in SHIPPED_CONVERSIONS:
        answer = moe.answer(prompt)
        assert answer.text == expected and answer.verified, prompt
        assert (answer.fallback_used in ("retry", "oracle")) == (answer.model_text != expected), prompt


#: A request the built-in model gets nearly right: its own answer, and the right one.
NEAR_MISS = ("emit lc-r glyphs for the following value: [103]", "🜊103🜂", "🜃103🜄")


@pytest.mark.shipped
def test_shipped_system_retries_its_own_least_certain_step() -> None:
    """The built-in model writes the list ``[103]`` in LC-R as contract 103 (``🜊103🜂``); ``retry`` finds the
    right answer among its own alternatives (the runner-up token where it was least sure), free or
    grammar-constrained, and says so. With no branches, decoding again under the grammar gives the same wrong
    answer: the search is what finds it."""
    _shipped_root()
    prompt, near, expected = NEAR_MISS
    for constrained in (False, True):
        moe = HelixMoE.load(verify="retry", constrained=constrained)
        answer = moe.answer(prompt)
        assert answer.model_text == near, "the shipped model changed: pick another near miss"
        assert (answer.text, answer.verified, answer.fallback_used) == (expected, True, "retry")
    alone = HelixMoE.load(verify="retry", retry_branches=0).answer(prompt)
    assert (alone.text, alone.verified, alone.fallback_used) == (near, False, None)
    # the built-in system's serving.verify is retry: query, chat and load() search without being asked
    default = HelixMoE.load()
    assert default.verify_policy == "retry"
    assert (default.answer(prompt).text, default.answer(prompt, verify="flag").verified) == (expected, False)


@pytest.mark.shipped
def test_shipped_report_describes_the_shipped_weights() -> None:
    """Re-answer items of the committed test report: the model's answers are the recorded ones, so the
    report's figures are the shipped system's. (Greedy decoding is deterministic here; a tolerance of 10%
    covers arg-max ties that a different CPU's kernels could break the other way.)"""
    root = _shipped_root()
    rows = [json.loads(line) for line in (root / "reports" / "eval-test" / "examples.jsonl").open()]
    rows = rows[:: max(1, len(rows) // 40)][:40]
    moe = HelixMoE.load(verify="off")
    answers = moe.batch([r["prompt"] for r in rows], experts=[r["routed"] for r in rows], verify="off")
    same = sum(a.model_text == r["model_answer"] for a, r in zip(answers, rows))
    assert same >= 0.9 * len(rows), f"{same}/{len(rows)} answers match the committed report"
    assert any(r["exact"] for r in rows) and not all(r["exact"] for r in rows)  # a real mix, not a fixture


def _fake_stages(monkeypatch: Any, took: dict[str, float | None]) -> dict[str, float | None]:
    """Stages that take ``took[stage]`` seconds of a fake clock (``None``: their whole budget); returns the
    budget each stage was given."""
    from helixmoe.training import pipeline

    clock = {"now": 1000.0}
    budgets: dict[str, float | None] = {}

    def fake_train_system(config: Any, root: Path, *, stages: list[str], **kw: Any) -> dict[str, Any]:
        (stage,) = stages
        budgets[stage] = config.training.time_budget
        spent = took[stage]
        clock["now"] += config.training.time_budget if spent is None else spent  # None: the whole budget
        return {"stages": {stage: {"seconds": took[stage]}}, "interrupted": False}

    monkeypatch.setattr(ship.time, "monotonic", lambda: clock["now"])
    monkeypatch.setattr(pipeline, "train_system", fake_train_system)
    monkeypatch.setattr(ship, "_finish_training_record", lambda *a: None)
    monkeypatch.setattr(ship, "_evaluate", lambda *a: None)
    monkeypatch.setattr(ship, "write_summary", lambda *a: None)
    return budgets


def test_the_router_is_fitted_first_and_the_base_and_experts_share_what_it_left(
    tmp_path: Path, monkeypatch: Any
) -> None:
    """A slow router (or a slow machine) costs the training stages after it, not the demo's deadline."""
    budgets = _fake_stages(
        monkeypatch, {"corpus": 30.0, "tokenizer": 20.0, "router": 170.0, "base": 400.0, "experts": 60.0}
    )
    config = ship.with_budget(ship.demo_config(quick=True), 720.0)

    result = ship.train_and_evaluate(config, tmp_path / "sys")

    assert list(budgets) == ["corpus", "tokenizer", "router", "base", "experts"] == list(result.seconds)
    assert budgets["router"] is None  # never cut short: a system without a router does not load
    assert budgets["base"] == 720.0 - 30 - 20 - 170
    assert budgets["experts"] == 720.0 - 30 - 20 - 170 - 400


@pytest.mark.parametrize("router_s", [20.0, 200.0])
def test_a_demo_fits_its_budget_to_how_slowly_the_machine_fitted_the_router(
    tmp_path: Path, monkeypatch: Any, router_s: float
) -> None:
    config = ship.demo_config()  # the built-in config, its budget fitted to the demo's target
    planned = config.training.time_budget
    assert planned is not None
    slowness = ship.machine_slowness(config, router_s)
    took = {"corpus": 30.0, "tokenizer": 20.0, "router": router_s, "base": None, "experts": 60.0}
    budgets = _fake_stages(monkeypatch, took)

    result = ship.train_and_evaluate(config, tmp_path / "sys", finish_in_s=ship.DEMO_TARGET_S)

    fitted = ship.fit_training_budget(config, ship.DEMO_TARGET_S, slowness)
    reserve = ship.expert_setup_reserve_s(config, slowness)
    assert result.fitted["slowness"] == round(slowness, 2) and reserve > 0
    assert budgets["base"] == pytest.approx(
        fitted - 50 - router_s - reserve
    )  # the experts' set-up is kept back
    assert budgets["experts"] == pytest.approx(reserve)  # a base that used its whole budget left them that
    if slowness <= 1:  # a machine as fast as the calibration trains for the whole planned budget
        assert fitted == planned
    else:  # a slower one trains less, so that the evaluation, slower too, still ends in time
        assert fitted < planned
        evaluation = ship.estimate_seconds(config)["evaluation"] * slowness
        assert fitted + evaluation < ship.DEMO_TARGET_S


def test_the_demo_summary_says_how_it_fitted_itself(tmp_path: Path) -> None:
    result = ship.PipelineResult(root=tmp_path, seconds={"router": 130.0})
    result.fitted = {"slowness": 2.05, "training_budget_s": 644, "expert_reserve_s": 74}
    text = ship.write_summary(result, []).read_text()
    assert "router 2.05x as slowly" in text and "training got 644 s" in text and "experts 74 s" in text
    assert json.loads((tmp_path / "reports" / "summary.json").read_text())["fitted"]["slowness"] == 2.05
