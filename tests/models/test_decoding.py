"""greedy_decode: token for token what HF generate gives each row alone; finished rows leave the batch."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import pytest
import torch
from transformers import GenerationConfig, LogitsProcessor, LogitsProcessorList

from helixmoe.config import LoRAConfig
from helixmoe.errors import ConfigError
from helixmoe.models.base import load_base
from helixmoe.models.decoding import _groups, greedy_decode
from helixmoe.models.experts import ExpertPool

LORA = LoRAConfig(r=4, alpha=8, dropout=0.0)
PROMPTS = [
    "Convert to LC-R: [1, 2, 3]",
    "hi",
    'Convert {name: "Alice", age: 30} to LC-T',
    "∅",
    "What is 12 + 30?",
    "Translate into runic: {14: {@0: 42}}",
]
EXPERTS = ["ascii", "runic", "__base__", "runic", "ascii", "__base__"]
# The longest prompt (row 2) has the smallest cap: once it leaves, the padding no other row needs is cut.
CAPS = [9, 14, 2, 6, 11, 1]


@pytest.fixture(scope="module")
def pool(tiny_base_dir: Path, char_tokenizer) -> ExpertPool:
    torch.set_num_threads(1)
    pool = ExpertPool(load_base(tiny_base_dir, device="cpu"), char_tokenizer)
    for seed, name in enumerate(["ascii", "runic"]):
        pool.add(name, LORA)
        g = torch.Generator().manual_seed(seed)
        with torch.no_grad():  # fresh LoRA is the identity (B = 0): make the experts differ
            for key, param in pool.model.named_parameters():
                if f".{name}." in key and "lora_B" in key:
                    param.copy_(torch.randn(param.shape, generator=g) * 0.5)
    pool.model.eval()
    return pool


@pytest.fixture(scope="module")
def rows(char_tokenizer) -> list[list[int]]:
    return [char_tokenizer.encode(p, add_special_tokens=False) for p in PROMPTS]


def _hf_alone(model, row: list[int], name: str | None, cap: int, eos: int, pad: int) -> list[int]:
    """What HF generate gives this row alone, cut before its first EOS."""
    config = GenerationConfig(max_new_tokens=cap, do_sample=False, eos_token_id=eos, pad_token_id=pad)
    extra = {} if name is None else {"adapter_names": [name]}
    with torch.inference_mode():
        out = model.generate(input_ids=torch.tensor([row]), generation_config=config, **extra)[0, len(row) :]
    new = out.tolist()
    return new[: new.index(eos)] if eos in new else new


def _early_eos(pool: ExpertPool, rows: list[list[int]]) -> int:
    """A token that the greedy answer of row 0 emits third: used as EOS, it stops some rows early."""
    pad = pool.tokenizer.pad_token_id
    return _hf_alone(pool.model, rows[0], EXPERTS[0], 5, eos=-1, pad=pad)[2]


def test_mixed_experts_match_hf_generate_row_by_row(pool: ExpertPool, rows: list[list[int]]) -> None:
    eos, pad = _early_eos(pool, rows), pool.tokenizer.pad_token_id
    expected = [_hf_alone(pool.model, r, n, c, eos, pad) for r, n, c in zip(rows, EXPERTS, CAPS)]
    got = greedy_decode(pool.model, rows, CAPS, eos_token_id=eos, pad_token_id=pad, adapter_names=EXPERTS)
    assert got == expected
    # the check covers rows that stop at EOS before their cap, and rows that stop at the cap
    assert any(len(e) < c for e, c in zip(expected, CAPS))
    assert any(len(e) == c for e, c in zip(expected, CAPS))
    assert len({tuple(_hf_alone(pool.model, rows[0], n, 8, -1, pad)) for n in ("ascii", "runic")}) == 2


def test_micro_batches_and_a_plain_model(pool: ExpertPool, rows: list[list[int]]) -> None:
    eos, pad = _early_eos(pool, rows), pool.tokenizer.pad_token_id
    whole = greedy_decode(pool.model, rows, CAPS, eos_token_id=eos, pad_token_id=pad, adapter_names=EXPERTS)
    for size in (1, 2, 4):
        kwargs = dict(eos_token_id=eos, pad_token_id=pad, adapter_names=EXPERTS, batch_size=size)
        assert greedy_decode(pool.model, rows, CAPS, **kwargs) == whole
    base = pool.model.get_base_model()
    with pool.model.disable_adapter():  # the bare transformers model, no PEFT
        expected = [_hf_alone(base, r, None, c, eos, pad) for r, c in zip(rows, CAPS)]
        assert greedy_decode(base, rows, CAPS, eos_token_id=eos, pad_token_id=pad) == expected


class _Countdown(LogitsProcessor):
    """Per-row state across steps, like the grammar processors: row i must stop after ``stops[i]`` tokens.

    It also checks that it is called as HF generate calls it: the whole batch, one more token each step.
    """

    def __init__(self, stops: list[int], eos: int) -> None:
        self.stops, self.eos = stops, eos
        self.calls: list[tuple[int, int]] = []
        self.last = torch.empty(0)

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        if self.calls:
            assert input_ids.shape == (self.calls[-1][0], self.calls[-1][1] + 1)
        self.calls.append(tuple(input_ids.shape))  # type: ignore[arg-type]
        self.last = input_ids
        step = len(self.calls) - 1
        scores = scores.clone()
        for row, stop in enumerate(self.stops):
            if step >= stop:
                scores[row] = float("-inf")
                scores[row, self.eos] = 0.0
            else:  # never EOS before the countdown: the row goes on to its cap or its countdown
                scores[row, self.eos] = float("-inf")
        return scores


def test_processor_sees_the_whole_batch_as_in_generate(pool: ExpertPool, rows: list[list[int]]) -> None:
    eos, pad = pool.tokenizer.eos_token_id, pool.tokenizer.pad_token_id
    stops, caps = [3, 20, 1, 5, 20, 20], [12, 4, 12, 12, 7, 1]
    width = max(len(r) for r in rows)
    ids = torch.tensor([[pad] * (width - len(r)) + r for r in rows])
    mask = (torch.arange(width)[None, :] >= torch.tensor([width - len(r) for r in rows])[:, None]).long()
    config = GenerationConfig(max_new_tokens=max(caps), do_sample=False, eos_token_id=eos, pad_token_id=pad)
    with torch.inference_mode():
        out = pool.model.generate(
            input_ids=ids,
            attention_mask=mask,
            generation_config=config,
            adapter_names=EXPERTS,
            logits_processor=LogitsProcessorList([_Countdown(stops, eos)]),
        )[:, width:]
    expected = []
    for row, cap in zip(out.tolist(), caps):
        row = row[: row.index(eos)] if eos in row else row
        expected.append(row[:cap])
    countdown = _Countdown(stops, eos)
    got = greedy_decode(
        pool.model,
        rows,
        caps,
        eos_token_id=eos,
        pad_token_id=pad,
        adapter_names=EXPERTS,
        logits_processor=LogitsProcessorList([countdown]),
    )
    assert got == expected
    assert [len(g) for g in got] == [3, 4, 1, 5, 7, 1]
    assert all(batch == len(rows) for batch, _ in countdown.calls)
    for row, answer in zip(countdown.last.tolist(), got):  # finished rows are fed EOS, which ends them
        new = row[width:]  # the last call sees every token but the last step's
        assert new[: len(answer)] == answer[: len(new)] and set(new[len(answer) :]) <= {eos}
    assert sum(set(row[width + len(a) :]) == {eos} for row, a in zip(countdown.last.tolist(), got)) >= 4


def test_finished_rows_leave_the_batch(pool: ExpertPool, rows: list[list[int]]) -> None:
    pad = pool.tokenizer.pad_token_id
    seen: list[tuple[int, int]] = []
    inner = pool.model.get_base_model()
    handle = inner.register_forward_pre_hook(
        lambda _m, _a, kw: seen.append(tuple(kw["input_ids"].shape)), with_kwargs=True
    )
    try:
        greedy_decode(pool.model, rows, CAPS, eos_token_id=-1, pad_token_id=pad, adapter_names=EXPERTS)
    finally:
        handle.remove()
    sizes = [b for b, _ in seen]
    reads = next(k for k in range(1, len(sizes) + 1) if sum(sizes[:k]) == len(rows))  # prefill forwards
    padded = sum(b * t for b, t in seen[:reads])
    longest = max(len(r) for r in rows)
    assert reads > 1 and padded < len(rows) * longest  # prompts are read in groups of similar length
    batches = sizes[reads:]
    assert len(batches) == max(CAPS) - 1  # one step per token after the first, for the longest row only
    assert batches == sorted(batches, reverse=True) and batches[-1] == 1  # rows left as they stopped


def test_prompts_are_grouped_by_length() -> None:
    lengths = [8, 13, 18, 24, 24, 26, 26, 28, 41, 43, 49, 50, 51, 67, 78, 103]  # the benchmark's prompts
    groups = _groups(lengths)
    assert [i for g in groups for i in g] == list(range(len(lengths)))
    assert sum(len(g) * lengths[g[-1]] for g in groups) == 788 and len(groups) == 3
    assert _groups([5]) == [[0]] and _groups([7, 7, 7]) == [[0, 1, 2]]


def test_pool_generate_ids_takes_a_cap_per_row(pool: ExpertPool, rows: list[list[int]]) -> None:
    experts = [None if n == "__base__" else n for n in EXPERTS]
    per_row = pool.generate_ids(rows, experts, CAPS)
    assert [len(r) for r in per_row] == CAPS  # the real EOS never comes first on this random model
    assert pool.generate_ids(rows, experts, max(CAPS)) == [
        pool.generate_ids([r], [e], max(CAPS))[0] for r, e in zip(rows, experts)
    ]
    # any other HF generate argument runs HF generate, with the same answers
    assert pool.generate_ids(rows, experts, CAPS, use_cache=True) == per_row


def test_hf_generate_options_go_into_its_generation_config(pool: ExpertPool, rows: list[list[int]]) -> None:
    """transformers 5 warns when a generation config and loose generation options are passed together."""
    from transformers.testing_utils import CaptureLogger
    from transformers.utils import logging as hf_logging

    experts = [None if n == "__base__" else n for n in EXPERTS]
    logger = hf_logging.get_logger("transformers.generation.utils")
    type(logger).warning_once.cache_clear()  # type: ignore[attr-defined]  # a warning already shown stays quiet
    with CaptureLogger(logger) as captured:
        plain = pool.generate_ids(rows, experts, CAPS, use_cache=True)
        # an option that changes the answers is applied, not dropped: no token repeats within a row
        penalised = pool.generate_ids(rows, experts, CAPS, no_repeat_ngram_size=1)
    assert "generation_config" not in captured.out
    assert all(len(set(row)) == len(row) for row in penalised)
    assert any(len(set(row)) < len(row) for row in plain)  # the option had something to change


def test_beam_search_runs_each_rows_own_expert_and_cap(pool: ExpertPool, rows: list[list[int]]) -> None:
    """HF beam search repeats every row once per beam; each copy still runs its row's adapter, and each row
    is searched to its own cap (a longer search can end in another best beam)."""
    experts = [None if n == "__base__" else n for n in EXPERTS]
    caps = [9, 14, 2, 6, 11, 9]
    eos, pad = pool.tokenizer.eos_token_id, pool.tokenizer.pad_token_id
    got = pool.generate_ids(rows, experts, caps, num_beams=3, batch_size=4)
    alone, active = [], pool.active
    for row, name, cap in zip(rows, experts, caps):
        pool.activate(name or "ascii")
        config = GenerationConfig(
            max_new_tokens=cap, num_beams=3, do_sample=False, eos_token_id=eos, pad_token_id=pad
        )
        with (
            pool.model.disable_adapter() if name is None else contextlib.nullcontext(),
            torch.inference_mode(),
        ):
            new = pool.model.generate(input_ids=torch.tensor([row]), generation_config=config)[0, len(row) :]
        alone.append(new.tolist()[: new.tolist().index(eos)] if eos in new.tolist() else new.tolist())
    if active is not None:  # the module's other tests share the pool
        pool.activate(active)
    assert got == alone
    assert got != pool.generate_ids(rows, experts, caps)  # the beams found other answers than greedy
    with pytest.raises(ConfigError, match="num_return_sequences"):
        pool.generate_ids(rows, experts, caps, num_beams=3, num_return_sequences=2)


def test_arguments_are_checked(pool: ExpertPool, rows: list[list[int]]) -> None:
    kwargs = dict(eos_token_id=1, pad_token_id=0)
    with pytest.raises(ConfigError, match="2 prompts but 1 token caps"):
        greedy_decode(pool.model, rows[:2], [3], **kwargs)
    with pytest.raises(ConfigError, match="and 1 adapter names"):
        greedy_decode(pool.model, rows[:2], [3, 3], adapter_names=["ascii"], **kwargs)
    with pytest.raises(ConfigError, match="empty prompt"):
        greedy_decode(pool.model, [[]], [3], **kwargs)
    with pytest.raises(ConfigError, match=">= 0"):
        greedy_decode(pool.model, rows[:1], [-1], **kwargs)
    assert greedy_decode(pool.model, rows[:2], [0, 2], adapter_names=["ascii", "runic"], **kwargs)[0] == []


def test_stacked_lora_matches_peft_mixed_forward(
    pool: ExpertPool, rows: list[list[int]], monkeypatch
) -> None:
    from helixmoe.models import decoding, row_adapters

    lora = row_adapters.StackedLoRA.of(pool.model)
    assert lora is not None and set(lora.slot) == {"ascii", "runic", "__base__"}
    ids = torch.tensor([rows[0][:4]] * len(EXPERTS))
    inner = decoding._inner(pool.model)
    with torch.inference_mode():
        with pool.model._enable_peft_forward_hooks(adapter_names=EXPERTS):
            peft = inner(input_ids=ids).logits
        with lora.rows(EXPERTS):
            stacked = inner(input_ids=ids).logits
        plain = inner(input_ids=ids).logits  # hooks gone, the layers' own adapter switch restored
    torch.testing.assert_close(stacked, peft, rtol=1e-5, atol=1e-5)
    assert not torch.allclose(stacked[0], stacked[1])  # rows really use different adapters
    with torch.inference_mode():  # every row the same adapter: that adapter's own rank block, no mask
        same = [EXPERTS[0]] * len(EXPERTS)
        with pool.model._enable_peft_forward_hooks(adapter_names=same):
            peft_same = inner(input_ids=ids).logits
        with lora.rows(same):
            stacked_same = inner(input_ids=ids).logits
    torch.testing.assert_close(stacked_same, peft_same, rtol=1e-5, atol=1e-5)
    assert all(not layer._disable_adapters for layer in lora.layers) and plain.shape == peft.shape

    # PEFT's own path, the fallback, gives the same tokens
    eos, pad = _early_eos(pool, rows), pool.tokenizer.pad_token_id
    stacked_tokens = greedy_decode(
        pool.model, rows, CAPS, eos_token_id=eos, pad_token_id=pad, adapter_names=EXPERTS
    )
    monkeypatch.setattr(row_adapters.StackedLoRA, "of", classmethod(lambda cls, model: None))
    peft_tokens = greedy_decode(
        pool.model, rows, CAPS, eos_token_id=eos, pad_token_id=pad, adapter_names=EXPERTS
    )
    assert stacked_tokens == peft_tokens


def test_stacked_lora_is_kept_until_an_adapter_changes(pool: ExpertPool) -> None:
    from helixmoe.models import row_adapters

    lora = row_adapters.StackedLoRA.of(pool.model)
    assert lora is not None and row_adapters.StackedLoRA.of(pool.model) is lora  # reused
    layer = lora.layers[0]
    with torch.no_grad():
        layer.lora_B["ascii"].weight.add_(1.0)  # a training step changes a weight in place
    changed = row_adapters.StackedLoRA.of(pool.model)
    assert changed is not lora and not torch.equal(changed.weights[0][1], lora.weights[0][1])
    scaling = dict(layer.scaling)
    layer.scaling["ascii"] = scaling["ascii"] * 2
    try:
        assert row_adapters.StackedLoRA.of(pool.model) is not changed
    finally:
        layer.scaling.update(scaling)
    with torch.no_grad():
        layer.lora_B["ascii"].weight.sub_(1.0)


def test_stacked_lora_leaves_what_it_does_not_cover_to_peft(tiny_base_dir: Path, char_tokenizer) -> None:
    from helixmoe.models import row_adapters

    pool = ExpertPool(load_base(tiny_base_dir, device="cpu"), char_tokenizer)
    assert row_adapters.StackedLoRA.of(pool.model) is None  # no adapters at all
    pool.add("a", LORA)
    pool.add("b", LoRAConfig(r=8, alpha=16, dropout=0.0))
    assert row_adapters.StackedLoRA.of(pool.model) is None  # ranks differ: PEFT's path
    lora = row_adapters.StackedLoRA([], [])
    with pytest.raises(ConfigError, match="unknown adapter"), lora.rows(["nope"]):
        pass


@pytest.mark.parametrize("attention", ["sdpa", "eager"])
def test_padded_decoding_steps_take_their_own_mask(
    tiny_base_dir: Path, rows: list[list[int]], attention: str
) -> None:
    """Decoding steps of a padded batch pass a ready 4D padding mask in the form each attention takes
    (boolean for SDPA, additive for eager): the answers are still HF generate's, row by row."""
    from transformers import AutoModelForCausalLM

    from helixmoe.models.decoding import _prepared_mask_kind

    model = AutoModelForCausalLM.from_pretrained(tiny_base_dir, attn_implementation=attention).eval()
    assert _prepared_mask_kind(model) == attention
    pad, eos = 0, -1
    expected = [_hf_alone(model, r, None, c, eos, pad) for r, c in zip(rows, CAPS)]
    assert greedy_decode(model, rows, CAPS, eos_token_id=eos, pad_token_id=pad) == expected


def test_growing_cache_layer_matches_dynamic_layer() -> None:
    """Appending, dropping rows, cutting leading columns, cropping and resetting: the growing layer's keys and
    values are the plain ``DynamicLayer``'s at every step, whatever replaced its views in between."""
    from transformers.cache_utils import DynamicLayer

    from helixmoe.models.kv_cache import GrowingLayer

    g = torch.Generator().manual_seed(0)
    plain, growing = DynamicLayer(), GrowingLayer()

    def both(step: object) -> None:
        for layer in (plain, growing):
            step(layer)  # type: ignore[operator]
        torch.testing.assert_close(growing.keys, plain.keys, rtol=0, atol=0)
        torch.testing.assert_close(growing.values, plain.values, rtol=0, atol=0)

    def append(b: int, t: int) -> object:
        k, v = torch.randn(b, 2, t, 4, generator=g), torch.randn(b, 2, t, 4, generator=g)
        return lambda layer: layer.update(k, v)

    both(append(3, 5))  # the prompt
    for _ in range(40):  # past the first buffer's room
        both(append(3, 1))
    both(lambda layer: layer.batch_select_indices(torch.tensor([0, 2])))
    both(append(2, 1))

    def cut(layer: object) -> None:
        layer.keys, layer.values = layer.keys[:, :, 3:], layer.values[:, :, 3:]  # type: ignore[attr-defined]

    both(cut)
    both(append(2, 1))
    both(lambda layer: layer.crop(-4))
    both(append(2, 2))
    both(lambda layer: layer.reset())
    both(append(1, 3))
    both(append(1, 1))


def test_the_grammars_greedy_choice_decodes_as_its_full_mask(pool: ExpertPool, rows: list[list[int]]) -> None:
    """With the grammar processor, decoding takes its ``greedy`` choice (best allowed token, checked best
    first); hiding that method makes decoding mask every step and take the argmax: the same tokens."""
    from helixmoe.grammar import constrained_processor

    class MaskOnly:
        def __init__(self, inner: Any) -> None:
            self.inner = inner

        def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
            return self.inner(input_ids, scores)  # type: ignore[no-any-return]

    tok = pool.tokenizer
    notations = ["lc-r", "lc-t", None, "hlxl", "lc-b-text", "lc-r"]
    caps = [24] * len(rows)
    kwargs = dict(eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id, adapter_names=EXPERTS)
    fast = greedy_decode(
        pool.model, rows, caps, logits_processor=constrained_processor(tok, notations, 24), **kwargs
    )
    full = greedy_decode(
        pool.model, rows, caps, logits_processor=MaskOnly(constrained_processor(tok, notations, 24)), **kwargs
    )
    assert fast == full
    assert sum(map(len, fast)) > 3 * len(rows)  # real answers, not empty ones


def test_left_padding_is_tracked_without_reading_the_mask(tiny_base_dir: Path) -> None:
    """Each live row's left padding is kept in Python (no device sync per step): after the groups are
    prefilled and joined, and after rows leave and shared padding is cut, it is the mask's leading zeros."""
    from helixmoe.models.decoding import _prefill, _select

    model = load_base(tiny_base_dir, device="cpu").eval()
    rows = [[5] * n for n in (3, 40, 9, 41, 2, 17, 60, 8)]

    def leading_zeros(mask: torch.Tensor) -> list[int]:
        return [int((row.cumsum(0) == 0).sum()) for row in mask]

    with torch.inference_mode():
        _, live = _prefill(model, rows, None, pad=0)
        assert live.pads == leading_zeros(live.mask) and any(live.pads)
        for keep in ([0, 2, 3, 5, 6, 7], [2, 3, 4, 5], [1, 3], [0]):
            _select(live, keep)
            assert live.pads == leading_zeros(live.mask)
        assert live.pads == [0]


def test_forced_tokens_come_first_then_greedy_goes_on(pool: ExpertPool, rows: list[list[int]]) -> None:
    """A forced prefix is emitted as if chosen, and the row goes on as greedy decoding from the prompt plus
    that prefix would; a forced EOS ends the row; rows without a prefix are untouched."""
    tok = pool.tokenizer
    kwargs = dict(eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id, adapter_names=EXPERTS)
    free = greedy_decode(pool.model, rows, CAPS, **kwargs)
    forced = [[7, 8, 9], [], [tok.eos_token_id], [5], [11, 12], []]
    out = greedy_decode(pool.model, rows, CAPS, forced=forced, **kwargs)
    for i, (prefix, cap) in enumerate(zip(forced, CAPS, strict=True)):
        if not prefix:
            assert out[i] == free[i]
        elif prefix == [tok.eos_token_id]:
            assert out[i] == []
        else:
            kept = prefix[:cap]
            rest = greedy_decode(
                pool.model, [rows[i] + kept], [cap - len(kept)], **{**kwargs, "adapter_names": [EXPERTS[i]]}
            )
            assert out[i] == kept + rest[0]
    assert out[0][:3] == [7, 8, 9] and out[0] != free[0][: len(out[0])]  # the prefix changed what followed
    with pytest.raises(ConfigError, match="6 prompts but 2 forced prefixes"):
        greedy_decode(pool.model, rows, CAPS, forced=[[1], [2]], **kwargs)


def test_the_observer_sees_every_step_of_every_row(pool: ExpertPool, rows: list[list[int]]) -> None:
    """``observe(rows, scores)`` is called once per step with the live rows (indices into the prompts, also
    across micro-batches) and their scores, whose argmax is the greedy token; with the grammar and ``top = 2``
    a constrained row's scores keep only its two best allowed tokens."""
    from helixmoe.grammar import constrained_processor

    tok = pool.tokenizer
    kwargs = dict(eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id, adapter_names=EXPERTS)
    seen: dict[int, list[int]] = {i: [] for i in range(len(rows))}

    def observe(index: list[int], scores: torch.Tensor) -> None:
        for i, token in zip(index, scores.argmax(-1).tolist(), strict=True):
            seen[i].append(token)

    out = greedy_decode(pool.model, rows, CAPS, observe=observe, batch_size=4, **kwargs)
    for i, row in enumerate(out):  # each step observed: the row's tokens, then its EOS when it stopped early
        assert seen[i][: len(row)] == row and len(seen[i]) in (len(row), len(row) + 1)

    notations = ["lc-r", "lc-t", None, "hlxl", "lc-b-text", "lc-r"]
    finite: dict[int, set[int]] = {i: set() for i in range(len(rows))}

    class Top2:
        top = 2

        def __call__(self, index: list[int], scores: torch.Tensor) -> None:
            for i, count in zip(index, torch.isfinite(scores).sum(-1).tolist(), strict=True):
                finite[i].add(count)

    caps = [24] * len(rows)
    plain = greedy_decode(
        pool.model, rows, caps, logits_processor=constrained_processor(tok, notations, 24), **kwargs
    )
    watched = greedy_decode(
        pool.model,
        rows,
        caps,
        logits_processor=constrained_processor(tok, notations, 24),
        observe=Top2(),
        **kwargs,
    )
    assert watched == plain
    for i, notation in enumerate(notations):
        assert finite[i] <= ({1, 2} if notation is not None else {len(tok)}) and finite[i]
