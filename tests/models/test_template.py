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
