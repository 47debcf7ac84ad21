"""Builders the training tests share: a char tokenizer, a tiny Qwen3, a toy reversal task, tiny configs.

Plain functions in a module of their own (``conftest.py`` re-exports them as fixtures): test files import
them by this unique name, since ``from conftest import`` picks whichever test directory's ``conftest`` was
imported first when several directories run together.
"""

from __future__ import annotations

import random
import string

import torch

from helixmoe.config.training import PhaseConfig, TrainingConfig
from helixmoe.training.data import TextPair

ALPHABET = string.ascii_lowercase[:8] + " =>"


def make_tokenizer():
    from helixmoe.models.tokenizer import train_tokenizer

    return train_tokenizer([ALPHABET], scheme="char", min_frequency=1)


def make_model(seed: int = 0, vocab_size: int = 400, hidden: int = 32):
    from transformers import Qwen3Config, Qwen3ForCausalLM

    torch.manual_seed(seed)
    config = Qwen3Config(
        vocab_size=vocab_size,
        hidden_size=hidden,
        intermediate_size=2 * hidden,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=hidden // 4,
        max_position_embeddings=64,
        pad_token_id=0,
        eos_token_id=1,
        bos_token_id=None,
        tie_word_embeddings=True,
    )
    return Qwen3ForCausalLM(config)


def reversal_pairs(n: int, seed: int) -> list[TextPair]:
    rng = random.Random(seed)
    pairs = []
    for _ in range(n):
        word = "".join(rng.choice(ALPHABET[:8]) for _ in range(rng.randint(2, 4)))
        pairs.append(TextPair(prompt=f"{word} =>", response=word[::-1]))
    return pairs


def tiny_training(
    max_steps: int = 8,
    eval_steps: int | None = 4,
    patience: int | None = None,
    lr: float = 3e-3,
    scheduler: str = "constant",
) -> tuple[TrainingConfig, PhaseConfig]:
    training = TrainingConfig(
        seed=0, checkpoint_every=None, logging_steps=1, progress_bars=False, save_total_limit=10
    )
    phase = PhaseConfig(
        max_steps=max_steps,
        lr=lr,
        batch_size=8,
        eval_steps=eval_steps,
        patience=patience,
        warmup_ratio=0.0,
        scheduler=scheduler,
    )
    return training, phase
