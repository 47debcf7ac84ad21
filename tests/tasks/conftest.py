"""Shared fixtures of the task-family tests (pure Python: no torch anywhere here)."""

from __future__ import annotations

import pytest

from helixmoe import tasks

#: Families that generate examples (``imported`` only holds external ones).
GENERATING = [name for name in tasks.list_families() if tasks.get_family(name).weight > 0]


@pytest.fixture(scope="session")
def samples() -> dict[str, list[tasks.Example]]:
    """300 train and 100 ood examples per generating family (fixed seeds)."""
    out = {}
    for name in GENERATING:
        out[name] = tasks.generate(300, 11, [name], "train") + tasks.generate(100, 11, [name], "ood")
    return out


@pytest.fixture(scope="session")
def small_corpus(tmp_path_factory: pytest.TempPathFactory):
    """A 600-example corpus directory built once."""
    out = tmp_path_factory.mktemp("corpus")
    tasks.build_corpus(out, 600, 5)
    return out
