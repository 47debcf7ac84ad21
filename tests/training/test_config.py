"""The ``training:`` config section: durations, validation, and the shipped tiny config."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from helixmoe.config import load_config
from helixmoe.config.training import TrainingConfig, parse_duration

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("text", "seconds"),
    [(90, 90.0), ("90s", 90.0), ("15m", 900.0), ("1h30m", 5400.0), ("1.5h", 5400.0), ("45", 45.0)],
)
def test_durations_parse(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("bad", ["soon", "-5", "0", "m", True])
def test_bad_durations_are_rejected(bad):
    with pytest.raises(ValueError):
        parse_duration(bad)


def test_unknown_keys_and_sinks_are_errors():
    with pytest.raises(ValidationError):
        TrainingConfig.model_validate({"bsae": {}})
    with pytest.raises(ValidationError):
        TrainingConfig(report_to=["tensorbored"])
    assert TrainingConfig(time_budget="none").time_budget is None


def test_the_tiny_config_loads_with_training_overrides():
    cfg = load_config(
        REPO / "configs" / "hlx-tiny.yaml", ["training.time_budget=90s", "training.experts.lr=1e-3"]
    )
    assert cfg.training.time_budget == 90.0 and cfg.training.experts.lr == 1e-3
    assert cfg.training.base.max_steps > 0 and cfg.lora.r == 16 and cfg.lora.alpha == 32


def test_a_missing_metric_sink_is_a_config_error(tmp_path):
    from transformers.integrations import is_tensorboard_available

    from helixmoe.config.training import PhaseConfig
    from helixmoe.errors import ConfigError
    from helixmoe.training.arguments import build_training_arguments

    training = TrainingConfig(report_to=["tensorboard"])
    if is_tensorboard_available():
        args = build_training_arguments(training, PhaseConfig(), tmp_path, has_eval=False, exact_match=False)
        assert "tensorboard" in args.report_to
    else:
        with pytest.raises(ConfigError, match="tensorboard"):
            build_training_arguments(training, PhaseConfig(), tmp_path, has_eval=False, exact_match=False)


def test_a_phase_may_override_length_grouped_batches(tmp_path):
    from helixmoe.config.training import PhaseConfig
    from helixmoe.training.arguments import build_training_arguments

    def sampling(training, phase):
        args = build_training_arguments(training, phase, tmp_path, has_eval=False, exact_match=False)
        return args.train_sampling_strategy

    assert sampling(TrainingConfig(), PhaseConfig()) == "group_by_length"
    assert sampling(TrainingConfig(group_by_length=False), PhaseConfig()) == "random"
    assert sampling(TrainingConfig(), PhaseConfig(group_by_length=False)) == "random"
    assert (
        sampling(TrainingConfig(group_by_length=False), PhaseConfig(group_by_length=True))
        == "group_by_length"
    )


def test_fused_adamw_is_the_default_on_any_device(tmp_path):
    from helixmoe.config.training import PhaseConfig
    from helixmoe.training.arguments import build_training_arguments

    def optim(training):
        args = build_training_arguments(training, PhaseConfig(), tmp_path, has_eval=False, exact_match=False)
        return args.optim.value if hasattr(args.optim, "value") else args.optim

    assert optim(TrainingConfig()) == "adamw_torch_fused"  # CPU here: torch's fused kernel runs on it
    assert optim(TrainingConfig(fused_adamw="off")) == "adamw_torch"


def test_copy_warmup_lengths_are_checked():
    assert TrainingConfig().copy_warmup.steps == 0  # off unless a config turns it on
    with pytest.raises(ValidationError, match="min_tokens must be <= max_tokens"):
        TrainingConfig.model_validate({"copy_warmup": {"min_tokens": 9, "max_tokens": 3}})
    assert TrainingConfig().copy_warmup.mix_share == 0.0  # no copy strings in the base phase unless asked
    with pytest.raises(ValidationError, match="min_tokens must be <= mix_max_tokens"):
        TrainingConfig.model_validate({"copy_warmup": {"min_tokens": 9, "mix_max_tokens": 3}})
    with pytest.raises(ValidationError, match="mix_share"):
        TrainingConfig.model_validate({"copy_warmup": {"mix_share": 1.0}})
