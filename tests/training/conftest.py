"""Fixtures of the training tests, over the builders in :mod:`training_helpers` (a char tokenizer, a tiny
Qwen3, a toy reversal task)."""

from __future__ import annotations

import pytest
import torch
from training_helpers import make_tokenizer, reversal_pairs

from helixmoe.training.data import EncodedDataset
from helixmoe.training.exact_match import EvalSample


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


@pytest.fixture
def tokenizer():
    return make_tokenizer()


@pytest.fixture
def toy_data(tokenizer):
    train = EncodedDataset(tokenizer, reversal_pairs(64, seed=1), max_len=32)
    val = EncodedDataset(tokenizer, reversal_pairs(16, seed=2), max_len=32)
    samples = [EvalSample(prompt=p.prompt, reference=p.response) for p in reversal_pairs(8, seed=3)]
    return train, val, samples
