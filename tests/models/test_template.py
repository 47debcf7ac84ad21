"""The shared prompt template: exact prompt/response boundary and loss on the response only."""

from __future__ import annotations

import pytest

from helixmoe.errors import DataError
from helixmoe.models.template import (
    IGNORE_INDEX,
    encode_example,
    encode_prompt,
    render_example,
    render_prompt,
    with_task_hint,
)


def test_render() -> None:
    assert render_prompt("hi") == "<|user|>hi<|assistant|>"
    assert render_example("hi", "yo") == "<|user|>hi<|assistant|>yo<|eos|>"


def test_task_hint_is_a_first_line() -> None:
    assert with_task_hint("Convert [1]", "lc-r") == "@task lc-r\nConvert [1]"
    assert with_task_hint("Convert [1]", None) == "Convert [1]"


def test_encode_example_masks_the_prompt(char_tokenizer) -> None:
    example = encode_example(char_tokenizer, "Convert: [1]", "🜃1🜄")
    prompt_ids = encode_prompt(char_tokenizer, "Convert: [1]")
    assert example.input_ids[: example.prompt_length] == prompt_ids
    assert example.input_ids == char_tokenizer.encode(
        render_example("Convert: [1]", "🜃1🜄"), add_special_tokens=False
    )
    assert example.labels[: example.prompt_length] == [IGNORE_INDEX] * len(prompt_ids)
    assert example.labels[example.prompt_length :] == example.input_ids[example.prompt_length :]
    assert example.input_ids[-1] == char_tokenizer.eos_token_id
    assert sum(example.response_mask) == 3 + 1  # three characters and EOS


def test_too_long_example_is_an_error_not_a_truncation(char_tokenizer) -> None:
    with pytest.raises(DataError, match="exceeds max_length 5"):
        encode_example(char_tokenizer, "a long prompt", "x", max_length=5)


def test_request_prompt_styles() -> None:
    from helixmoe.models.template import request_prompt

    request = "hey, write {a: 1} in lc-t please"
    assert request_prompt(request, "lc-t", "plain") == request
    assert request_prompt(request, "lc-t", "hint") == "@task lc-t\n" + request
    assert request_prompt(request, "lc-t", "frame") == "@task lc-t\n{a: 1}"
    assert request_prompt(request, "multi:hlxl,lc-r", "frame") == "@task multi:hlxl,lc-r\n{a: 1}"
    hexed = "translate the raw binary (hex) 50 00 0e 00 back to HLXL"
    assert request_prompt(hexed, "hlxl", "frame") == "@task hlxl\n50 00 0e 00"
    # verdicts and questions keep the English; so does a request with no value in it, or no task
    assert (
        request_prompt("is [1, 2] valid HLXL?", "validate", "frame")
        == "@task validate\nis [1, 2] valid HLXL?"
    )
    assert request_prompt("what is LC-R?", "explain", "frame") == "@task explain\nwhat is LC-R?"
    assert request_prompt("to LC-R please", "lc-r", "frame") == "@task lc-r\nto LC-R please"
    assert request_prompt(request, None, "frame") == request
    with pytest.raises(DataError, match="prompt style"):
        request_prompt(request, "lc-t", "fancy")


def test_framing_needs_task_hints() -> None:
    from helixmoe.config import load_config
    from helixmoe.demo_plan import builtin_config_path
    from helixmoe.errors import ConfigError

    with pytest.raises(ConfigError, match=r"frame_requests needs training\.task_hints"):
        load_config(builtin_config_path(), ["training.task_hints=false", "training.frame_requests=true"])
    framed = load_config(builtin_config_path(), ["training.task_hints=true", "training.frame_requests=true"])
    assert framed.training.prompt_style == "frame"


def test_batched_encoding_is_encode_example_for_each(monkeypatch: pytest.MonkeyPatch) -> None:
    """encode_examples (one batched tokenizer call per chunk) gives encode_example's ids for every example,
    aligned or not, across chunk boundaries, and the same error for one that is too long."""
    import helixmoe.models.template as template
    from helixmoe.models.tokenizer import train_tokenizer
    from helixmoe.tasks import generate
    from helixmoe.training.data import EncodedDataset, encode_pair
    from helixmoe.training.stages import pairs_of

    examples = generate(120, seed=5)
    tok = train_tokenizer([t for e in examples for t in (e.prompt, e.response)], vocab_size=400)
    pairs = pairs_of(examples, "aligned") + pairs_of(examples, "plain")
    assert any(p.value_at is not None for p in pairs) and any(p.value_at is None for p in pairs)
    monkeypatch.setattr(template, "_ENCODE_CHUNK", 7)  # many chunks, a short last one
    max_len = sorted(len(encode_example(tok, p.prompt, p.response).input_ids) for p in pairs)[len(pairs) // 2]
    batched = list(
        template.encode_examples(tok, [(p.prompt, p.response, p.value_at) for p in pairs], max_len)
    )
    assert len(batched) == len(pairs)
    too_long = 0
    for got, p in zip(batched, pairs, strict=True):
        try:
            want = encode_example(tok, p.prompt, p.response, max_length=max_len, value_at=p.value_at)
        except DataError as err:
            assert isinstance(got, DataError) and str(got) == str(err)
            too_long += 1
        else:
            assert got == want
    assert 0 < too_long < len(pairs)
    dataset = EncodedDataset(tok, pairs, max_len=max_len, response_only=False, skip_long=True)
    assert dataset.skipped == too_long
    fitting = [p for p, got in zip(pairs, batched, strict=True) if not isinstance(got, DataError)]
    assert dataset.rows == [encode_pair(tok, p, max_len=max_len, response_only=False) for p in fitting]
    with pytest.raises(DataError, match="exceeds max_length"):
        EncodedDataset(tok, pairs, max_len=max_len)
