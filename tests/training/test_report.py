"""The post-training exact-match check grades each expert's slice through its adapter, or the bare base."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from helixmoe import tasks
from helixmoe.tasks.corpus import write_corpus
from helixmoe.training import report


class _Pool:
    """Answers every prompt with its reference when asked with the adapter, else wrongly; records calls."""

    def __init__(self, references: dict[str, str]) -> None:
        self.references = references
        self.calls: list[list[str | None]] = []
        self.tokenizer = lambda text, add_special_tokens=False: {"input_ids": list(text)}

    def generate(self, prompts, experts, max_new_tokens, batch_size, value_at=None):
        self.calls.append(list(experts))
        self.value_at = value_at
        return [
            self.references[p] if e is not None else "not it" for p, e in zip(prompts, experts, strict=True)
        ]


@pytest.mark.parametrize("bare_base", [False, True])
def test_bare_base_answers_every_slice_without_an_adapter(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bare_base: bool
) -> None:
    examples = [e for e in tasks.generate(60, 0, split="test") if e.expert in ("ascii", "runic")]
    write_corpus(tmp_path / "test.jsonl", examples)
    pool = _Pool({e.prompt: e.response for e in examples})
    config = SimpleNamespace(
        experts={"ascii": None, "runic": None},
        training=SimpleNamespace(task_hints=False, prompt_style="plain"),
    )
    loaded = SimpleNamespace(pool=pool, config=config)
    monkeypatch.setattr("helixmoe.models.layout.load_system", lambda *a, **k: loaded)

    result = report.evaluate_experts(tmp_path, tmp_path, splits=("test",), bare_base=bare_base)

    assert [set(call) for call in pool.calls] == ([{None}, {None}] if bare_base else [{"ascii"}, {"runic"}])
    assert set(pool.value_at) == {None}  # plain prompts: no aligned positions
    assert {name: per["test"]["exact_match"] for name, per in result.items()} == (
        {"ascii": 0.0, "runic": 0.0} if bare_base else {"ascii": 1.0, "runic": 1.0}
    )
