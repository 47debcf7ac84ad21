"""Token-level mixture of LoRA experts (MoE-LoRA) inside an HF causal LM.

A router inside each adapted MLP projection sends every token to its top-k of N LoRA experts; the layer
returns ``base(x) + Σ_topk w_i · (α/r) B_i A_i x``. Trained with a Switch Transformer load-balancing loss
(Fedus et al. 2021) and an ST-MoE router z-loss (Zoph et al. 2022), with an optional domain classifier on
pooled router logits, and monitored by expert-usage, routing-entropy and dropped-token metrics.

This package is hand-written on purpose: no maintained library offers a trainable top-k mixture of LoRA
experts for Hugging Face models (PEFT's X-LoRA mixes all experts densely and is several times slower than
plain LoRA; PEFT's other tuners hold one adapter per layer at a time). Everything else — the training loop,
checkpoints, optimiser — comes from HF ``Trainer`` through :mod:`helixmoe.training`.

Public names:
    :class:`TopKRouter`, :class:`RouterOutput` — routing; :class:`LoRAExpertBank` — the experts;
    :class:`MoELoRALayer` (+ :func:`moe_delta_loop` reference, :func:`moe_delta_batched` sorted/bmm and
    :func:`moe_delta_dense` fast paths, registry :data:`IMPLEMENTATIONS`);
    :func:`inject_moe_lora`, :func:`save_moe`, :func:`load_moe`, :func:`moe_layers`,
    :func:`moe_parameters`, :func:`calibrate_routers`; :func:`load_balancing_loss`, :func:`router_z_loss`, :func:`collect_aux_losses`,
    :class:`DomainHead`; :class:`RoutingStats`, :func:`routing_metrics`; :class:`MoEConfig`.
"""

from helixmoe.config.moe import MoEConfig
from helixmoe.moe.calibrate import calibrate_routers
from helixmoe.moe.experts import LoRAExpertBank
from helixmoe.moe.inject import (
    decoder_layers,
    inject_moe_lora,
    load_moe,
    moe_layers,
    moe_parameters,
    moe_state_dict,
    read_moe_config,
    save_moe,
)
from helixmoe.moe.layer import (
    IMPLEMENTATIONS,
    MoELoRALayer,
    moe_delta_batched,
    moe_delta_dense,
    moe_delta_loop,
)
from helixmoe.moe.losses import (
    AuxLosses,
    DomainHead,
    collect_aux_losses,
    load_balancing_loss,
    moe_routes,
    pool_router_logits,
    router_z_loss,
)
from helixmoe.moe.metrics import RoutingStats, routing_metrics
from helixmoe.moe.router import RouterOutput, TopKRouter

__all__ = [
    "IMPLEMENTATIONS",
    "AuxLosses",
    "DomainHead",
    "LoRAExpertBank",
    "MoEConfig",
    "MoELoRALayer",
    "RouterOutput",
    "RoutingStats",
    "TopKRouter",
    "calibrate_routers",
    "collect_aux_losses",
    "decoder_layers",
    "inject_moe_lora",
    "load_balancing_loss",
    "load_moe",
    "moe_delta_batched",
    "moe_delta_dense",
    "moe_delta_loop",
    "moe_layers",
    "moe_parameters",
    "moe_routes",
    "moe_state_dict",
    "pool_router_logits",
    "read_moe_config",
    "router_z_loss",
    "routing_metrics",
    "save_moe",
]
