"""Config of the token-level mixture of LoRA experts (pure Python, layer 0).

Owned by the MoE engineer (:mod:`helixmoe.moe`). :class:`MoEConfig` is the ``moe:`` section of
:class:`helixmoe.config.SystemConfig` and the argument of :func:`helixmoe.moe.inject_moe_lora`. Defaults
follow the design: 4 experts, top-2, the MLP projections of the last 4 decoder layers, r=16, alpha=32,
Switch balancing coefficient 1e-2 and ST-MoE z-loss coefficient 1e-3.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from helixmoe.config.base import Section
from helixmoe.config.training import PhaseConfig

__all__ = ["DEFAULT_MOE_TARGETS", "MoEConfig", "default_moe_phase"]

#: The MLP projections of Qwen/Llama-style decoder layers.
DEFAULT_MOE_TARGETS: tuple[str, ...] = ("gate_proj", "up_proj", "down_proj")


def default_moe_phase() -> PhaseConfig:
    """Optimisation defaults of ``helixmoe train-moe`` (response-only loss on the mixed corpus)."""
    return PhaseConfig(max_steps=300, lr=1e-3, batch_size=16, eval_steps=50, patience=3, eval_samples=64)


class MoEConfig(Section):
    """Top-k routed LoRA experts inside the MLPs (``moe:`` section)."""

    num_experts: int = Field(default=4, ge=2, le=256)
    """Number of LoRA experts per adapted projection."""
    top_k: int = Field(default=2, ge=1)
    """Experts each token is routed to."""
    layers: int | list[int] = 4
    """An int L adapts the last L decoder layers; a list gives explicit layer indices (negative allowed)."""
    targets: list[str] = Field(default_factory=lambda: list(DEFAULT_MOE_TARGETS), min_length=1)
    """Names of the linear layers inside each decoder layer's ``mlp`` that get an expert bank."""
    r: int = Field(default=16, ge=1, le=1024)
    """LoRA rank of every expert."""
    alpha: float = Field(default=32.0, gt=0.0)
    """LoRA alpha; the expert update is scaled by alpha / r."""
    jitter: float = Field(default=0.0, ge=0.0, lt=1.0)
    """Multiplicative router-input noise ε during training (Switch Transformer); 0 disables."""
    capacity_factor: float | None = Field(default=None, gt=0.0)
    """Expert capacity = ceil(cf · tokens · top_k / num_experts); overflow assignments are dropped. None = no limit."""
    balance_coef: float = Field(default=1e-2, ge=0.0)
    """Coefficient α of the Switch load-balancing loss α · N · Σ f_i P_i."""
    z_coef: float = Field(default=1e-3, ge=0.0)
    """Coefficient of the ST-MoE router z-loss."""
    domain_head: bool = False
    """Train a domain classifier on pooled router logits when examples carry a ``domain`` label."""
    domain_coef: float = Field(default=0.1, ge=0.0)
    """Weight of the domain cross-entropy in the training loss (only with ``domain_head``)."""
    impl: Literal["dense", "sorted", "loop"] = "dense"
    """Routed-update kernel: ``dense`` (combine-weight matmuls, fastest for few experts), ``sorted`` (tokens
    sorted by expert + bmm, for many experts) or the ``loop`` reference; all compute the same values."""

    train: PhaseConfig = Field(default_factory=default_moe_phase)
    """Optimisation of ``helixmoe train-moe`` (steps, lr, batch, eval interval, patience, exact-match sample)."""
    data: str | None = None
    """A JSONL file of ``{"prompt", "response", "domain"}`` lines to train on instead of the system corpus."""
    eval_fraction: float = Field(default=0.1, gt=0.0, lt=1.0)
    """Share of the mixed data held out for evaluation (stratified by domain)."""
    select_by: Literal["exact_match", "eval_loss"] = "exact_match"
    """Metric for early stopping and best-at-end; exact match is logged at every evaluation either way
    (``eval_loss`` suits a base too small to answer exactly yet, whose exact match sits at 0)."""
    eval_per_domain: int = Field(default=50, ge=0)
    """Held-out examples per domain graded by exact match in the final report (0 = skip)."""

    @model_validator(mode="after")
    def _check(self) -> MoEConfig:
        if self.top_k > self.num_experts:
            raise ValueError(f"top_k ({self.top_k}) must not exceed num_experts ({self.num_experts})")
        if isinstance(self.layers, int) and self.layers < 1:
            raise ValueError(f"layers must be >= 1 (the last L decoder layers), got {self.layers}")
        if isinstance(self.layers, list) and not self.layers:
            raise ValueError("layers must name at least one decoder layer")
        return self
