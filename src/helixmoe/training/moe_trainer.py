"""Training of the token-level MoE-LoRA on mixed-domain data, on the shared training harness.

Owns :class:`MoETrainer` — ``GenerativeEvalMixin + SafeCheckpointMixin + transformers.Trainer`` (the
harness of :mod:`helixmoe.training`, reused, not copied) whose loss adds the router aux losses (Switch
balancing, ST-MoE z-loss, optional domain head; scaled correctly under gradient accumulation), whose logs
carry the routing metrics of :class:`~helixmoe.moe.metrics.RoutingStats` to every metric sink, and whose
checkpoints hold only the trainable MoE tensors — and :func:`train_moe`, the pipeline behind
``helixmoe train-moe``: the system's corpus → tokenizer → base stages (run by
:func:`helixmoe.training.train_system`, skipped when done), injection, a harnessed run (wall-clock budget,
periodic atomic checkpoints, resume, early stopping, SIGINT/SIGTERM, bf16 + fused AdamW + gradient
checkpointing + accumulation on GPU), then ``<system>/moe/`` and ``reports/moe_report.json``.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch
from transformers import Trainer

from helixmoe.config import SystemConfig
from helixmoe.config.moe import MoEConfig
from helixmoe.moe.inject import moe_state_dict
from helixmoe.moe.losses import DomainHead, collect_aux_losses, moe_routes
from helixmoe.moe.metrics import RoutingStats
from helixmoe.training.checkpoints import SafeCheckpointMixin
from helixmoe.training.harness import GenerativeEvalMixin
from helixmoe.training.moe_data import (
    DomainExample,
    corpus_examples,
    read_domain_jsonl,
)

__all__ = ["DOMAIN_HEAD_ATTR", "MoETrainer", "attach_domain_head", "load_domain_examples"]

logger = logging.getLogger(__name__)

#: The attribute the domain head lives under, so the Trainer optimises and checkpoints it with the model.
DOMAIN_HEAD_ATTR = "moe_domain_head"


def attach_domain_head(
    model: torch.nn.Module, num_layers: int, moe: MoEConfig, domains: list[str]
) -> DomainHead:
    """Create the domain head on pooled router logits and register it on ``model``."""
    device = next(model.parameters()).device
    head = DomainHead(in_features=num_layers * moe.num_experts, num_domains=len(domains)).to(device)
    setattr(model, DOMAIN_HEAD_ATTR, head)
    return head


class MoETrainer(GenerativeEvalMixin, SafeCheckpointMixin, Trainer):
    """HF Trainer for an injected model: LM loss + router aux losses, routing metrics in every log.

    Args:
        moe: the MoE config (loss coefficients, domain head switch).
        generative_evaluator: optional ``model -> metrics`` run at each evaluation (exact match).
        *args, **kwargs: passed to ``transformers.Trainer``.
    """

    def __init__(self, *args: Any, moe: MoEConfig, generative_evaluator: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.moe = moe
        self.generative_evaluator = generative_evaluator
        self.routing_stats = RoutingStats()
        self._domain_hits: list[float] = []

    def compute_loss(
        self, model: Any, inputs: dict[str, Any], return_outputs: bool = False, num_items_in_batch: Any = None
    ) -> Any:
        domains = inputs.pop("domain", None)
        loss, outputs = super().compute_loss(
            model, inputs, return_outputs=True, num_items_in_batch=num_items_in_batch
        )
        if model.training:
            inner = self.accelerator.unwrap_model(model)
            head = getattr(inner, DOMAIN_HEAD_ATTR, None) if self.moe.domain_head else None
            mask = inputs.get("attention_mask")
            aux = collect_aux_losses(
                inner,
                balance_coef=self.moe.balance_coef,
                z_coef=self.moe.z_coef,
                attention_mask=mask,
                domain_head=head,
                domain_labels=domains,
                domain_coef=self.moe.domain_coef,
            )
            self.routing_stats.update(moe_routes(inner), mask)
            if aux.domain_accuracy is not None:
                self._domain_hits.append(aux.domain_accuracy)
            # The LM loss is already normalised over the whole accumulated batch when the model takes
            # num_items_in_batch; the per-micro-batch aux mean must then be divided here (else the Trainer does).
            scaled = self.model_accepts_loss_kwargs and num_items_in_batch is not None
            loss = loss + (aux.total / self.current_gradient_accumulation_steps if scaled else aux.total)
        return (loss, outputs) if return_outputs else loss

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        if "loss" in logs and self.routing_stats.counts is not None:
            logs.update(self.routing_stats.summary())
            if self._domain_hits:
                logs["moe/domain_accuracy"] = sum(self._domain_hits) / len(self._domain_hits)
            self.routing_stats, self._domain_hits = RoutingStats(), []
        super().log(logs, start_time)

    def _trainable_state(self) -> dict[str, torch.Tensor]:
        """Trainable parameters plus the MoE buffers (router centres): all a checkpoint must restore."""
        model = self.accelerator.unwrap_model(self.model)
        names = {n for n, p in model.named_parameters() if p.requires_grad} | set(moe_state_dict(model))
        return {k: v for k, v in model.state_dict().items() if k in names}

    def _save(self, output_dir: str | None = None, state_dict: dict[str, Any] | None = None) -> None:
        # Checkpoints hold the MoE tensors only: the frozen base is in <system>/base already.
        super()._save(output_dir, state_dict if state_dict is not None else self._trainable_state())

    def _issue_warnings_after_load(self, load_result: Any) -> None:
        trainable = set(self._trainable_state())
        missing = [k for k in load_result.missing_keys if k in trainable]
        if missing or load_result.unexpected_keys:
            logger.warning(
                "checkpoint mismatch: missing %s, unexpected %s", missing[:5], load_result.unexpected_keys[:5]
            )


def load_domain_examples(config: SystemConfig, corpus_dir: Path) -> list[DomainExample]:
    """The mixed data: ``moe.data`` (user JSONL) if set, else the system corpus's train split."""
    if config.moe.data is not None:
        return read_domain_jsonl(config.moe.data)
    from helixmoe.tasks import load_corpus

    return corpus_examples(load_corpus(corpus_dir / "train.jsonl"))
