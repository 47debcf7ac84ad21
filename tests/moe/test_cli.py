"""``helixmoe train-moe``: registration, user errors without a traceback, and (slow) a full tiny run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "configs" / "moe-tiny.yaml"


def _cli(*args: str, timeout: int = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "helixmoe", *args], capture_output=True, text=True, timeout=timeout, cwd=ROOT
    )


def test_config_loads_with_moe_section() -> None:
    from helixmoe.config import load_config

    cfg = load_config(CONFIG, [])
    assert (cfg.moe.num_experts, cfg.moe.top_k, cfg.moe.domain_head) == (4, 2, True)
    assert list(cfg.experts) == ["ascii", "runic", "math"]


def test_help_and_bad_override() -> None:
    helped = _cli("train-moe", "--help")
    assert helped.returncode == 0 and "--time-budget" in helped.stdout
    bad = _cli("train-moe", "--config", str(CONFIG), "moe.top_k=9")
    assert bad.returncode == 1 and "error:" in bad.stderr and "Traceback" not in bad.stderr
    assert "top_k" in bad.stderr


def test_a_config_without_a_moe_section_is_refused(tmp_path) -> None:
    config = ROOT / "configs" / "hlx-tiny.yaml"
    out = tmp_path / "m1"
    result = _cli("train-moe", "-c", str(config), "-o", str(out), timeout=60)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr == (
        f"error: {config}: no `moe:` section; train-moe needs a config with one (e.g. configs/moe-tiny.yaml)\n"
    )
    assert not out.exists()


def test_a_bad_data_file_fails_before_any_training(tmp_path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "a", "response": "b"\n')
    out = tmp_path / "new"
    result = _cli("train-moe", "--config", str(CONFIG), "-o", str(out), "--data", str(bad), timeout=60)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "bad.jsonl:1" in result.stderr
    assert not (out / "base").exists()  # nothing trained first


@pytest.mark.slow
def test_train_moe_end_to_end(tmp_path) -> None:
    out = tmp_path / "sys"
    done = _cli(
        "train-moe",
        "--config",
        str(CONFIG),
        "-o",
        str(out),
        "training.corpus.train_per_expert=40",
        "training.corpus.val_per_expert=5",
        "training.corpus.test_per_expert=5",
        "training.base.max_steps=4",
        "moe.train.max_steps=6",
        "moe.train.eval_steps=3",
        "moe.train.eval_samples=3",
        "moe.eval_per_domain=2",
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert sorted(p.name for p in (out / "moe").iterdir()) == ["moe_config.json", "moe_model.safetensors"]
    report = json.loads((out / "reports" / "moe_report.json").read_text())
    assert report["steps"] == 6 and set(report["domains"]) == {"ascii", "runic", "math"}
    assert set(report["report"]["domains"]) == {"ascii", "runic", "math"}

    import torch

    from helixmoe.models.base import load_base
    from helixmoe.moe import load_moe, moe_layers

    model = load_base(out / "base")
    load_moe(model, out / "moe")
    assert len(moe_layers(model)) == 6
    assert any(float(layer.experts.B.abs().sum()) > 0 for layer in moe_layers(model).values())
    assert torch.isfinite(model(torch.tensor([[1, 2, 3]])).logits).all()


def test_missing_stages_reuses_an_existing_system(tmp_path) -> None:
    from helixmoe.config import load_config
    from helixmoe.training.moe_pipeline import missing_stages

    cfg = load_config(CONFIG, [])
    assert missing_stages(cfg, tmp_path) == ["corpus", "tokenizer", "base"]
    (tmp_path / "base").mkdir()
    (tmp_path / "base" / "config.json").write_text("{}")
    (tmp_path / "tokenizer").mkdir()
    assert missing_stages(cfg, tmp_path) == ["corpus"]
    assert missing_stages(load_config(CONFIG, ["moe.data=x.jsonl"]), tmp_path) == []
    (tmp_path / ".train" / "corpus").mkdir(parents=True)
    (tmp_path / ".train" / "corpus" / "train.jsonl").write_text("")
    assert missing_stages(cfg, tmp_path) == []


def test_a_signal_during_the_base_stages_stops_train_moe_cleanly(tmp_path, monkeypatch) -> None:
    """It used to go on and fail with "base model directory not found"."""
    from helixmoe.config import load_config
    from helixmoe.training import pipeline
    from helixmoe.training.moe_pipeline import train_moe

    stopped = {"stages": {"corpus": {}, "base": {"stopped_by": "signal"}}, "interrupted": True}
    monkeypatch.setattr(pipeline, "train_system", lambda *args, **kwargs: stopped)
    summary = train_moe(load_config(CONFIG, []), tmp_path / "new")
    assert summary == {"interrupted": True, "stages": stopped["stages"]}
