"""The logits processors make even an untrained tiny model emit strictly parseable values."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from helixmoe import hlx
from helixmoe.errors import ConfigError
from helixmoe.grammar import GRAMMAR_NOTATIONS, NotationLogitsProcessor, constrained_processor

from .fixtures import tiny_model

PROMPTS = [
    "<|user|>Convert to LC-R: [1, 2, 3]<|assistant|>",
    '<|user|>LC-T for {name: "Alice"}<|assistant|>',
    "<|user|>hello<|assistant|>",
    "<|user|>🜊14🜁0 42🜂 as LC-B<|assistant|>",
]


def generate(model: Any, tok: Any, notations: str | list[str], max_new: int, **kwargs: Any) -> list[str]:
    enc = tok(PROMPTS, return_tensors="pt", padding=True, padding_side="left")
    procs = constrained_processor(tok, notations, max_new)
    with torch.no_grad():
        out = model.generate(
            **enc,
            max_new_tokens=max_new,
            logits_processor=procs,
            pad_token_id=tok.pad_token_id,
            eos_token_id=tok.eos_token_id,
            **kwargs,
        )
    return [tok.decode(row, skip_special_tokens=True) for row in out[:, enc["input_ids"].shape[1] :]]


@pytest.mark.parametrize("notation", GRAMMAR_NOTATIONS)
def test_untrained_model_emits_strictly_parseable_values(tokenizer: Any, notation: str) -> None:
    shortest = {"lc-b-text": 3, "lc-b-hex": 2}.get(notation, 1)
    seen = set()
    for seed in range(3):
        model = tiny_model(len(tokenizer), seed=seed)
        for max_new in (shortest, 7, 20):
            for text in generate(model, tokenizer, notation, max_new, do_sample=False):
                hlx.loads(text, notation, strict=True)
                seen.add(text)
            torch.manual_seed(seed)
            for text in generate(model, tokenizer, notation, max_new, do_sample=True, temperature=3.0):
                hlx.loads(text, notation, strict=True)
                seen.add(text)
    assert len(seen) > 8  # the test really explored different outputs


def test_rows_of_one_batch_target_different_notations(tokenizer: Any, model: Any) -> None:
    notations = ["lc-r", "lc-t", "hlxl", "lc-b-hex"]
    torch.manual_seed(1)
    texts = generate(model, tokenizer, notations, 24, do_sample=True, temperature=2.0)
    for text, notation in zip(texts, notations):
        hlx.loads(text, notation, strict=True)
    assert any("🜃" in t or "🜊" in t or "◇" in t or t[:1].isdigit() for t in texts[:1])


@pytest.mark.parametrize("design", ["automaton", "llguidance"])
def test_a_none_row_is_left_unconstrained(tokenizer: Any, model: Any, design: str) -> None:
    enc = tokenizer(PROMPTS, return_tensors="pt", padding=True, padding_side="left")
    notations = ["lc-r", None, "lc-t", None]
    procs = constrained_processor(tokenizer, notations, 16, design=design)
    out = model.generate(
        **enc,
        max_new_tokens=16,
        logits_processor=procs,
        do_sample=False,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    free = model.generate(
        **enc,
        max_new_tokens=16,
        do_sample=False,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    start = enc["input_ids"].shape[1]
    texts = [tokenizer.decode(row, skip_special_tokens=True) for row in out[:, start:]]
    if design == "automaton":  # llguidance cannot promise to finish within 16 tokens
        hlx.loads(texts[0], "lc-r", strict=True)
        hlx.loads(texts[2], "lc-t", strict=True)
    assert torch.equal(out[1], free[1]) and torch.equal(out[3], free[3])  # exactly the unconstrained tokens


def _scores(tok: Any, rows: int = 1) -> torch.Tensor:
    return torch.zeros((rows, len(tok)))


def test_eos_only_when_the_value_is_complete(tokenizer: Any) -> None:
    proc = NotationLogitsProcessor(tokenizer, "lc-r", max_new_tokens=50)
    prompt = tokenizer.encode("<|user|>x<|assistant|>", add_special_tokens=False)
    eos = tokenizer.eos_token_id
    ids = list(prompt)
    verdicts = []
    text = "🜃1, 2🜄"
    for ch in text:
        out = proc(torch.tensor([ids]), _scores(tokenizer))
        verdicts.append(bool(torch.isfinite(out[0, eos])))
        token = tokenizer.convert_tokens_to_ids(ch)
        assert torch.isfinite(out[0, token]), ch  # the canonical text is always allowed
        ids.append(token)
    out = proc(torch.tensor([ids]), _scores(tokenizer))
    assert verdicts == [False] * len(text) and bool(torch.isfinite(out[0, eos]))
    assert int(torch.isfinite(out[0]).sum()) == 1  # after a complete top-level value: only EOS


def test_budget_forces_the_value_to_close(tokenizer: Any) -> None:
    proc = NotationLogitsProcessor(tokenizer, "lc-t", max_new_tokens=6)
    ids = tokenizer.encode("<|user|>x<|assistant|>", add_special_tokens=False)
    for ch in "[[":
        proc(torch.tensor([ids]), _scores(tokenizer))
        ids.append(tokenizer.convert_tokens_to_ids(ch))
    out = proc(torch.tensor([ids]), _scores(tokenizer))  # 4 tokens left, "]]" needs 2: "[" still fits
    assert torch.isfinite(out[0, tokenizer.convert_tokens_to_ids("[")])
    ids.append(tokenizer.convert_tokens_to_ids("["))
    out = proc(torch.tensor([ids]), _scores(tokenizer))  # 3 left, "]]]" needs 3: only "]" fits
    allowed = [
        tokenizer.convert_ids_to_tokens(i) for i in torch.isfinite(out[0]).nonzero().flatten().tolist()
    ]
    assert allowed == ["]"]


def test_bad_configurations_raise(tokenizer: Any) -> None:
    with pytest.raises(ConfigError, match="shortest"):
        constrained_processor(tokenizer, "lc-b-text", 2)
    with pytest.raises(ConfigError, match="design"):
        constrained_processor(tokenizer, "lc-r", 8, design="xgrammar")
    with pytest.raises(hlx.HLXError):
        constrained_processor(tokenizer, "lc-b", 8)
    with pytest.raises(ConfigError, match="llguidance"):
        constrained_processor(tokenizer, "lc-b-hex", 8, design="llguidance")
    proc = constrained_processor(tokenizer, ["lc-r", "lc-t"], 8)
    with pytest.raises(ConfigError, match="2 notations for a batch of 3"):
        proc[0](torch.zeros((3, 4), dtype=torch.long), torch.zeros((3, len(tokenizer))))


def test_tokenizer_without_the_glyphs_is_refused_for_lc_r() -> None:
    from tokenizers import Tokenizer, models
    from transformers import PreTrainedTokenizerFast

    vocab = {
        t: i for i, t in enumerate(["<|pad|>", "<|eos|>", "<|unk|>", *[chr(c) for c in range(0x20, 0x7F)]])
    }
    core = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token="<|unk|>"))
    tok = PreTrainedTokenizerFast(
        tokenizer_object=core, eos_token="<|eos|>", pad_token="<|pad|>", unk_token="<|unk|>"
    )
    with pytest.raises(ConfigError, match="single-character token"):
        constrained_processor(tok, "lc-r", 8)
    constrained_processor(tok, "lc-t", 8)  # ASCII notations need no glyphs


@pytest.mark.parametrize("scheme", ["char", "bpe"])
def test_project_tokenizers_work(scheme: str) -> None:
    from helixmoe.models.tokenizer import train_tokenizer

    texts = ["🜃1, 2, 3🜄", "{C:14,0=42}", '{name: "Alice", age: 30}', '[902|0:"render"|1:[&vs,&fs]]'] * 20
    tok = train_tokenizer(texts, scheme=scheme, vocab_size=400, min_frequency=1)
    model = tiny_model(len(tok), seed=3)
    for notation in ("lc-r", "lc-t", "lc-b-text"):
        torch.manual_seed(0)
        for text in generate(model, tok, notation, 16, do_sample=True, temperature=2.0):
            hlx.loads(text, notation, strict=True)


def test_llguidance_design_completed_rows_parse(tokenizer: Any, model: Any) -> None:
    enc = tokenizer(PROMPTS, return_tensors="pt", padding=True, padding_side="left")
    for notation in ("hlxl", "lc-t", "lc-r", "lc-b-text"):
        procs = constrained_processor(tokenizer, notation, 40, design="llguidance")
        out = model.generate(
            **enc,
            max_new_tokens=40,
            logits_processor=procs,
            do_sample=False,
            pad_token_id=tokenizer.pad_token_id,
            eos_token_id=tokenizer.eos_token_id,
        )
        for row in out[:, enc["input_ids"].shape[1] :]:
            if tokenizer.eos_token_id in row.tolist():  # finished: must be a value (no budget guarantee)
                hlx.loads(tokenizer.decode(row, skip_special_tokens=True), notation, strict=True)


def test_a_new_generation_is_detected_even_when_one_token_longer(tokenizer: Any) -> None:
    proc = NotationLogitsProcessor(tokenizer, "lc-t", max_new_tokens=20)
    prompt = tokenizer.encode("<|user|>ab<|assistant|>", add_special_tokens=False)
    close = tokenizer.convert_tokens_to_ids("]")
    proc(torch.tensor([prompt]), _scores(tokenizer))
    out = proc(torch.tensor([[*prompt, tokenizer.convert_tokens_to_ids("[")]]), _scores(tokenizer))
    assert torch.isfinite(out[0, close])  # inside "[": "]" may close it
    # next generate call: another prompt, exactly one token longer than the last call, ending in "1"
    other = tokenizer.encode("<|user|>wxyz1", add_special_tokens=False)
    assert len(other) == len(prompt) + 2
    out = proc(torch.tensor([other]), _scores(tokenizer))
    assert not torch.isfinite(out[0, close])  # a fresh value: "]" cannot start it


@pytest.mark.parametrize("design", ["automaton", "llguidance"])
def test_padded_embedding_rows_are_never_chosen(tokenizer: Any, design: str) -> None:
    wide = tiny_model(len(tokenizer) + 13, seed=5)
    with torch.no_grad():
        wide.lm_head.weight[len(tokenizer) :] = 10.0  # make the padding ids the model's favourites
    enc = tokenizer(PROMPTS, return_tensors="pt", padding=True, padding_side="left")
    procs = constrained_processor(tokenizer, "lc-t", 16, design=design)
    out = wide.generate(
        **enc,
        max_new_tokens=16,
        logits_processor=procs,
        do_sample=False,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    assert int(out.max()) < len(tokenizer)


@pytest.mark.parametrize("ties", [False, True])
def test_greedy_picks_what_the_full_mask_argmax_picks(tokenizer: Any, ties: bool) -> None:
    """``greedy`` checks tokens best first instead of working out every allowed one: step by step it picks
    exactly ``argmax`` of the masked scores, on rows of every notation and an unconstrained one, with tight
    budgets (the value must close, EOS is forced) and with many equal scores (the lower id wins)."""
    notations: list[str | None] = [*GRAMMAR_NOTATIONS, None]
    g = torch.Generator().manual_seed(3 + ties)
    prompt = tokenizer.encode("<|user|>x<|assistant|>", add_special_tokens=False)
    for budget in (12, 40):
        full = NotationLogitsProcessor(tokenizer, notations, max_new_tokens=budget)
        fast = NotationLogitsProcessor(tokenizer, notations, max_new_tokens=budget)
        ids = torch.tensor([prompt] * len(notations))
        refused = 0
        for _ in range(budget):
            scores = torch.randn(len(notations), len(tokenizer), generator=g)
            if ties:
                scores = scores.round()  # a handful of distinct values: many ties at the top
            expected = full(ids, scores).argmax(-1)
            picked = fast.greedy(ids, scores)
            assert picked.tolist() == expected.tolist()
            refused += int((scores.argmax(-1) != expected).sum())
            ids = torch.cat([ids, expected[:, None]], dim=1)
        assert refused > 0  # the grammar overruled the best score somewhere: the check is not vacuous
        eos = tokenizer.eos_token_id
        for row, notation in zip(ids[:, len(prompt) :].tolist(), notations, strict=True):
            if notation is not None and notation != "lc-b-hex":  # each constrained row closed its value
                value = row[: row.index(eos)] if eos in row else row  # in budget: EOS or the last token
                hlx.loads(tokenizer.decode(value), notation, strict=True)


def test_each_row_closes_its_value_within_its_own_budget(tokenizer: Any) -> None:
    """Per-row budgets: the tight row must close ``[[[`` now, the loose row may still open another level;
    a row's answer so depends on its own cap, not on the batch it shares."""
    proc = NotationLogitsProcessor(tokenizer, ["lc-t", "lc-t"], max_new_tokens=[6, 40])
    ids = [tokenizer.encode("<|user|>x<|assistant|>", add_special_tokens=False)] * 2
    for ch in "[[[":
        proc(torch.tensor(ids), _scores(tokenizer, rows=2))
        ids = [[*row, tokenizer.convert_tokens_to_ids(ch)] for row in ids]
    out = proc(torch.tensor(ids), _scores(tokenizer, rows=2))  # 3 tokens left in row 0, 37 in row 1
    opening = tokenizer.convert_tokens_to_ids("[")
    assert not torch.isfinite(out[0, opening]) and torch.isfinite(out[1, opening])
    with pytest.raises(ConfigError, match="2 notations but 3 token budgets"):
        NotationLogitsProcessor(tokenizer, ["lc-t", "lc-r"], max_new_tokens=[8, 8, 8])
    with pytest.raises(ConfigError, match="max_new_tokens=2 is below the shortest lc-b-text"):
        NotationLogitsProcessor(tokenizer, ["lc-t", "lc-b-text"], max_new_tokens=[2, 2])
    NotationLogitsProcessor(tokenizer, "lc-t", max_new_tokens=[8, 30, 12])  # one notation for every row


def test_best_allowed_keeps_the_full_masks_top_tokens(tokenizer: Any) -> None:
    """``best_allowed(ids, scores, k)`` keeps exactly the ``k`` best tokens of the full mask (same scores,
    same order), step by step, on every notation with tight and loose budgets; unconstrained rows keep all."""
    notations: list[str | None] = [*GRAMMAR_NOTATIONS, None]
    g = torch.Generator().manual_seed(11)
    prompt = tokenizer.encode("<|user|>x<|assistant|>", add_special_tokens=False)
    budgets = [12 if i % 2 else 40 for i in range(len(notations))]
    full = NotationLogitsProcessor(tokenizer, notations, max_new_tokens=budgets)
    fast = NotationLogitsProcessor(tokenizer, notations, max_new_tokens=budgets)
    ids = torch.tensor([prompt] * len(notations))
    constrained = 0
    for _ in range(12):
        scores = torch.randn(len(notations), len(tokenizer), generator=g)
        masked = full(ids, scores)
        kept = fast.best_allowed(ids, scores, 2)
        for row in range(len(notations)):
            if notations[row] is None or bool(torch.isfinite(masked[row]).all()):  # free, or its value done
                assert torch.equal(kept[row], scores[row])
                continue
            constrained += 1
            finite = torch.isfinite(kept[row]).nonzero().flatten()
            top = masked[row].topk(min(2, int(torch.isfinite(masked[row]).sum()))).indices
            assert sorted(finite.tolist()) == sorted(top.tolist())
            assert torch.equal(kept[row, finite], scores[row, finite])
        ids = torch.cat([ids, masked.argmax(-1)[:, None]], dim=1)
    assert constrained > 3 * len(GRAMMAR_NOTATIONS)  # most steps checked a constrained row
