"""Refuse a training run that would leave a system directory saying one thing and holding another.

``helixmoe train -o DIR`` on an existing system rewrites ``DIR/system.yaml`` with the run's config. When that
config changes what the saved weights were built with (the tokenizer, the base's size or shape, the LoRA
rank, an expert's families) and the run does not retrain the stages those weights come from, the directory
would claim a config its weights do not have; and a stage rerun over trained downstream weights (a new
tokenizer under a trained base) silently breaks them. Both are refused here, before anything is written,
with the stages to add or the advice to write a new directory.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise
from typing import Any

from helixmoe.config import SystemConfig, load_config
from helixmoe.errors import ConfigError
from helixmoe.models.layout import ADAPTER_WEIGHTS
from helixmoe.training.context import StageContext

__all__ = ["check_rewrite"]

#: The config fields each trained artifact is built from (fields that only steer training or serving, such
#: as dropout, dtype or device, may change freely).
_TOKENIZER_FIELDS = ("scheme", "vocab_size", "min_frequency", "path")
_BASE_FIELDS = ("size", "shape", "path", "continue_pretraining", "grow_layers")
_LORA_FIELDS = ("r", "alpha", "target_modules")
_EXPERT_FIELDS = ("families", "rank", "alpha")
#: Each stage's output is what the next one is trained on.
_CHAIN = ("tokenizer", "base", "experts")


def _changes(old: Any, new: Any, fields: Sequence[str], prefix: str) -> list[str]:
    return [
        f"{prefix}.{name}: {getattr(old, name)!r} -> {getattr(new, name)!r}"
        for name in fields
        if getattr(old, name) != getattr(new, name)
    ]


def _trained(ctx: StageContext) -> tuple[set[str], list[str]]:
    """The stages whose trained artifact ``ctx``'s directory holds (``tokenizer``, ``base``, ``experts``) and
    the names of its trained experts."""
    layout = ctx.layout
    experts = (
        sorted(p.parent.name for p in layout.experts_dir.glob(f"*/{ADAPTER_WEIGHTS}"))
        if layout.experts_dir.is_dir()
        else []
    )
    held = {"experts"} if experts else set()
    if (layout.tokenizer_dir / "tokenizer.json").is_file():
        held.add("tokenizer")
    if (layout.base_dir / "config.json").is_file():
        held.add("base")
    return held, experts


def _rebuilds(ctx: StageContext, wanted: Sequence[str], stage: str, expert: str | None = None) -> bool:
    """Whether this run writes ``stage``'s artifact anew (not skipped as done by ``--resume``, not taken
    from a ``path``)."""
    cfg = ctx.config
    if stage not in wanted:
        return False
    if stage == "tokenizer":
        return cfg.builds_tokenizer and not ctx.is_done("tokenizer")
    if stage == "base":
        return cfg.builds_base and not ctx.is_done("base")
    return (ctx.experts is None or expert in ctx.experts) and not ctx.is_done(f"experts/{expert}")


def check_rewrite(ctx: StageContext, wanted: Sequence[str]) -> None:
    """Refuse the run when it would record a config over weights built with another, or retrain a stage
    under trained weights that depend on it (see the module docstring). Nothing happens for a directory
    without trained weights.

    Raises:
        ConfigError: what changed, which saved weights it concerns, and how to proceed.
    """
    held, trained_experts = _trained(ctx)
    if not held:
        return
    root, new = ctx.layout.root, ctx.config
    old: SystemConfig | None = None
    if ctx.layout.system_file.is_file():
        try:
            old = load_config(ctx.layout.system_file)
        except ConfigError as err:
            raise ConfigError(
                f"{root} holds trained weights but its system.yaml cannot be read ({err}); fix or remove it, "
                "or train into a new directory (-o NEW_DIR)"
            ) from None
    # why each saved artifact no longer fits: its own fields changed, or what it was trained on changes
    why: dict[str, list[str]] = {"tokenizer": [], "base": [], "experts": []}
    if old is not None:
        why["tokenizer"] = _changes(old.tokenizer, new.tokenizer, _TOKENIZER_FIELDS, "tokenizer")
        why["base"] = _changes(old.model, new.model, _BASE_FIELDS, "model")
        why["experts"] = _changes(old.lora, new.lora, _LORA_FIELDS, "lora")
    for upstream, downstream in pairwise(_CHAIN):
        rebuilt = upstream in held and _rebuilds(ctx, wanted, upstream)
        cause = why[upstream] or ([f"the {upstream} stage retrains the saved {upstream}"] if rebuilt else [])
        why[downstream] += [c for c in cause if c not in why[downstream]]
    stale: list[str] = []
    for stage in ("tokenizer", "base"):
        if stage in held and why[stage] and not _rebuilds(ctx, wanted, stage):
            stale.append(f"{stage}: {'; '.join(why[stage])}")
    for name in trained_experts:
        reasons = list(why["experts"])
        if old is not None and name in old.experts and name in new.experts:
            reasons += _changes(old.experts[name], new.experts[name], _EXPERT_FIELDS, f"experts.{name}")
        if reasons and not _rebuilds(ctx, wanted, "experts", name):
            stale.append(f"expert {name}: {'; '.join(reasons)}")
    if stale:
        raise ConfigError(
            f"{root} holds trained weights that this run would leave in place although they no longer fit "
            "its config:\n  " + "\n  ".join(stale) + "\nretrain them too (add their --stage, for every "
            "expert, without --resume) or train into a new directory (-o NEW_DIR)"
        )
