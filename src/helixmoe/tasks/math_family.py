"""The second domain, ``math`` (expert ``math``): integer arithmetic and one-step linear equations.

It proves the system is not HLX-specific. ``"What is 15 + 27?"`` → ``42``; ``"Solve: x + 5 = 12"`` →
``x = 7``. Ranges come from :class:`~helixmoe.tasks.profiles.MathSpec`; answers are graded exactly, with
*equivalent* meaning the same integer written differently (``x=7``, ``7``, ``+7``).
"""

from __future__ import annotations

import random
import re
from typing import Any

from helixmoe.tasks.bank import BANKS
from helixmoe.tasks.base import Example, Grade, TaskFamily, make_meta, register_family
from helixmoe.tasks.phrasing import pick_template, render
from helixmoe.tasks.profiles import MathSpec

__all__ = ["MathFamily", "arithmetic_problem", "linear_problem"]

_INT_RE = re.compile(r"^(?:x\s*=\s*)?([+-]?\d+)\.?$")


def arithmetic_problem(rng: random.Random, spec: MathSpec) -> tuple[str, int]:
    """``("a op b", result)`` with op in + - *."""
    op = rng.choices("+-*", (2, 2, 1))[0]
    if op == "*":
        a, b = rng.randint(0, spec.mul_max), rng.randint(0, spec.mul_max)
        return f"{a} * {b}", a * b
    a, b = rng.randint(0, spec.add_max), rng.randint(0, spec.add_max)
    if op == "-" and not spec.allow_negative and b > a:
        a, b = b, a
    return f"{a} {op} {b}", a + b if op == "+" else a - b


def linear_problem(rng: random.Random, spec: MathSpec) -> tuple[str, int]:
    """``("x + a = b", x)`` and the other one-step forms, with an integer solution."""
    low = -spec.add_max if spec.allow_negative else 0
    form = rng.choice(("x+a", "a+x", "x-a", "a*x"))
    if form == "a*x":
        a = rng.randint(2, spec.coef_max)
        x = rng.randint(low // 4, spec.add_max // 4)
        return f"{a}x = {a * x}", x
    a = rng.randint(1, spec.add_max)
    x = rng.randint(max(low, -spec.add_max), spec.add_max)
    if form == "x-a":
        return f"x - {a} = {x - a}", x
    return (f"x + {a} = {x + a}" if form == "x+a" else f"{a} + x = {x + a}"), x


@register_family
class MathFamily(TaskFamily):
    """Integer arithmetic and linear equations."""

    name = "math"
    experts = ("math",)
    weight = 2.0

    def sample(self, rng: random.Random, profile: Any) -> tuple[str, str, str, dict[str, str | None]]:
        if rng.random() < 0.6:
            expr, result = arithmetic_problem(rng, profile.math)
            kind, slots, response = "arith", {"expr": expr}, str(result)
        else:
            expr, result = linear_problem(rng, profile.math)
            kind, slots, response = "linear", {"eq": expr}, f"x = {result}"
        template = pick_template(rng, BANKS[kind], profile.held_out)
        prompt, wrapper = render(rng, template, slots, profile.held_out)
        return (
            prompt,
            response,
            "math",
            make_meta(kind=kind, topic=expr, template=template.id, wrapper=wrapper),
        )

    def grade(self, example: Example, prediction: str) -> Grade:
        ref, pred = example.response.strip(), prediction.strip()
        if ref == pred:
            return Grade(True, True, True)
        got, want = _INT_RE.match(pred), _INT_RE.match(ref)
        if got is None:
            return Grade(False, False, False, "not an integer answer")
        same = want is not None and int(got.group(1)) == int(want.group(1))
        return Grade(False, same, True, "same number, different form" if same else "wrong number")
