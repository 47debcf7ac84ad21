"""Fixtures of the evaluation tests: a scripted fake predictor (exact metric checks without a model) and a
tiny *untrained* system directory (the end-to-end run; same recipe as tests/system/conftest.py, smaller)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from helixmoe import tasks


@dataclass
class FakeRoute:
    expert: str
    confidence: float = 0.9
    abstained: bool = False
    router: str = "fake"


@dataclass
class FakeAnswer:
    text: str
    expert: str
    route: FakeRoute
    verified: bool | None = None
    fallback_used: str | None = None
    model_text: str = ""
    timings: dict[str, float] = field(default_factory=dict)


class FakePredictor:
    """Routes and answers from scripts.

    Args:
        routes: prompt -> the expert the "router" picks.
        answers: (prompt, expert) -> the answer that expert gives (default: a wrong answer).
        gen_ms: prompt -> generation milliseconds reported for that row.
        unverifiable: prompts whose answers get ``verified=None``.
    """

    def __init__(
        self,
        experts: Sequence[str],
        routes: dict[str, str],
        answers: dict[tuple[str, str], str],
        *,
        gen_ms: dict[str, float] | None = None,
        unverifiable: set[str] | None = None,
        references: dict[str, str] | None = None,
    ) -> None:
        self._experts = list(experts)
        self.routes = routes
        self.answers = answers
        self.gen_ms = gen_ms or {}
        self.unverifiable = unverifiable or set()
        self.references = references or {}
        self.calls: list[dict[str, Any]] = []

    @property
    def experts(self) -> list[str]:
        return self._experts

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def route(self, text: str) -> FakeRoute:
        return FakeRoute(self.routes[text])

    def batch(
        self,
        texts: Sequence[str],
        *,
        experts: Sequence[str] | None = None,
        verify: str | None = None,
        batch_size: int = 16,
    ) -> list[FakeAnswer]:
        self.calls.append(
            {"texts": list(texts), "experts": None if experts is None else list(experts), "verify": verify}
        )
        out = []
        for i, text in enumerate(texts):
            route = self.route(text)
            expert = experts[i] if experts is not None else route.expert
            said = self.answers.get((text, expert), "definitely not the answer")
            right = said == self.references.get(text)
            answer = FakeAnswer(
                text=said,
                expert=expert,
                route=route,
                model_text=said,
                verified=None if text in self.unverifiable or verify == "off" else right,
            )
            if verify == "oracle" and answer.verified is False:
                answer.text, answer.verified, answer.fallback_used = self.references[text], True, "oracle"
            gen = self.gen_ms.get(text, 10.0)
            answer.timings = {"route": 0.5, "generate": gen, "verify": 0.1, "total": gen + 0.6}
            out.append(answer)
        return out


@pytest.fixture(scope="session")
def tiny_system(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import torch

    from helixmoe.config import ExpertConfig, SystemConfig
    from helixmoe.models.base import build_base, save_base
    from helixmoe.models.experts import ExpertPool
    from helixmoe.models.layout import save_system_skeleton
    from helixmoe.models.tokenizer import save_tokenizer, train_tokenizer
    from helixmoe.routing.train import train_routers

    torch.set_num_threads(1)
    torch.manual_seed(0)
    root = tmp_path_factory.mktemp("evalsystem") / "tiny"
    train = tasks.generate(1500, seed=0, split="train")
    val = tasks.generate(200, seed=1, split="val")
    tok = train_tokenizer([e.prompt for e in train] + [e.response for e in train], scheme="char")
    config = SystemConfig(
        name="tiny-eval-test",
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
