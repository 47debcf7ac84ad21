"""The value generator covers spec §1 and respects its size controls."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from helixmoe import hlx, tasks
from helixmoe.tasks.values import count_nodes, depth_of


def _types(value, seen: Counter) -> None:
    seen[type(value).__name__] += 1
    if isinstance(value, list):
        seen["empty_list"] += not value
        for v in value:
            _types(v, seen)
    elif isinstance(value, dict):
        seen["empty_dict"] += not value
        for v in value.values():
            _types(v, seen)
    elif isinstance(value, hlx.Contract):
        seen[f"contract_{value.id}"] += 1
        for _, v in value.fields:
            _types(v, seen)
    elif isinstance(value, str):
        seen["escape"] += any(c in value for c in '"\\\n\t')
        seen["unicode"] += any(ord(c) > 0x7E for c in value)
    elif isinstance(value, bytes):
        seen["empty_bytes"] += not value


def test_covers_every_type_of_the_value_model() -> None:
    rng = random.Random(0)
    seen: Counter = Counter()
    for _ in range(3000):
        _types(tasks.random_value(rng), seen)
    for name in (
        "NoneType",
        "bool",
        "int",
        "float",
        "str",
        "bytes",
        "Handle",
        "list",
        "dict",
        "Contract",
        "empty_list",
        "empty_dict",
        "empty_bytes",
        "escape",
        "unicode",
        "contract_14",
        "contract_16",
        "contract_900",
        "contract_901",
        "contract_902",
        "contract_1000",
    ):
        assert seen[name] > 0, name


@pytest.mark.parametrize("split", ["train", "ood"])
def test_size_controls_and_round_trips(split: str) -> None:
    spec = tasks.PROFILES[split].value
    rng = random.Random(1)
    for _ in range(400):
        value = tasks.random_value(rng, spec)
        assert spec.min_depth <= depth_of(value) <= spec.max_depth
        assert count_nodes(value) <= spec.max_nodes
        for notation in ("hlxl", "lc-t", "lc-r", "lc-b-text", "lc-b-hex"):
            assert hlx.equal(hlx.loads(hlx.dumps(value, notation), notation), value)


def test_spec_knobs() -> None:
    spec = tasks.ValueSpec(max_depth=0, max_str_len=3, int_min=0, int_max=9, floats=())
    rng = random.Random(2)
    for _ in range(300):
        v = tasks.random_value(rng, spec)
        assert depth_of(v) == 0
        if type(v) is int:
            assert 0 <= v <= 9
        if isinstance(v, str):
            assert len(v) <= 3
    with pytest.raises(ValueError, match="max_nodes"):
        tasks.random_value(rng, tasks.ValueSpec(min_depth=2, max_nodes=1))
    with pytest.raises(ValueError):
        tasks.ValueSpec(keys=("C",))
    with pytest.raises(ValueError):
        tasks.ValueSpec(min_depth=3, max_depth=2)


def test_same_seed_same_value() -> None:
    a = [hlx.dumps(tasks.random_value(random.Random(5)), "hlxl") for _ in range(3)]
    assert len(set(a)) == 1
