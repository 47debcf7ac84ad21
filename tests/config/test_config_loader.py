"""Config loading: YAML/TOML, dotted overrides, readable errors, atomic save, no torch import."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from helixmoe.config import (
    BaseModelConfig,
    LoRAConfig,
    SystemConfig,
    TokenizerConfig,
    apply_overrides,
    load_config,
    parse_override,
    save_config,
    validate_config,
)
from helixmoe.errors import ConfigError

YAML = """\
name: demo
experts:
  ascii: {description: "ASCII formats", families: [a, b]}
  runic: {description: "runes", rank: 8}
training: {lr: 3e-4}
"""
TOML = """\
name = "demo"
[experts.ascii]
description = "ASCII formats"
families = ["a", "b"]
[experts.runic]
description = "runes"
rank = 8
[training]
lr = 3e-4
"""


@pytest.fixture
def yaml_file(tmp_path: Path) -> Path:
    path = tmp_path / "system.yaml"
    path.write_text(YAML, encoding="utf-8")
    return path


def _error(path: Path, overrides: tuple[str, ...] = ()) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(path, overrides)
    return str(info.value)


def test_yaml_and_toml_load_to_the_same_config(yaml_file: Path, tmp_path: Path) -> None:
    toml_file = tmp_path / "system.toml"
    toml_file.write_text(TOML, encoding="utf-8")
    from_yaml, from_toml = load_config(yaml_file), load_config(toml_file)
    assert from_yaml == from_toml
    assert from_yaml.training.lr == 3e-4  # a YAML-1.1 "string" read as the float it means
    assert list(from_yaml.experts) == ["ascii", "runic"]
    assert from_yaml.model.size == "tiny" and from_yaml.lora.r == 16


def test_defaults_match_the_design() -> None:
    lora = LoRAConfig()
    assert (lora.r, lora.alpha, lora.dropout) == (16, 32, 0.05)
    assert lora.target_modules == [
        "q_proj",
        "k_proj",
        "v_proj",
        "o_proj",
        "gate_proj",
        "up_proj",
        "down_proj",
    ]
    assert TokenizerConfig().scheme == "bpe" and TokenizerConfig().vocab_size == 1024  # bench_tokenizer.py
    model = BaseModelConfig()
    assert (model.size, model.path, model.quantization, model.dtype, model.device) == (
        "tiny",
        None,
        "none",
        "auto",
        "auto",
    )


def test_overrides_set_nested_keys_with_yaml_scalars(yaml_file: Path) -> None:
    config = load_config(
        yaml_file,
        [
            "training.lr=1e-3",
            "experts.ascii.rank=4",
            "lora.target_modules=[q_proj, v_proj]",
            "model.device=cpu",
        ],
    )
    assert config.training.lr == pytest.approx(1e-3)
    assert config.lora_for("ascii").r == 4 and config.lora_for("runic").r == 8
    assert config.lora_for("ascii").alpha == 32
    assert config.lora.target_modules == ["q_proj", "v_proj"]
    assert config.model.device == "cpu"


def test_on_off_switches_survive_yaml_booleans(yaml_file: Path) -> None:
    # YAML 1.1 reads a bare `on` / `off` as true / false; the documented words must still work
    config = load_config(yaml_file, ["training.bf16=on", "training.fused_adamw=off"])
    assert (config.training.bf16, config.training.fused_adamw) == ("on", "off")
    assert load_config(yaml_file, ["training.bf16=true"]).training.bf16 == "on"
    with pytest.raises(ConfigError, match=r"training\.bf16"):
        load_config(yaml_file, ["training.bf16=sometimes"])


def test_a_path_base_drops_the_default_size() -> None:
    config = validate_config(
        {"name": "x", "experts": {"a": {}}, "model": {"path": "/models/qwen", "quantization": "4bit"}}
    )
    assert config.model.size is None and config.model.quantization == "4bit"


def test_unknown_key_names_file_path_and_suggestion(yaml_file: Path) -> None:
    message = _error(yaml_file, ("training.lrr=0.1",))
    assert str(yaml_file) in message
    assert "training.lrr: unknown key; did you mean 'lr'?" in message
    assert "from override 'training.lrr=0.1'" in message


def test_unknown_key_inside_an_expert_suggests_the_field(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("name: x\nexperts:\n  ascii: {rnak: 3}\n", encoding="utf-8")
    assert "experts.ascii.rnak: unknown key; did you mean 'rank'?" in _error(path)


def test_bad_type_and_bad_value_name_the_key_and_the_input(yaml_file: Path) -> None:
    message = _error(yaml_file, ("training.lr=fast", "model.size=huge"))
    assert "2 problems" in message
    assert "training.lr:" in message and "'fast'" in message
    assert "model.size:" in message and "'huge'" in message


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        (("model.path=/x", "model.size=tiny"), "not both"),
        (("model.quantization=4bit",), "needs a pretrained 'path' base"),
        (("model.device=gpu",), "device must be"),
        (("experts.Bad-Name.description=x",), "expert name 'Bad-Name'"),
        (("lora.r=0",), "lora.r:"),
        (("model.shape.width=64",), "unknown shape field(s) ['width']"),
        (("model.shape.head_dim=0",), "must be >= 1"),
        (("model.path=/x", "model.size=null", "model.shape.hidden_size=64"), "keeps its own shape"),
        (
            ("model.shape.num_attention_heads=3",),
            "model: shape: num_attention_heads (3) must be a multiple of",
        ),
        (("model.size=small", "model.shape.num_key_value_heads=4"), "multiple of num_key_value_heads (4)"),
    ],
)
def test_semantic_errors(yaml_file: Path, overrides: tuple[str, ...], fragment: str) -> None:
    assert fragment in _error(yaml_file, overrides)


def test_missing_field_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("experts: {a: {}}\n", encoding="utf-8")
    assert "name: Field required" in _error(path)


@pytest.mark.parametrize(
    ("text", "suffix", "fragment"),
    [
        ("name: [unclosed\n", ".yaml", "invalid YAML at line"),
        ("name = \n", ".toml", "invalid TOML"),
        ("- a\n- b\n", ".yaml", "top level must be a mapping"),
    ],
)
def test_unparsable_files(tmp_path: Path, text: str, suffix: str, fragment: str) -> None:
    path = tmp_path / f"c{suffix}"
    path.write_text(text, encoding="utf-8")
    message = _error(path)
    assert fragment in message and str(path) in message


def test_missing_file(tmp_path: Path) -> None:
    assert "cannot read config file" in _error(tmp_path / "nope.yaml")


@pytest.mark.parametrize("text", ["novalue", "=3", "a..b=1", "a.=1"])
def test_malformed_overrides(text: str) -> None:
    with pytest.raises(ConfigError, match="override"):
        parse_override(text)


def test_override_through_a_scalar_is_an_error() -> None:
    with pytest.raises(ConfigError, match="name is a str, not a section"):
        apply_overrides({"name": "x"}, ["name.first=y"])


def test_apply_overrides_does_not_mutate_its_input() -> None:
    data = {"training": {"lr": 1.0}}
    out = apply_overrides(data, ["training.lr=2", "training.seed=7", "x=null"])
    assert data == {"training": {"lr": 1.0}}
    assert out == {"training": {"lr": 2, "seed": 7}, "x": None}


def test_save_config_round_trips_atomically(yaml_file: Path, tmp_path: Path) -> None:
    config = load_config(yaml_file, ["experts.ascii.alpha=64"])
    target = tmp_path / "out" / "system.yaml"
    save_config(config, target)
    assert load_config(target) == config
    assert sorted(p.name for p in target.parent.iterdir()) == ["system.yaml"]  # no temp file left behind
    from helixmoe.atomic import current_umask

    assert target.stat().st_mode & 0o777 == 0o666 & ~current_umask()  # not mkstemp's owner-only 0600
    assert isinstance(load_config(target), SystemConfig)


def test_config_never_imports_torch() -> None:
    code = textwrap.dedent(
        """
        import sys
        import helixmoe.config, helixmoe.models.layout, helixmoe.models.template
        heavy = sorted(m for m in ("torch", "transformers", "peft", "tokenizers") if m in sys.modules)
        assert not heavy, heavy
        """
    )
    subprocess.run([sys.executable, "-c", code], check=True)
