"""Typed configuration of Helix MoE: pydantic models loaded from YAML/TOML with dotted overrides.

Pure Python (layer 0): never imports torch. Public API::

    load_config(path, overrides=(), schema=SystemConfig)   validate_config(data, schema, source, overrides)
    apply_overrides(data, overrides)   parse_override(text)   read_mapping(path)   save_config(model, path)
    SystemConfig  ExpertConfig  BaseModelConfig  TokenizerConfig  LoRAConfig
    TrainingConfig  RoutingConfig  EvaluationConfig  ServingConfig  MoEConfig  Section

Section owners: ``model.py``/``system.py``/``loader.py`` (models engineer), ``training.py`` (training
harness), ``routing.py`` (routing), ``evaluation.py`` (evaluation), ``moe.py`` (token-level MoE).
"""

from helixmoe.config.base import Section
from helixmoe.config.evaluation import EvaluationConfig
from helixmoe.config.loader import (
    apply_overrides,
    load_config,
    parse_override,
    read_mapping,
    save_config,
    validate_config,
)
from helixmoe.config.model import (
    BASE_SIZE_NAMES,
    DEFAULT_TARGET_MODULES,
    BaseModelConfig,
    LoRAConfig,
    TokenizerConfig,
)
from helixmoe.config.moe import MoEConfig
from helixmoe.config.routing import RoutingConfig
from helixmoe.config.serving import ServingConfig
from helixmoe.config.system import EXPERT_NAME_RE, ExpertConfig, SystemConfig
from helixmoe.config.training import TrainingConfig

__all__ = [
    "BASE_SIZE_NAMES",
    "DEFAULT_TARGET_MODULES",
    "EXPERT_NAME_RE",
    "BaseModelConfig",
    "EvaluationConfig",
    "ExpertConfig",
    "LoRAConfig",
    "MoEConfig",
    "RoutingConfig",
    "Section",
    "ServingConfig",
    "SystemConfig",
    "TokenizerConfig",
    "TrainingConfig",
    "apply_overrides",
    "load_config",
    "parse_override",
    "read_mapping",
    "save_config",
    "validate_config",
]
