"""Fixtures shared by several suites.

``tiny_system``: a tiny *untrained* system directory built once per session: char tokenizer, random tiny base, random
LoRA experts, routers fitted on a small corpus. Untrained experts answer nonsense, which is exactly what
the verification and grammar tests need."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from helixmoe import tasks


@pytest.fixture(scope="session")
def tiny_system(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from helixmoe.config import ExpertConfig, SystemConfig
    from helixmoe.models.base import build_base, save_base
    from helixmoe.models.experts import ExpertPool
    from helixmoe.models.layout import save_system_skeleton
    from helixmoe.models.tokenizer import save_tokenizer, train_tokenizer
    from helixmoe.routing.train import train_routers

    torch.set_num_threads(1)
    torch.manual_seed(0)
    root = tmp_path_factory.mktemp("system") / "tiny"
    train = tasks.generate(3000, seed=0, split="train")
    val = tasks.generate(300, seed=1, split="val")
    tok = train_tokenizer([e.prompt for e in train] + [e.response for e in train], scheme="char")
    config = SystemConfig(
        name="tiny-test",
        experts={e: ExpertConfig() for e in tasks.EXPERTS},
        model={"size": "tiny"},
        lora={"r": 4, "alpha": 8},
    )
    layout = save_system_skeleton(root, config)
    save_tokenizer(tok, layout.tokenizer_dir)
    base = build_base("tiny", tok, seed=0)
    save_base(base, layout.base_dir)
    pool = ExpertPool(base, tok)
    for name in tasks.EXPERTS:
        pool.add(name, config.lora_for(name))
        pool.save(name, layout.expert_dir(name))
    train_routers(train, val, layout.router_dir, coordinator=True)
    return root
