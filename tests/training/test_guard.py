"""``helixmoe train -o EXISTING`` refuses to record a config over weights built with another one, or to
retrain a stage under weights trained on it (``helixmoe.training.guard``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from helixmoe.config import SystemConfig
from helixmoe.errors import ConfigError
from helixmoe.models.layout import SystemLayout, save_system_skeleton
from helixmoe.training.context import StageContext
from helixmoe.training.guard import check_rewrite
from helixmoe.training.pipeline import train_system
from helixmoe.training.stages import check_stages

CONFIG = {
    "name": "guarded",
    "experts": {"ascii": {"families": ["convert"]}, "runic": {}},
    "model": {"size": "tiny"},
    "lora": {"r": 4, "alpha": 8},
}


def _config(**changes: dict) -> SystemConfig:
    data = {key: dict(value) for key, value in CONFIG.items() if isinstance(value, dict)}
    data["name"] = CONFIG["name"]
    for section, fields in changes.items():
        data[section] = {**data.get(section, {}), **fields}
    return SystemConfig.model_validate(data)


@pytest.fixture
def trained(tmp_path: Path) -> Path:
    """A system directory holding (stand-in) trained tokenizer, base and expert weights."""
    root = tmp_path / "sys"
    layout = save_system_skeleton(root, _config())
    layout.tokenizer_dir.mkdir(parents=True)
    (layout.tokenizer_dir / "tokenizer.json").write_text("{}")
    layout.base_dir.mkdir(parents=True)
    (layout.base_dir / "config.json").write_text("{}")
    for name in ("ascii", "runic"):
        layout.expert_dir(name).mkdir(parents=True)
        (layout.expert_dir(name) / "adapter_model.safetensors").write_bytes(b"")
    return root


def _check(root: Path, config: SystemConfig, stages: list[str], **ctx: object) -> None:
    context = StageContext(config=config, layout=SystemLayout(root), **ctx)  # type: ignore[arg-type]
    check_rewrite(context, check_stages(stages))


def test_a_new_directory_or_an_unchanged_config_passes(tmp_path: Path, trained: Path) -> None:
    _check(tmp_path / "new", _config(model={"size": "small"}), ["router"])
    _check(trained, _config(), ["corpus", "router"])
    _check(trained, _config(), ["experts"])  # retraining the last stage invalidates nothing
    _check(trained, _config(), ["all"])
    # fields that only steer training or serving may change
    _check(trained, _config(lora={"dropout": 0.2}, model={"device": "cpu", "dtype": "float32"}), ["router"])


def test_a_changed_base_needs_the_base_and_every_expert_retrained(trained: Path) -> None:
    small = _config(model={"size": "small"})
    with pytest.raises(ConfigError) as err:
        _check(trained, small, ["router"])
    text = str(err.value)
    assert "model.size: 'tiny' -> 'small'" in text
    assert "base:" in text and "expert ascii" in text and "expert runic" in text and "-o NEW_DIR" in text
    with pytest.raises(ConfigError, match="expert ascii"):
        _check(trained, small, ["base"])  # the experts were trained on the old base
    _check(trained, small, ["base", "experts"])


def test_changed_lora_needs_every_expert_retrained(trained: Path) -> None:
    wider = _config(lora={"r": 8})
    _check(trained, wider, ["experts"])
    with pytest.raises(ConfigError, match=r"expert runic: lora\.r: 4 -> 8") as err:
        _check(trained, wider, ["experts"], experts=["ascii"])
    assert "expert ascii" not in str(err.value)


def test_an_expert_change_concerns_that_expert_only(trained: Path) -> None:
    changed = _config(experts={"ascii": {"families": ["validate"]}, "runic": {}})
    with pytest.raises(ConfigError, match=r"expert ascii: experts\.ascii\.families") as err:
        _check(trained, changed, ["router"])
    assert "expert runic" not in str(err.value)
    _check(trained, changed, ["experts"], experts=["ascii"])


def test_retraining_the_tokenizer_under_a_trained_base_is_refused(trained: Path) -> None:
    with pytest.raises(ConfigError, match=r"base: the tokenizer stage retrains the saved tokenizer"):
        _check(trained, _config(), ["tokenizer"])
    with pytest.raises(ConfigError, match=r"expert ascii: the base stage retrains the saved base"):
        _check(trained, _config(), ["base"])
    _check(trained, _config(), ["tokenizer", "base", "experts"])


def test_resume_does_not_rebuild_what_it_finished(trained: Path) -> None:
    ctx = StageContext(config=_config(), layout=SystemLayout(trained), resume=True)
    ctx.mark_done("experts/ascii")
    ctx.mark_done("experts/runic")
    with pytest.raises(ConfigError, match="without --resume"):
        check_rewrite(
            StageContext(config=_config(lora={"r": 8}), layout=SystemLayout(trained), resume=True),
            ["experts"],
        )


def test_an_unreadable_system_file_over_weights_is_refused(trained: Path) -> None:
    (trained / "system.yaml").write_text("name: [unclosed\n")
    with pytest.raises(ConfigError, match=r"system\.yaml cannot be read"):
        _check(trained, _config(), ["router"])


def test_train_refuses_before_writing_anything(trained: Path) -> None:
    before = (trained / "system.yaml").read_bytes()
    with pytest.raises(ConfigError, match=r"model\.size"):
        train_system(_config(model={"size": "small"}), trained, stages=["corpus", "router"])
    assert (trained / "system.yaml").read_bytes() == before
