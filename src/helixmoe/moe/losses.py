"""Auxiliary router losses for the mixture of LoRA experts, and their collection across layers.

Owns:

* :func:`load_balancing_loss` — Switch Transformer load-balancing loss (Fedus, Zoph, Shazeer 2021,
  "Switch Transformers", eq. 4): N · Σ_i f_i · P_i, with f_i the fraction of the T·k top-k assignments sent
  to expert i (before capacity drops) and P_i the mean router probability of expert i. It equals 1 at a
  perfectly uniform routing and grows as load concentrates; the caller scales it by a coefficient α
  (default 1e-2, as in the paper).
* :func:`router_z_loss` — ST-MoE router z-loss (Zoph et al. 2022, "ST-MoE", eq. 5): the mean over tokens of
  (log Σ_j exp z_j)², which keeps router logits small and the fp32 softmax stable (default coefficient 1e-3).
* :class:`DomainHead` — an optional linear classifier on per-example pooled router logits (all MoE layers
  concatenated), trained with cross-entropy when examples carry a domain label; it makes routing
  interpretable (which experts a domain uses) and, since its gradient reaches the routers, nudges them to
  separate domains.
* :func:`collect_aux_losses` — gathers the routes the MoE layers recorded during the last forward pass and
  returns the coefficient-weighted total, averaged over layers so the coefficients do not depend on how
  many layers were adapted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from helixmoe.moe.layer import MoELoRALayer
from helixmoe.moe.router import RouterOutput

__all__ = [
    "AuxLosses",
    "DomainHead",
    "collect_aux_losses",
    "load_balancing_loss",
    "moe_routes",
    "pool_router_logits",
    "router_z_loss",
    "token_mask",
]


def token_mask(route: RouterOutput, attention_mask: torch.Tensor | None) -> torch.Tensor | None:
    """Flatten an attention mask (B, S) to the route's (T,) bool token mask; None means all tokens."""
    if attention_mask is None:
        return None
    if tuple(attention_mask.shape) != route.lead_shape:
        raise ValueError(f"attention mask shape {tuple(attention_mask.shape)} != routed {route.lead_shape}")
    return attention_mask.reshape(-1).to(torch.bool)


def load_balancing_loss(
    probs: torch.Tensor, indices: torch.Tensor, mask: torch.Tensor | None = None
) -> torch.Tensor:
    """Switch load-balancing loss N · Σ_i f_i · P_i (unscaled).

    Args:
        probs: (T, N) router probabilities.
        indices: (T, k) chosen experts.
        mask: optional (T,) bool, True for real (non-padding) tokens.

    Returns:
        0-dim tensor; 1.0 for uniform routing, up to N for fully collapsed routing.
    """
    if mask is not None:
        probs, indices = probs[mask], indices[mask]
    n = probs.shape[-1]
    counts = F.one_hot(indices, n).sum(dim=(0, 1)).float()  # (N,)
    f = counts / counts.sum().clamp_min(1.0)  # (N,) share of assignments; no gradient (argmax)
    p = probs.mean(dim=0)  # (N,) mean probability; carries the gradient
    return n * (f * p).sum()


def router_z_loss(logits: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """ST-MoE router z-loss: mean over tokens of logsumexp(logits)² (unscaled).

    Args:
        logits: (T, N) router logits.
        mask: optional (T,) bool, True for real tokens.
    """
    if mask is not None:
        logits = logits[mask]
    return torch.logsumexp(logits, dim=-1).square().mean()


def moe_routes(model: nn.Module) -> list[RouterOutput]:
    """The routes recorded by every :class:`MoELoRALayer` in ``model`` during its last forward pass."""
    return [m.last_route for m in model.modules() if isinstance(m, MoELoRALayer) and m.last_route is not None]


def pool_router_logits(routes: Sequence[RouterOutput], attention_mask: torch.Tensor | None) -> torch.Tensor:
    """Mean router logits per example over its real tokens, concatenated over layers.

    Args:
        routes: L routes, each with ``lead_shape`` (B, S).
        attention_mask: optional (B, S) mask.

    Returns:
        (B, L·N) pooled logits.
    """
    pooled = []
    for route in routes:
        b, s = route.lead_shape
        logits = route.logits.reshape(b, s, -1)  # (B, S, N)
        m = torch.ones(b, s, device=logits.device) if attention_mask is None else attention_mask.float()
        m = m[..., None]  # (B, S, 1)
        pooled.append((logits * m).sum(1) / m.sum(1).clamp_min(1.0))  # (B, N)
    return torch.cat(pooled, dim=-1)  # (B, L*N)


class DomainHead(nn.Module):
    """Linear domain classifier on pooled router logits (see :func:`pool_router_logits`).

    Args:
        in_features: L·N (adapted layers times experts).
        num_domains: number of domain labels.
    """

    def __init__(self, *, in_features: int, num_domains: int) -> None:
        super().__init__()
        self.proj = nn.Linear(in_features, num_domains)

    def forward(self, pooled: torch.Tensor) -> torch.Tensor:
        """Args: pooled: (B, L·N). Returns: (B, num_domains) logits."""
        logits: torch.Tensor = self.proj(pooled)  # (B, D)
        return logits


@dataclass
class AuxLosses:
    """Aux losses of one forward pass: raw values (averaged over layers) and the weighted total."""

    balance: torch.Tensor
    z: torch.Tensor
    total: torch.Tensor
    domain: torch.Tensor | None = None
    domain_accuracy: float | None = None


def collect_aux_losses(
    model: nn.Module,
    *,
    balance_coef: float = 1e-2,
    z_coef: float = 1e-3,
    attention_mask: torch.Tensor | None = None,
    domain_head: DomainHead | None = None,
    domain_labels: torch.Tensor | None = None,
    domain_coef: float = 0.1,
) -> AuxLosses:
    """Aux losses of the MoE layers' last forward pass.

    Args:
        model: a model with injected :class:`MoELoRALayer` modules.
        balance_coef: α of the load-balancing loss.
        z_coef: coefficient of the router z-loss.
        attention_mask: optional (B, S) mask so padding tokens do not count.
        domain_head: optional :class:`DomainHead`; used with ``domain_labels`` (B,) long.
        domain_coef: weight of the domain cross-entropy in ``total``.

    Raises:
        ValueError: if the model has no recorded routes (no MoE layers, or no forward pass yet).
    """
    routes = moe_routes(model)
    if not routes:
        raise ValueError("no MoE routes recorded: inject_moe_lora first and run a forward pass")
    masks = [token_mask(r, attention_mask) for r in routes]
    balance = torch.stack([load_balancing_loss(r.probs, r.indices, m) for r, m in zip(routes, masks)]).mean()
    z = torch.stack([router_z_loss(r.logits, m) for r, m in zip(routes, masks)]).mean()
    total = balance_coef * balance + z_coef * z
    out = AuxLosses(balance=balance, z=z, total=total)
    if domain_head is not None and domain_labels is not None:
        logits = domain_head(pool_router_logits(routes, attention_mask))  # (B, D)
        out.domain = F.cross_entropy(logits, domain_labels)
        out.domain_accuracy = float((logits.argmax(-1) == domain_labels).float().mean())
        out.total = out.total + domain_coef * out.domain
    return out
