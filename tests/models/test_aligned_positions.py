"""Aligned answer positions (training.aligned_positions): where the value starts, the encoded positions, the
collator and the decoder that honours them."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from helixmoe.models.base import load_base
from helixmoe.models.decoding import greedy_decode
from helixmoe.models.template import (
    USER,
    aligned_value_at,
    encode_example,
    encode_prompt,
    encode_request,
)


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        ("@task lc-r\n[1, 2, 3]", len("@task lc-r\n")),
        ("@task lc-b-hex\n{a: 1}", len("@task lc-b-hex\n")),
        ("@task hlxl\n🜃1🜄", len("@task hlxl\n")),
        # verdicts, questions, several notations and unframed requests keep ordinary positions
        ("@task validate\nis [1] valid?", None),
        ("@task explain\nwhat is LC-R?", None),
        ("@task multi:hlxl,lc-r\n[1]", None),
        ("@task lc-r", None),
        ("Convert [1] to LC-R", None),
        ("task lc-r\n[1]", None),
    ],
)
def test_aligned_value_at(prompt: str, expected: int | None) -> None:
    assert aligned_value_at(prompt) == expected


def test_encode_request_aligns_the_answer_with_the_value(char_tokenizer) -> None:
    prompt = "@task lc-r\n[1, 2]"
    at = aligned_value_at(prompt)
    request = encode_request(char_tokenizer, prompt, at)
    head = char_tokenizer.encode(USER + "@task lc-r\n", add_special_tokens=False)
    assert request.ids[: len(head)] == head
    # the first answer token sits where the value's second token sits (it is copied after the first)
    assert request.answer_position == len(head) + 1
    assert request.ids[len(head)] == char_tokenizer.convert_tokens_to_ids("[")
    plain = encode_request(char_tokenizer, prompt)
    assert plain.ids == encode_prompt(char_tokenizer, prompt)
    assert plain.answer_position == len(plain.ids)


def test_encode_example_carries_position_ids_only_when_aligned(char_tokenizer) -> None:
    prompt, response = "@task lc-r\n[1, 2]", "🜃1, 2🜄"
    plain = encode_example(char_tokenizer, prompt, response)
    assert plain.position_ids is None
    aligned = encode_example(char_tokenizer, prompt, response, value_at=aligned_value_at(prompt))
    assert aligned.input_ids == plain.input_ids  # the char tokenizer splits at the value anyway
    assert aligned.labels == plain.labels
    start = encode_request(char_tokenizer, prompt, aligned_value_at(prompt)).answer_position
    n = aligned.prompt_length
    assert aligned.position_ids == [*range(n), *range(start, start + len(response) + 1)]
    assert len(aligned.position_ids) == len(aligned.input_ids)


def test_collator_pads_position_ids(char_tokenizer) -> None:
    from helixmoe.training.data import TextPair, encode_pair, make_collator

    pairs = [TextPair("@task lc-r\n[1, 2, 3]", "🜃1, 2, 3🜄", 11), TextPair("hi", "yo")]
    rows = [encode_pair(char_tokenizer, p, max_len=64) for p in pairs]
    assert "position_ids" in rows[0] and "position_ids" not in rows[1]
    batch = make_collator(char_tokenizer)(rows)
    width = batch["input_ids"].shape[1]
    assert batch["position_ids"].shape == (2, width)
    first = rows[0]["position_ids"]
    assert batch["position_ids"][0].tolist() == first + list(
        range(first[-1] + 1, first[-1] + 1 + width - len(first))
    )
    assert batch["position_ids"][1].tolist() == list(
        range(width)
    )  # the unaligned row: as the model numbers it
    # without aligned rows the batch is HF's, with no position_ids
    assert "position_ids" not in make_collator(char_tokenizer)([rows[1], rows[1]])


def _alone(model, row: list[int], first: int, cap: int) -> list[int]:
    """Greedy tokens of one row by full forward passes with explicit positions (no cache)."""
    ids, positions, out = list(row), list(range(len(row))), []
    with torch.inference_mode():
        for k in range(cap):
            logits = model(input_ids=torch.tensor([ids]), position_ids=torch.tensor([positions])).logits
            token = int(logits[0, -1].argmax())
            out.append(token)
            ids.append(token)
            positions.append(first + k)
    return out


def _lively(tiny_base_dir: Path) -> torch.nn.Module:
    """The tiny base with large random weights: its greedy tokens depend on the positions (a fresh base
    repeats one token whatever they are)."""
    model = load_base(tiny_base_dir, device="cpu").eval()
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for param in model.parameters():
            param.copy_(torch.randn(param.shape, generator=g) * 0.5)
    return model


def test_greedy_decode_honours_first_positions(tiny_base_dir: Path, char_tokenizer) -> None:
    model = _lively(tiny_base_dir)
    prompts = ["@task lc-r\n[1, 2, 3]", "@task lc-t\n{name: 1}", "hi"]
    requests = [encode_request(char_tokenizer, p, aligned_value_at(p)) for p in prompts]
    rows, firsts = [r.ids for r in requests], [r.answer_position for r in requests]
    caps = [6, 5, 4]
    kwargs = dict(eos_token_id=-1, pad_token_id=char_tokenizer.pad_token_id)
    got = greedy_decode(model, rows, caps, first_positions=firsts, **kwargs)
    assert got == [_alone(model, r, f, c) for r, f, c in zip(rows, firsts, caps)]
    # the default is the prompt length, and the positions do change what a (random) model says
    ordinary = greedy_decode(model, rows, caps, **kwargs)
    assert ordinary == [_alone(model, r, len(r), c) for r, c in zip(rows, caps)]
    assert got[2] == ordinary[2] and got[:2] != ordinary[:2]
    for size in (1, 2):
        assert greedy_decode(model, rows, caps, first_positions=firsts, batch_size=size, **kwargs) == got


def test_first_positions_are_checked(tiny_base_dir: Path, char_tokenizer) -> None:
    from helixmoe.errors import ConfigError

    model = load_base(tiny_base_dir, device="cpu").eval()
    with pytest.raises(ConfigError, match="first positions"):
        greedy_decode(model, [[5, 6]], [2], eos_token_id=1, pad_token_id=0, first_positions=[1, 2])


def test_aligned_positions_need_framed_requests() -> None:
    from helixmoe.config import load_config
    from helixmoe.demo_plan import builtin_config_path
    from helixmoe.errors import ConfigError

    with pytest.raises(ConfigError, match=r"aligned_positions needs training\.frame_requests"):
        load_config(
            builtin_config_path(), ["training.frame_requests=false", "training.aligned_positions=true"]
        )
    aligned = load_config(builtin_config_path(), ["training.aligned_positions=true"])
    assert aligned.training.prompt_style == "aligned"
