"""Fixtures of the grammar tests: one torch thread, the char tokenizer, a tiny random model."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from tests.grammar.fixtures import char_tokenizer, tiny_model
from transformers import PreTrainedTokenizerFast, Qwen3ForCausalLM


@pytest.fixture(scope="session", autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def tokenizer() -> PreTrainedTokenizerFast:
    return char_tokenizer()


@pytest.fixture(scope="session")
def model(tokenizer: Any) -> Qwen3ForCausalLM:
    return tiny_model(len(tokenizer))
