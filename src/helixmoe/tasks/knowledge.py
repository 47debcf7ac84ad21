"""Question families answered from the fact sheet: ``explain`` (coordinator) and ``glyph`` (runic).

``explain`` covers "what is / explain / describe" questions about the notations, value types and
contract ids, and "which format should I use …" questions; ``glyph`` asks for the LC-R glyph of a role
or the role of a glyph (spec §5). The reference is the fact sheet's answer for the topic
(:mod:`helixmoe.tasks.facts`), so every phrasing of a topic has the same answer.
"""

from __future__ import annotations

import random
from typing import Any

from helixmoe.tasks.bank import BANKS
from helixmoe.tasks.base import Example, Grade, TaskFamily, exact_grade, make_meta, register_family
from helixmoe.tasks.facts import (
    CHOICES,
    CONTRACT_FACTS,
    GLYPH_ROLES,
    GLYPHS,
    NOTATION_FACTS,
    TOPIC_NAMES,
    TYPE_FACTS,
)
from helixmoe.tasks.phrasing import pick_template, render

__all__ = ["ExplainFamily", "GlyphFamily"]

_LENIENT_GLYPHS = {"🐊": "🜊", "🐁": "🜁", "🐂": "🜂", "🐃": "🜃", "🐄": "🜄"}
_GLYPH_ROLE = {glyph: role for role, glyph in GLYPHS.items()}


def _question(
    rng: random.Random, profile: Any, bank: str, slots: dict[str, str], answer: str, expert: str, topic: str
) -> tuple[str, str, str, dict[str, str | None]]:
    template = pick_template(rng, BANKS[bank], profile.held_out)
    prompt, wrapper = render(rng, template, slots, profile.held_out)
    meta = make_meta(kind=bank, topic=topic, template=template.id, wrapper=wrapper)
    return prompt, answer, expert, meta


@register_family
class ExplainFamily(TaskFamily):
    """Explain / what-is / which-format questions about HLX (coordinator)."""

    name = "explain"
    experts = ("coordinator",)
    weight = 1.0

    def sample(self, rng: random.Random, profile: Any) -> tuple[str, str, str, dict[str, str | None]]:
        kind = rng.choices(("notation", "type", "contract", "choose"), (3, 2, 2, 3))[0]
        if kind == "choose":
            notation = rng.choice(sorted(CHOICES))
            scenarios, answer = CHOICES[notation]
            slots = {"scenario": rng.choice(scenarios)}
            return _question(rng, profile, "choose", slots, answer, "coordinator", f"choose:{notation}")
        if kind == "contract":
            cid = rng.choice(sorted(CONTRACT_FACTS, key=int))
            phrase = rng.choice((f"contract id {cid}", f"contract {cid}", f"the HLX contract {cid}"))
            return _question(
                rng,
                profile,
                "explain",
                {"topic": phrase},
                CONTRACT_FACTS[cid],
                "coordinator",
                f"contract:{cid}",
            )
        facts = NOTATION_FACTS if kind == "notation" else TYPE_FACTS
        topic = rng.choice(sorted(facts))
        slots = {"topic": rng.choice(TOPIC_NAMES[topic])}
        return _question(rng, profile, "explain", slots, facts[topic], "coordinator", f"{kind}:{topic}")

    def grade(self, example: Example, prediction: str) -> Grade:
        return exact_grade(example.response, prediction)


@register_family
class GlyphFamily(TaskFamily):
    """LC-R glyph questions in both directions (runic)."""

    name = "glyph"
    experts = ("runic",)
    weight = 0.5

    def sample(self, rng: random.Random, profile: Any) -> tuple[str, str, str, dict[str, str | None]]:
        role = rng.choice(sorted(GLYPHS))
        if rng.random() < 0.6:
            slots = {"role": rng.choice(GLYPH_ROLES[role])}
            return _question(rng, profile, "glyph", slots, GLYPHS[role], "runic", f"glyph:{role}")
        slots = {"glyph": GLYPHS[role]}
        return _question(rng, profile, "glyph_reverse", slots, GLYPH_ROLES[role][0], "runic", f"role:{role}")

    def grade(self, example: Example, prediction: str) -> Grade:
        ref, pred = example.response.strip(), prediction.strip()
        if ref == pred:
            return Grade(True, True, True)
        if (example.meta.get("topic") or "").startswith("glyph:"):
            canon = _LENIENT_GLYPHS.get(pred, pred)
            valid = canon in _GLYPH_ROLE
            return Grade(False, canon == ref, valid, "lenient glyph" if canon == ref else "different glyph")
        loose = pred.casefold().rstrip(".") == ref.casefold()
        return Grade(False, loose, bool(pred), "differs from the role name")
