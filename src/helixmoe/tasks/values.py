"""Seeded random HLX values covering every type of the value model (spec §1), with size controls.

:func:`random_value` draws null, bools, ints (small or full int64), floats, strings (words, random ASCII,
escapes, non-ASCII characters), bytes, handles, arrays, objects and contracts — random ones with sparse
ascending field indices and realistic ones from spec §7 (14/15/16/17/20/21/22 literals, 900 shaders,
901 kernels, 902 pipelines, 1000 operations with handle arguments). Empty strings, bytes and containers
occur. Everything is decided by the ``rng`` and a :class:`~helixmoe.tasks.profiles.ValueSpec`.
"""

from __future__ import annotations

import random
from typing import Any

from helixmoe.hlx import Contract, Handle
from helixmoe.tasks.profiles import ASCII_TEXT, ESCAPES, OPERATIONS, WORDS, ValueSpec

__all__ = ["CONTAINER_KINDS", "count_nodes", "depth_of", "random_value"]

CONTAINER_KINDS = ("array", "object", "contract")
_SCALAR_KINDS = ("null", "bool", "int", "float", "string", "bytes", "handle")
_RANDOM_CONTRACT_IDS = (14, 15, 16, 17, 20, 21, 22, 100, 101, 102, 103, 104, 105, 106, 107, 1001, 1002, 1005)
_STAGES = ("vertex", "fragment", "compute")
_PIPELINES = ("render_pipeline", "shadow_pass", "post_fx", "compute_pass")
_DEFAULT_SPEC = ValueSpec()
_MAX_DRAWS = 200


def random_value(rng: random.Random, spec: ValueSpec | None = None) -> Any:
    """Draw one HLX value.

    Args:
        rng: the only source of randomness (same state, same value).
        spec: sizes and vocabularies (default :class:`ValueSpec()`, the in-distribution sizes).

    Returns:
        A value of the HLX model (``None``, ``bool``, ``int``, ``float``, ``str``, ``bytes``, ``list``,
        ``dict``, :class:`~helixmoe.hlx.Handle`, :class:`~helixmoe.hlx.Contract`) whose nesting depth
        lies in ``[spec.min_depth, spec.max_depth]`` and that holds at most ``spec.max_nodes`` values.

    Raises:
        ValueError: ``max_nodes`` is too small for the other controls (no draw fits).
    """
    spec = spec or _DEFAULT_SPEC
    for _ in range(_MAX_DRAWS):
        if spec.min_depth > 0 or (spec.max_depth > 0 and rng.random() < spec.container_prob):
            kind = _pick(rng, spec, CONTAINER_KINDS)
        else:
            kind = _pick(rng, spec, _SCALAR_KINDS)
        value = _make(rng, spec, kind, spec.max_depth, spec.min_depth)
        if spec.max_nodes is None or count_nodes(value) <= spec.max_nodes:
            return value
    raise ValueError(f"no value with at most {spec.max_nodes} nodes in {_MAX_DRAWS} draws; raise max_nodes")


def count_nodes(value: Any) -> int:
    """How many values ``value`` holds, itself and containers included (``[1, [2]]`` has 4)."""
    kind = type(value)
    if kind is list:
        return 1 + sum(count_nodes(v) for v in value)
    if kind is dict:
        return 1 + sum(count_nodes(v) for v in value.values())
    if kind is Contract:
        return 1 + sum(count_nodes(v) for _, v in value.fields)
    return 1


def depth_of(value: Any) -> int:
    """Nesting depth of ``value`` (a scalar is 0, ``[]`` and ``[1]`` are 1)."""
    kind = type(value)
    if kind is list:
        return 1 + max((depth_of(v) for v in value), default=0)
    if kind is dict:
        return 1 + max((depth_of(v) for v in value.values()), default=0)
    if kind is Contract:
        return 1 + max((depth_of(v) for _, v in value.fields), default=0)
    return 0


def _pick(rng: random.Random, spec: ValueSpec, kinds: tuple[str, ...]) -> str:
    weights = [spec.type_weights.get(k, 0.0) for k in kinds]
    return rng.choices(kinds, weights)[0]


def _child(rng: random.Random, spec: ValueSpec, budget: int, need: int) -> Any:
    """A value nested inside a container: ``budget`` levels left, at least ``need`` levels required."""
    if need > 0:
        kind = _pick(rng, spec, ("array", "object"))
    elif budget <= 0:
        kind = _pick(rng, spec, _SCALAR_KINDS)
    else:
        kind = _pick(rng, spec, _SCALAR_KINDS + CONTAINER_KINDS)
    return _make(rng, spec, kind, budget, need)


def _make(rng: random.Random, spec: ValueSpec, kind: str, budget: int, need: int) -> Any:
    if kind == "null":
        return None
    if kind == "bool":
        return rng.random() < 0.5
    if kind == "int":
        return _int(rng, spec)
    if kind == "float":
        return rng.choice(spec.floats) if spec.floats else round(rng.uniform(-1000, 1000), 2) + 0.0
    if kind == "string":
        return _string(rng, spec)
    if kind == "bytes":
        return _bytes(rng, spec)
    if kind == "handle":
        return Handle(rng.choice(spec.handles))
    if kind == "array":
        return _items(rng, spec, budget, need)
    if kind == "object":
        return _object(rng, spec, budget, need)
    return _contract(rng, spec, budget, need)


def _count(rng: random.Random, spec: ValueSpec, need: int) -> int:
    if need <= 0 and rng.random() < 0.1:
        return 0
    return rng.randint(1, spec.max_items)


def _items(rng: random.Random, spec: ValueSpec, budget: int, need: int) -> list[Any]:
    n = _count(rng, spec, need)
    deep = rng.randrange(n) if n else -1
    return [_child(rng, spec, budget - 1, need - 1 if i == deep else 0) for i in range(n)]


def _object(rng: random.Random, spec: ValueSpec, budget: int, need: int) -> dict[str, Any]:
    n = min(_count(rng, spec, need), len(spec.keys))
    keys = rng.sample(spec.keys, n)
    deep = rng.randrange(n) if n else -1
    return {k: _child(rng, spec, budget - 1, need - 1 if i == deep else 0) for i, k in enumerate(keys)}


def _contract(rng: random.Random, spec: ValueSpec, budget: int, need: int) -> Contract:
    if need <= 1 and rng.random() < spec.realistic_contract_prob:
        return _realistic_contract(rng, spec, budget)
    cid = rng.choice(_RANDOM_CONTRACT_IDS) if rng.random() < 0.7 else rng.randint(0, 2000)
    n = _count(rng, spec, need)
    deep = rng.randrange(n) if n else -1
    fields, index = [], rng.choice((0, 0, 0, 1))
    for i in range(n):
        fields.append((index, _child(rng, spec, budget - 1, need - 1 if i == deep else 0)))
        index += 1 if rng.random() < 0.8 else 2
    return Contract(cid, tuple(fields))


def _realistic_contract(rng: random.Random, spec: ValueSpec, budget: int) -> Contract:
    """A contract as people write them (spec §7)."""
    choice = rng.choice(("lit", "lit", "op", "op", "op", "shader", "kernel", "pipeline"))
    if choice == "lit":
        cid, kind = rng.choice(
            (
                (14, "int"),
                (15, "float"),
                (16, "string"),
                (17, "bytes"),
                (20, "handle"),
                (22, "bool"),
                (21, None),
            )
        )
        return Contract(cid, ()) if kind is None else Contract(cid, ((0, _make(rng, spec, kind, 0, 0)),))
    if choice == "shader":
        return Contract(900, ((0, Handle(rng.choice(spec.handles))), (1, "main"), (2, rng.choice(_STAGES))))
    if choice == "kernel":
        dims = tuple((i + 1, rng.choice((1, 8, 16, 32, 64))) for i in range(rng.randint(1, 3)))
        return Contract(901, ((0, Handle(rng.choice(spec.handles))), *dims))
    if choice == "pipeline":
        if budget >= 2 and rng.random() < 0.5:
            stages = [Handle(h) for h in rng.sample(spec.handles, rng.randint(1, min(3, spec.max_items)))]
            return Contract(902, ((0, rng.choice(_PIPELINES)), (1, stages)))
        return Contract(902, ((0, Handle(rng.choice(spec.handles))), (1, 64), (2, 64), (3, 1)))
    if budget >= 3 and rng.random() < 0.2:
        return Contract(1000, ((0, "dispatch"), (1, _realistic_contract_of(rng, spec, budget - 1))))
    args = [(i + 1, _op_arg(rng, spec)) for i in range(rng.randint(0, min(3, spec.max_items)))]
    return Contract(1000, ((0, rng.choice(OPERATIONS)), *args))


def _realistic_contract_of(rng: random.Random, spec: ValueSpec, budget: int) -> Contract:
    stages = [Handle(h) for h in rng.sample(spec.handles, 2)]
    return Contract(902, ((0, rng.choice(_PIPELINES)), (1, stages)))


def _op_arg(rng: random.Random, spec: ValueSpec) -> Any:
    kind = rng.choice(("handle", "handle", "handle", "int", "string"))
    return _make(rng, spec, kind, 0, 0)


def _int(rng: random.Random, spec: ValueSpec) -> int:
    if spec.big_int_prob and rng.random() < spec.big_int_prob:
        return rng.randint(-(2**63), 2**63 - 1)
    return rng.randint(spec.int_min, spec.int_max)


def _string(rng: random.Random, spec: ValueSpec) -> str:
    roll = rng.random()
    if roll < 0.04:
        return ""
    if roll < spec.word_prob:
        return rng.choice(WORDS)[: spec.max_str_len]
    chars = []
    for _ in range(rng.randint(1, spec.max_str_len)):
        r = rng.random()
        if r < spec.escape_prob:
            chars.append(rng.choice(ESCAPES))
        elif r < spec.escape_prob + spec.unicode_prob and spec.unicode_chars:
            chars.append(rng.choice(spec.unicode_chars))
        else:
            chars.append(rng.choice(ASCII_TEXT))
    return "".join(chars)


def _bytes(rng: random.Random, spec: ValueSpec) -> bytes:
    n = rng.randint(0, spec.max_bytes_len)
    if rng.random() < 0.5:
        return bytes(rng.choice(b"abcdefxyz0123 ") for _ in range(n))
    return bytes(rng.randrange(256) for _ in range(n))
