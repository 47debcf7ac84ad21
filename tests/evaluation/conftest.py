"""Fixtures of the evaluation tests: a scripted fake predictor (exact metric checks without a model) and a
tiny *untrained* system directory (the end-to-end run; same recipe as tests/system/conftest.py, smaller)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


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


# ``tiny_system`` (a tiny untrained system directory) comes from tests/conftest.py.
