"""Fixtures of the models tests: one CPU thread, a small HLX-flavoured corpus, a char tokenizer, a saved tiny base."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

CORPUS = [
    "Convert to LC-R: [1, 2, 3]",
    "🜃1, 2, 3🜄",
    'Convert {name: "Alice", age: 30} to LC-T',
    '{name:"Alice",age:30}',
    '◇name: "Alice", age: 30◆',
    '🜊1000🜁0 "search"🜁1 ⟁documents🜂',
    '{C:1000,0="search",1=@documents}',
    '[1000|0:"search"|1:&documents]',
    "Translate into runic: {14: {@0: 42}}",
    '∅ ⊤ ⊥ ⊠6461 b"data" #64617461 NULL TRUE FALSE',
    "What is 12 + 30? The answer is 42.",
] * 3


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def corpus() -> list[str]:
    return list(CORPUS)


@pytest.fixture(scope="session")
def char_tokenizer(corpus: list[str]):
    from helixmoe.models.tokenizer import train_tokenizer

    return train_tokenizer(corpus, "char")


@pytest.fixture(scope="session")
def tiny_base_dir(tmp_path_factory: pytest.TempPathFactory, char_tokenizer) -> Path:
    """A seeded tiny from-scratch base saved as an HF directory (config.json + model.safetensors)."""
    from helixmoe.models.base import build_base, save_base

    torch.set_num_threads(1)
    return save_base(
        build_base("tiny", char_tokenizer, max_seq_len=128, seed=0), tmp_path_factory.mktemp("m") / "base"
    )
