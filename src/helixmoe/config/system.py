"""The whole-system config: what ``system.yaml`` holds (pure Python, layer 0).

A system is one base model, one tokenizer, named experts (LoRA adapters with a description and the task
families they are trained on) and the sections of the training, routing, evaluation, serving and MoE engineers.
Example::

    name: hlx-tiny
    domain: hlx
    experts:
      ascii: {description: "HLXL <-> LC-T and LC-B", families: [hlxl_to_lct]}
      runic: {description: "HLXL <-> LC-R", families: [hlxl_to_lcr], rank: 8}
    model: {size: tiny}
"""

from __future__ import annotations

import re

from pydantic import Field, field_validator

from helixmoe.config.base import Section
from helixmoe.config.evaluation import EvaluationConfig
from helixmoe.config.model import BaseModelConfig, LoRAConfig, TokenizerConfig
from helixmoe.config.moe import MoEConfig
from helixmoe.config.routing import RoutingConfig
from helixmoe.config.serving import ServingConfig
from helixmoe.config.training import TrainingConfig

__all__ = ["EXPERT_NAME_RE", "ExpertConfig", "SystemConfig"]

#: Expert names are lowercase identifiers (they become directory names and PEFT adapter names).
EXPERT_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


class ExpertConfig(Section):
    """One expert: what it is for, what it is trained on, and optional per-expert LoRA overrides."""

    description: str = ""
    """One line shown to users and to the coordinator router."""
    families: list[str] = Field(default_factory=list)
    """Names of the task families (``helixmoe.tasks`` registry) whose examples train this expert."""
    rank: int | None = Field(default=None, ge=1, le=1024)
    """Overrides ``lora.r`` for this expert."""
    alpha: int | None = Field(default=None, ge=1)
    """Overrides ``lora.alpha`` for this expert."""
    train_weight: float = Field(default=1.0, gt=0.0, le=100.0)
    """Multiplies ``training.corpus.train_per_expert`` for this expert's training split: its share of the
    base's mixed corpus and the size of its own LoRA training set (validation, test and ood keep their sizes,
    so reports stay comparable). For an expert whose tasks are harder or more varied than the others'."""


class SystemConfig(Section):
    """Everything needed to build, train, load and serve one system (the ``system.yaml`` schema)."""

    name: str = Field(min_length=1)
    """Human-readable system name."""
    domain: str = "hlx"
    """The domain the experts cover (``hlx``, ``math``, ...)."""
    experts: dict[str, ExpertConfig] = Field(min_length=1)
    """Expert name -> expert; order is kept and is the order of every per-expert report."""
    model: BaseModelConfig = Field(default_factory=BaseModelConfig)
    tokenizer: TokenizerConfig = Field(default_factory=TokenizerConfig)
    lora: LoRAConfig = Field(default_factory=LoRAConfig)
    """Default LoRA settings of every expert (per-expert ``rank``/``alpha`` override them)."""
    training: TrainingConfig = Field(default_factory=TrainingConfig)
    routing: RoutingConfig = Field(default_factory=RoutingConfig)
    evaluation: EvaluationConfig = Field(default_factory=EvaluationConfig)
    serving: ServingConfig = Field(default_factory=ServingConfig)
    moe: MoEConfig = Field(default_factory=MoEConfig)

    @field_validator("name")
    @classmethod
    def _check_name(cls, name: str) -> str:
        # the default output directory is systems/<name>: a name must not lead anywhere else
        if "/" in name or "\\" in name or name.strip() in (".", "..") or name != name.strip():
            raise ValueError(
                f"system name {name!r} must not contain '/' or '\\', be '.' or '..', or start or end with a space"
            )
        return name

    @field_validator("experts")
    @classmethod
    def _check_expert_names(cls, experts: dict[str, ExpertConfig]) -> dict[str, ExpertConfig]:
        for name in experts:
            if not EXPERT_NAME_RE.match(name):
                raise ValueError(
                    f"expert name {name!r} must match {EXPERT_NAME_RE.pattern} "
                    "(lowercase letters, digits, underscores)"
                )
        return experts

    @property
    def builds_base(self) -> bool:
        """Whether training writes the system's own ``base/``: from scratch, or a ``model.path`` base trained
        further (``model.continue_pretraining``); otherwise the base at ``model.path`` is used as is."""
        return self.model.path is None or self.model.continue_pretraining

    @property
    def builds_tokenizer(self) -> bool:
        """Whether training writes the system's own ``tokenizer/``: trained on the corpus, or copied beside a
        base it trains further; otherwise the tokenizer of ``tokenizer.path`` / ``model.path`` is read."""
        return self.model.continue_pretraining or (self.tokenizer.path is None and self.model.path is None)

    def train_examples(self, expert: str) -> int:
        """How many training examples the ``corpus`` stage generates for ``expert`` (its ``train_weight``
        times ``training.corpus.train_per_expert``, at least one).

        Raises:
            KeyError: ``expert`` is not in :attr:`experts`.
        """
        weight = self.experts[expert].train_weight
        return max(1, round(self.training.corpus.train_per_expert * weight))

    def lora_for(self, expert: str) -> LoRAConfig:
        """The LoRA config of one expert: the system default with its ``rank``/``alpha`` overrides.

        Raises:
            KeyError: ``expert`` is not in :attr:`experts`.
        """
        spec = self.experts[expert]
        update: dict[str, int] = {}
        if spec.rank is not None:
            update["r"] = spec.rank
        if spec.alpha is not None:
            update["alpha"] = spec.alpha
        return self.lora.model_copy(update=update, deep=True)
