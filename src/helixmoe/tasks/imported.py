"""The ``imported`` family: examples brought in from instruction/chat files by ``corpus import``.

It generates nothing (weight 0, never sampled); it grades by exact match after trimming, with
whitespace- and case-insensitive match as *equivalent*.
"""

from __future__ import annotations

import random
from typing import Any

from helixmoe.tasks.base import EXPERTS, TaskFamily, register_family

__all__ = ["ImportedFamily"]


@register_family
class ImportedFamily(TaskFamily):
    """External examples, graded by exact match."""

    name = "imported"
    experts = EXPERTS
    weight = 0.0

    def sample(self, rng: random.Random, profile: Any) -> tuple[str, str, str, dict[str, str | None]]:
        raise NotImplementedError("the imported family holds external examples and generates none")
