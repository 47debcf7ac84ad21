"""Seeded random HLX values covering every type and the awkward literals (for the grammar tests)."""

from __future__ import annotations

import random
import string
from typing import Any

from helixmoe.hlx import Contract, Handle

_FLOATS = (
    0.0,
    1.0,
    -2.5,
    3.14159,
    1e-10,
    1e16,
    1.5e-07,
    10000000000.0,
    1e300,
    -1e-300,
    0.1,
    123456.789,
    2.0**-1074,
)
_INTS = (
    0,
    1,
    -1,
    42,
    -100,
    255,
    256,
    -32768,
    -32769,
    2**31 - 1,
    2**31,
    -(2**31),
    -(2**31) - 1,
    2**63 - 1,
    -(2**63),
    65535,
    0x8000,
    0xFFFF,
    0x80000000,
)
_CHARS = string.ascii_letters + string.digits + ' "\\/\n\r\t\x00\x08\x0c\x1f\x7f\x80é€😀\u2028\ufffd'
_KEY_START = string.ascii_letters + "_"


def _string(rng: random.Random) -> str:
    return "".join(rng.choice(_CHARS) for _ in range(rng.randint(0, 6)))


def _key(rng: random.Random) -> str:
    while True:
        key = rng.choice(_KEY_START) + "".join(
            rng.choice(_KEY_START + string.digits) for _ in range(rng.randint(0, 4))
        )
        if key != "C":
            return key


def random_value(rng: random.Random, depth: int = 0) -> Any:
    """A random value of any type; containers up to depth 3."""
    kind = rng.choice(
        ["null", "bool", "int", "float", "str", "bytes", "handle"]
        + ["list", "dict", "contract"] * (depth < 3)
    )
    if kind == "null":
        return None
    if kind == "bool":
        return rng.random() < 0.5
    if kind == "int":
        return (
            rng.choice(_INTS)
            if rng.random() < 0.5
            else rng.randint(-(2**63), 2**63 - 1) >> rng.randint(0, 63)
        )
    if kind == "float":
        return (
            rng.choice(_FLOATS)
            if rng.random() < 0.5
            else rng.uniform(-1e6, 1e6) * 10.0 ** rng.randint(-30, 30)
        )
    if kind == "str":
        return _string(rng)
    if kind == "bytes":
        return bytes(rng.randrange(256) for _ in range(rng.randint(0, 5)))
    if kind == "handle":
        return Handle(rng.choice(["a", "documents", "vs", "A_1", "0"]))
    if kind == "list":
        return [random_value(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    if kind == "dict":
        return {_key(rng): random_value(rng, depth + 1) for _ in range(rng.randint(0, 3))}
    indices = sorted(rng.sample(range(0, 300 if rng.random() < 0.2 else 12), rng.randint(0, 3)))
    fields = tuple((i, random_value(rng, depth + 1)) for i in indices if i <= 255)
    return Contract(rng.choice([0, 14, 902, 1000, 65535]), fields)
