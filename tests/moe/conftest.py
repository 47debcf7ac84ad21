"""Fixtures of the MoE-LoRA tests: one CPU thread, a tiny Qwen3 causal LM, synthetic mixed-domain data."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


def tiny_qwen3(seed: int = 0, layers: int = 2, vocab: int = 64):
    """A ~30k-parameter Qwen3ForCausalLM built from a config (no download)."""
    from transformers import Qwen3Config, Qwen3ForCausalLM

    torch.manual_seed(seed)
    cfg = Qwen3Config(
        vocab_size=vocab,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=8,
        max_position_embeddings=64,
        tie_word_embeddings=True,
    )
    return Qwen3ForCausalLM(cfg).eval()


def mixed_domain_batch(gen: torch.Generator, batch: int = 16, seq: int = 16, vocab: int = 64):
    """Token ids from two domains with different distributions; returns (ids (B, S), domain (B,)).

    Domain 0: counting sequences x, x+1, x+2, ... over the low half of the vocabulary.
    Domain 1: a random 3-token motif repeated, over the high half of the vocabulary.
    """
    half = vocab // 2
    domain = torch.randint(0, 2, (batch,), generator=gen)
    pos = torch.arange(seq)
    start = torch.randint(0, half, (batch, 1), generator=gen)
    counting = (start + pos) % half  # (B, S)
    motif = torch.randint(half, vocab, (batch, 3), generator=gen)
    repeated = motif[:, pos % 3]  # (B, S)
    ids = torch.where(domain[:, None] == 0, counting, repeated)
    return ids, domain


@pytest.fixture
def tiny_model():
    return tiny_qwen3()


@pytest.fixture
def make_model():
    """The :func:`tiny_qwen3` factory, for tests that need several models."""
    return tiny_qwen3


@pytest.fixture
def make_batch():
    """The :func:`mixed_domain_batch` factory."""
    return mixed_domain_batch
