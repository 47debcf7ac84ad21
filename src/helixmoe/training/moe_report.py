"""Held-out report of a trained MoE-LoRA model: exact match and routing, per domain.

Owns :func:`moe_report`: for each domain of the eval split, greedy exact match (graded by the task
families' oracle when the example came from the corpus, else by string equality) and the routing metrics of
:class:`~helixmoe.moe.metrics.RoutingStats` (expert usage, routing and token entropy), plus the same
routing metrics over all domains together — the figures that show whether experts specialise by domain
while the load stays balanced.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from helixmoe.moe.losses import moe_routes
from helixmoe.moe.metrics import RoutingStats
from helixmoe.training.moe_data import DomainDataset, DomainExample, domain_collator

__all__ = ["exact_match", "interleave_domains", "moe_report", "routing_stats"]


def interleave_domains(examples: Sequence[DomainExample]) -> list[DomainExample]:
    """Round-robin over domains, so any prefix is balanced across domains."""
    by_domain: dict[str, list[DomainExample]] = {}
    for ex in examples:
        by_domain.setdefault(ex.domain, []).append(ex)
    queues = [by_domain[d] for d in sorted(by_domain)]
    out: list[DomainExample] = []
    for i in range(max((len(q) for q in queues), default=0)):
        out += [q[i] for q in queues if i < len(q)]
    return out


def grade_example(example: DomainExample, prediction: str) -> bool:
    """Exact under the oracle for corpus examples, exact string match otherwise."""
    if example.source is not None:
        from helixmoe.tasks import grade

        return bool(grade(example.source, prediction).exact)
    return prediction.strip() == example.response.strip()


@torch.no_grad()
def routing_stats(
    model: Any, dataset: DomainDataset, tokenizer: Any, *, batch_size: int = 16
) -> RoutingStats:
    """Routing statistics of ``model`` over ``dataset`` (teacher-forced forward passes, padding masked)."""
    collate = domain_collator(tokenizer)
    stats = RoutingStats()
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    for start in range(0, len(dataset), batch_size):
        batch = collate([dataset[i] for i in range(start, min(start + batch_size, len(dataset)))])
        ids, mask = batch["input_ids"].to(device), batch["attention_mask"].to(device)
        model(input_ids=ids, attention_mask=mask)
        stats.update(moe_routes(model), mask)
    model.train(was_training)
    return stats


def exact_match(
    model: Any,
    tokenizer: Any,
    examples: Sequence[DomainExample],
    *,
    batch_size: int = 16,
    max_new_tokens: int | None = None,
) -> float:
    """Fraction of ``examples`` answered exactly by greedy decoding."""
    from helixmoe.models.template import render_prompt
    from helixmoe.training.exact_match import generate_batch

    if not examples:
        return float("nan")
    if max_new_tokens is None:
        max_new_tokens = (
            max(len(tokenizer(e.response, add_special_tokens=False)["input_ids"]) for e in examples) + 8
        )
    hits = 0
    was_training = model.training
    model.eval()
    for start in range(0, len(examples), batch_size):
        chunk = examples[start : start + batch_size]
        preds = generate_batch(
            model, tokenizer, [render_prompt(e.prompt) for e in chunk], max_new_tokens=max_new_tokens
        )
        hits += sum(grade_example(e, p) for e, p in zip(chunk, preds))
    model.train(was_training)
    return hits / len(examples)


def moe_report(
    model: Any,
    tokenizer: Any,
    eval_examples: Sequence[DomainExample],
    domains: Sequence[str],
    *,
    max_len: int,
    per_domain: int,
    batch_size: int = 16,
) -> dict[str, Any]:
    """Per-domain exact match (up to ``per_domain`` examples) and routing metrics, plus overall routing."""
    report: dict[str, Any] = {"domains": {}}
    for domain in domains:
        items = [e for e in eval_examples if e.domain == domain]
        if not items:
            continue
        ds = DomainDataset(tokenizer, items, domains, max_len=max_len)
        entry: dict[str, Any] = {
            "examples": len(items),
            "routing": routing_stats(model, ds, tokenizer, batch_size=batch_size).summary(),
        }
        if per_domain:
            entry["exact_match"] = exact_match(model, tokenizer, items[:per_domain], batch_size=batch_size)
            entry["graded"] = min(per_domain, len(items))
        report["domains"][domain] = entry
    all_ds = DomainDataset(tokenizer, eval_examples, domains, max_len=max_len)
    report["routing"] = routing_stats(model, all_ds, tokenizer, batch_size=batch_size).summary()
    return report
