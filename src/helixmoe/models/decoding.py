"""Greedy decoding that drops each row from the batch as soon as it is finished (EOS or its own token cap).

Owns :func:`greedy_decode`, the generation loop behind :meth:`ExpertPool.generate_ids
<helixmoe.models.experts.ExpertPool.generate_ids>`. Contract: every row gets exactly the tokens HF
``model.generate(do_sample=False, max_new_tokens=<its cap>)`` gives that row alone, EOS cut off
(``tests/models/test_decoding.py`` checks it token for token on mixed-expert rows of different lengths).
The contract is exact in float32 (the CPU default). In bfloat16 (the CUDA default) a row's logits depend on
the batch's shape and padding by a rounding step, in HF ``generate`` as here, so a near-tie can break
differently in a batch than alone (a CPU bf16 check: 2 of 12 random-weight rows; 0 of 32 answers of the
built-in system).

Why a hand-written loop (measured with ``benchmarks/bench_system.py`` and ``cProfile`` on the tiny CPU system,
transformers 5.23, PEFT 0.21):

* HF ``generate`` keeps every row in the forward pass until the slowest row stops (finished rows are fed
  padding) and takes one ``max_new_tokens`` for the whole batch, so a batch costs its worst row times the
  batch: 16 mixed requests gave 0.92-1.2x the throughput of 16 single queries (``bench_system.py``,
  ``/tmp/bench4`` tiny system, 1 thread); with this loop, 1.95-2.06x. The bound for those requests is
  3.26x (834 decoding steps in all, 256 in the longest row; a tiny CPU model costs about the same per step
  whatever the batch, and PEFT's mixed-adapter forward adds ~0.85 ms a step per extra adapter in the batch).
* transformers' continuous batching (``model.generate_batch``) does run on CPU, but it packs all requests
  into one sequence, so PEFT's per-row ``adapter_names`` cannot apply: it silently answered every row with
  the active adapter. It accepts no custom ``LogitsProcessor`` (grammar-constrained decoding) and spent about
  5 s starting its manager for a 16-token job.

* Rows of different experts get their adapters through :mod:`helixmoe.models.row_adapters` (stacked LoRA
  matmuls instead of PEFT's per-layer Python loop): the then built-in system's 16-row batch went from
  0.54-0.56 s to 0.48-0.49 s (``bench_system.py --threads 1``); single queries take the same path.

* Two step costs that grow with the batch are cut here (session 13, ``bench_system.py``, built-in system: 16-row
  batches 2.67x -> 2.92x the throughput of sequential queries over four batches): the cache layers grow in place
  (:class:`~helixmoe.models.kv_cache.GrowingLayer`; ``DynamicLayer`` copies the whole cache at every step) and a padded batch's decoding
  steps hand the attention a ready padding mask instead of transformers rebuilding it from the 2D mask at every
  step (``_attention_mask``; SDPA and eager attention of models that build masks with ``create_causal_mask``).

Everything else stays library code: the model's own forward (positions, causal masks, SDPA), transformers'
``DynamicCache`` (``batch_select_indices`` drops finished rows), PEFT's LoRA layers and, as the fallback, its
mixed-adapter forward (the ``adapter_names`` pre-forward hooks ``PeftModel.generate`` installs, here installed
once per set of live rows rather than per step) and HF ``LogitsProcessor`` objects. A processor keeps
per-row state and sees the whole batch as ``generate`` would: finished rows are fed EOS, live rows their
tokens, so grammar processors need no change.
"""

from __future__ import annotations

import contextlib
import inspect
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from transformers import DynamicCache

from helixmoe.errors import ConfigError
from helixmoe.models.kv_cache import new_cache, sliceable
from helixmoe.models.row_adapters import StackedLoRA, row_adapters
from helixmoe.models.steering import NextTokens, Observer, Processor, Remapped, Steering

__all__ = ["greedy_decode"]

#: Cost of one forward call in prompt tokens, for grouping prompts by length (see ``_groups``).
_FORWARD_COST = 64


def greedy_decode(
    model: torch.nn.Module,
    prompt_ids: Sequence[Sequence[int]],
    max_new_tokens: Sequence[int],
    *,
    eos_token_id: int,
    pad_token_id: int,
    adapter_names: Sequence[str] | None = None,
    logits_processor: Processor | None = None,
    batch_size: int | None = None,
    first_positions: Sequence[int] | None = None,
    forced: Sequence[Sequence[int]] | None = None,
    observe: Observer | None = None,
) -> list[list[int]]:
    """Greedy new tokens per row, without the EOS; rows leave the batch when finished.

    Without a processor, rows are sorted by prompt length before they are cut into micro-batches of
    ``batch_size`` (less padding); with one, rows keep their order, since a processor's rows are positional.
    Within a micro-batch the prompts are read in groups of similar length and the caches joined.

    Args:
        model: A causal LM, or a PEFT model wrapping one; in eval mode.
        prompt_ids: Token ids per row, (B, T_i), each non-empty.
        max_new_tokens: Token cap per row, (B,); 0 gives an empty answer.
        eos_token_id: Stops a row (not returned).
        pad_token_id: Left padding of shorter prompts.
        adapter_names: PEFT adapter per row, (B,) (``"__base__"``: no adapter); needs a PEFT model.
        logits_processor: Called as ``processor(input_ids (B, T), scores (B, V)) -> scores`` each step.
        batch_size: Rows per micro-batch (default: all).
        first_positions: Position id of each row's first new token, (B,) (default: its prompt length, as
            ``generate``); the aligned answers of :func:`helixmoe.models.template.encode_request`.
        forced: Per row, tokens emitted first in place of the greedy ones, (B, F_i): the row continues greedily
            after them (an EOS among them ends it). The processor sees them as generated tokens, so a grammar
            follows them (they must be tokens it allows).
        observe: Called at every step as ``observe(rows, scores)``: the rows still generating (indices into
            ``prompt_ids``) and their next-token scores, (b, V), after the processor, before any forced token
            replaces the greedy one. An observer with an integer ``top`` attribute reads only each row's
            ``top`` best scores: a grammar processor then keeps just those (``best_allowed``), far cheaper
            than its full masks.

    Returns:
        New token ids per row, in the order of ``prompt_ids``, (B, <= cap).

    Raises:
        ConfigError: lengths differ, an empty prompt or a negative cap.
    """
    _check(prompt_ids, max_new_tokens, adapter_names)
    if forced is not None and len(forced) != len(prompt_ids):
        raise ConfigError(f"{len(prompt_ids)} prompts but {len(forced)} forced prefixes")
    starts = [len(r) for r in prompt_ids] if first_positions is None else list(first_positions)
    if len(starts) != len(prompt_ids):
        raise ConfigError(f"{len(prompt_ids)} prompts but {len(starts)} first positions")
    todo = [i for i in range(len(prompt_ids)) if max_new_tokens[i] > 0]
    if logits_processor is None:
        todo.sort(key=lambda i: len(prompt_ids[i]))
    step = batch_size or max(1, len(todo))
    out: list[list[int]] = [[] for _ in prompt_ids]
    for start in range(0, len(todo), step):
        part = todo[start : start + step]
        rows = _decode_batch(
            model,
            [prompt_ids[i] for i in part],
            [max_new_tokens[i] for i in part],
            None if adapter_names is None else [adapter_names[i] for i in part],
            logits_processor,
            (eos_token_id, pad_token_id),
            [starts[i] for i in part],
            Steering(
                None if forced is None else [list(forced[i]) for i in part],
                None if observe is None else Remapped(observe, part),
            ),
        )
        for i, row in zip(part, rows):
            out[i] = row
    return out


def _check(prompt_ids: Sequence[Sequence[int]], caps: Sequence[int], names: Sequence[str] | None) -> None:
    if len(caps) != len(prompt_ids) or (names is not None and len(names) != len(prompt_ids)):
        raise ConfigError(
            f"{len(prompt_ids)} prompts but {len(caps)} token caps"
            + ("" if names is None else f" and {len(names)} adapter names")
        )
    if any(len(r) == 0 for r in prompt_ids):
        raise ConfigError("cannot decode from an empty prompt")
    if any(c < 0 for c in caps):
        raise ConfigError(f"max_new_tokens must be >= 0, got {min(caps)}")


@dataclass
class _Live:
    """The rows still generating. ``index`` maps a live row to its row in the micro-batch."""

    index: list[int]
    names: list[str] | None
    mask: torch.Tensor  # (b, S): 1 on real tokens, 0 on left padding, one column per cached position
    pads: list[int]  # each row's left padding (leading zeros of its mask row), kept in Python: no device sync
    position: torch.Tensor  # (b, 1): position of the last token, as if each row were alone
    cache: DynamicCache
    extra: dict[str, Any]  # further forward arguments (logits_to_keep where the model takes it)
    prepared: str | None = None  # "sdpa" / "eager": decoding steps pass a ready 4D mask (see _attention_mask)
    cache_arg: str = "past_key_values"  # forward's KV-cache argument: `cache` from transformers 5.25


def _decode_batch(
    model: torch.nn.Module,
    rows: Sequence[Sequence[int]],
    caps: Sequence[int],
    names: list[str] | None,
    processor: Processor | None,
    special: tuple[int, int],
    starts: Sequence[int],
    steering: Steering,
) -> list[list[int]]:
    eos, pad = special
    out: list[list[int]] = [[] for _ in rows]
    # what generate shows a processor: every row, left-padded, (B, T + t)
    seen = _pad_left(rows, pad, next(model.parameters()).device)[0] if processor is not None else None
    choose = NextTokens(processor, seen, eos, steering)
    with torch.inference_mode(), contextlib.ExitStack() as hooks:
        lora = StackedLoRA.of(model) if names is not None else None
        logits, live = _prefill(model, rows, names, pad, lora)  # (B, V), rows in order of prompt length
        # the step below adds one to reach each row's first answer position
        live.position = torch.tensor([[starts[i] - 1] for i in live.index], device=live.position.device)
        hooks.enter_context(row_adapters(model, live.names, lora))
        while True:
            tokens = choose(logits, live.index, out)  # (b,)
            keep = _record(out, caps, live.index, tokens.tolist(), eos)
            if not keep:
                return out
            if len(keep) < len(live.index):
                _select(live, keep)
                tokens = tokens[keep]
                hooks.close()  # the hooks hold the adapter names of the rows that just left
                hooks.enter_context(row_adapters(model, live.names, lora))
            live.mask = torch.cat([live.mask, live.mask.new_ones(len(keep), 1)], dim=1)
            live.position = live.position + 1
            logits = _forward(_inner(model), tokens[:, None], live.position, live)


def _prefill(
    model: torch.nn.Module,
    rows: Sequence[Sequence[int]],
    names: list[str] | None,
    pad: int,
    lora: StackedLoRA | None = None,
) -> tuple[torch.Tensor, _Live]:
    """Read the prompts in groups of similar length, then join the groups' caches into one batch.

    Returns:
        The next-token logits, (B, V), and the live rows, both in order of prompt length.
    """
    inner = _inner(model)
    takes = inspect.signature(inner.forward).parameters
    extra = {"logits_to_keep": 1} if "logits_to_keep" in takes else {}
    cache_arg = _cache_argument(takes)
    device = next(model.parameters()).device
    order = sorted(range(len(rows)), key=lambda i: len(rows[i]))
    lengths = [len(rows[i]) for i in order]
    groups = _groups(lengths) if sliceable(new_cache(inner.config)) else [list(range(len(rows)))]
    prepared = _prepared_mask_kind(inner)
    parts = []
    for group in groups:
        index = [order[g] for g in group]
        ids, mask = _pad_left([rows[i] for i in index], pad, device)  # (b, T), (b, T)
        position = (mask.cumsum(-1) - 1).masked_fill(mask == 0, 0)  # (b, T), as HF generate computes it
        sub = None if names is None else [names[i] for i in index]
        width = ids.shape[1]
        part = _Live(
            index=index,
            names=sub,
            mask=mask,
            pads=[width - len(rows[i]) for i in index],
            position=position[:, -1:],
            cache=new_cache(inner.config),
            extra=extra,
            prepared=prepared,
            cache_arg=cache_arg,
        )
        with row_adapters(model, sub, lora):
            parts.append((_forward(inner, ids, position, part), part))
    if len(parts) == 1:
        return parts[0]
    return torch.cat([logits for logits, _ in parts]), _join([part for _, part in parts], inner.config)


def _groups(lengths: list[int]) -> list[list[int]]:
    """Split sorted prompt lengths into consecutive groups that minimise padded tokens + a cost per forward.

    One forward of the tiny CPU system costs about as much as 64 more prompt tokens (measured: ~5 ms a call,
    ~0.09 ms a padded token), so the 16 benchmark prompts (8 to 103 tokens) read 788 padded tokens in three
    groups instead of 1,648 at once.
    """
    best = [0.0] + [float("inf")] * len(lengths)  # best[j]: cost of the first j rows
    cut = [0] * (len(lengths) + 1)
    for j in range(1, len(lengths) + 1):
        for i in range(max(0, j - 256), j):  # groups of at most 256 rows keep this linear in B
            cost = best[i] + (j - i) * lengths[j - 1] + _FORWARD_COST
            if cost < best[j]:
                best[j], cut[j] = cost, i
    groups, j = [], len(lengths)
    while j:
        groups.append(list(range(cut[j], j)))
        j = cut[j]
    return groups[::-1]


def _join(parts: list[_Live], config: Any) -> _Live:
    """One batch from groups prefilled apart: caches and masks left-padded to the widest group."""
    width = max(p.mask.shape[1] for p in parts)
    cache = new_cache(config)
    layers = [sliceable(p.cache) or [] for p in parts]
    for at in range(len(layers[0])):
        keys, values = [], []
        for p, part_layers in zip(parts, layers):
            short = width - p.mask.shape[1]  # (b, heads, T_p, head_dim) -> (b, heads, width, head_dim)
            keys.append(torch.nn.functional.pad(part_layers[at].keys, (0, 0, short, 0)))
            values.append(torch.nn.functional.pad(part_layers[at].values, (0, 0, short, 0)))
        cache.update(torch.cat(keys), torch.cat(values), at)
    names = None if parts[0].names is None else [n for p in parts for n in p.names or []]
    return _Live(
        index=[i for p in parts for i in p.index],
        names=names,
        mask=torch.cat([torch.nn.functional.pad(p.mask, (width - p.mask.shape[1], 0)) for p in parts]),
        pads=[pad + width - p.mask.shape[1] for p in parts for pad in p.pads],
        position=torch.cat([p.position for p in parts]),
        cache=cache,
        extra=parts[0].extra,
        prepared=parts[0].prepared,
        cache_arg=parts[0].cache_arg,
    )


def _pad_left(
    rows: Sequence[Sequence[int]], pad: int, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    """Token ids and attention mask of rows left-padded to the longest, (b, T) each."""
    width = max(len(r) for r in rows)
    ids = torch.tensor([[pad] * (width - len(r)) + list(r) for r in rows], device=device)
    mask = torch.tensor([[0] * (width - len(r)) + [1] * len(r) for r in rows], device=device)
    return ids, mask


def _record(
    out: list[list[int]], caps: Sequence[int], index: list[int], tokens: list[int], eos: int
) -> list[int]:
    """Append each live row's new token; the positions (in the live batch) of the rows still going."""
    keep = []
    for j, (i, token) in enumerate(zip(index, tokens)):
        if token == eos:
            continue
        out[i].append(token)
        if len(out[i]) < caps[i]:
            keep.append(j)
    return keep


def _select(live: _Live, keep: list[int]) -> None:
    """Drop finished rows from the cache, mask and positions, then cut padding no live row needs."""
    at = torch.tensor(keep, device=live.mask.device)
    live.index = [live.index[j] for j in keep]
    live.names = None if live.names is None else [live.names[j] for j in keep]
    live.cache.batch_select_indices(at)
    live.mask, live.position = live.mask[at], live.position[at]
    live.pads = [live.pads[j] for j in keep]
    lead = min(live.pads)  # left-pad columns shared by every live row
    layers = sliceable(live.cache)
    if lead and layers is not None:
        for layer in layers:  # (b, heads, S, head_dim) -> (b, heads, S - lead, head_dim)
            layer.keys, layer.values = layer.keys[:, :, lead:], layer.values[:, :, lead:]
        live.mask = live.mask[:, lead:]
        live.pads = [pad - lead for pad in live.pads]


def _prepared_mask_kind(inner: Any) -> str | None:
    """``"sdpa"`` or ``"eager"`` where decoding steps may pass their own 4D padding mask: the model builds
    its masks with transformers' ``create_causal_mask`` (which passes a 4D mask through as it is), runs that
    attention and has full attention only (a sliding window would need more than padding). Otherwise
    ``None``: the model builds the mask from the 2D one, as in ``generate``."""
    config = inner.config
    kind = getattr(config, "_attn_implementation", None)
    types = getattr(config, "layer_types", None) or ["full_attention"]
    module = sys.modules.get(type(inner).__module__)
    if (
        kind not in ("sdpa", "eager")
        or any(t != "full_attention" for t in types)
        or getattr(config, "use_sliding_window", False)
        or getattr(module, "create_causal_mask", None) is None
    ):
        return None
    return str(kind)


def _attention_mask(ids: torch.Tensor, live: _Live, dtype: torch.dtype) -> torch.Tensor | None:
    """The mask of one forward: none without padding (as ``generate``); for a decoding step (one new token
    per row, which may see every cached position) the padding mask as the attention takes it, (b, 1, 1, S):
    building it from the 2D mask cost transformers ~0.6 ms a step on the tiny CPU system, about 7 % of a
    16-row step; else the 2D mask (a prompt needs the causal mask too)."""
    if not any(live.pads):
        return None
    if ids.shape[1] != 1 or live.prepared is None:
        return live.mask
    keep = live.mask[:, None, None, :].bool()
    if live.prepared == "sdpa":
        return keep
    return torch.zeros(keep.shape, dtype=dtype, device=keep.device).masked_fill(~keep, torch.finfo(dtype).min)


def _forward(inner: Any, ids: torch.Tensor, position: torch.Tensor, live: _Live) -> torch.Tensor:
    """Logits of the last position per live row, (b, V), in float32 as ``generate`` takes them."""
    out = inner(
        input_ids=ids,  # (b, t)
        attention_mask=_attention_mask(ids, live, inner.dtype),
        position_ids=position,  # (b, t)
        use_cache=True,
        **{live.cache_arg: live.cache},
        **live.extra,
    )
    return out.logits[:, -1].to(dtype=torch.float32)  # type: ignore[no-any-return]


def _cache_argument(takes: Any) -> str:
    """The KV-cache argument among forward's parameters ``takes``: ``cache`` from transformers 5.25 (which warns
    that ``past_key_values`` goes in 5.40), else ``past_key_values``."""
    return "cache" if "cache" in takes else "past_key_values"


def _inner(model: torch.nn.Module) -> Any:
    """The transformers model to call: under PEFT, the base model with the LoRA layers injected."""
    get = getattr(model, "get_base_model", None)
    return get() if callable(get) else model
