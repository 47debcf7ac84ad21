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
