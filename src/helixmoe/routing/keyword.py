"""The keyword router: the published HLX MoE rules, kept as the baseline to beat.

The published router sent a query to the ASCII specialist when its lower-cased text contained ``lc-t``,
``ascii``, ``text-safe`` or ``{c:``, else to the Runic specialist on ``lc-r``, ``runic``, ``glyph`` or one of
the (animal-emoji) LC-R glyphs, else to the coordinator. Here the rules are data; the default adds the
canonical alchemical glyph set beside the animal one, and an optional ``math`` rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from helixmoe.errors import SystemLoadError
from helixmoe.routing.base import RouteDecision, register_router, setting_problem, write_json_atomic

__all__ = ["PUBLISHED_RULES", "KeywordRouter"]

_ANIMAL = ["🐊", "🐁", "🐂", "🐃", "🐄"]
_ALCHEMICAL = ["🜊", "🜁", "🜂", "🜃", "🜄"]
#: (expert, keywords) in priority order: the first rule with a hit wins.
PUBLISHED_RULES: list[tuple[str, list[str]]] = [
    ("ascii", ["lc-t", "ascii", "text-safe", "{c:"]),
    ("runic", ["lc-r", "runic", "glyph", *_ANIMAL, *_ALCHEMICAL, "⟁", "⊤", "⊥", "∅"]),
]
MATH_RULE: tuple[str, list[str]] = ("math", ["solve", "+", " - ", "*", " / ", "times", "plus", "minus"])


@register_router("keyword")
class KeywordRouter:
    """First rule whose keyword occurs in the lower-cased request wins; otherwise the default expert."""

    kind = "keyword"

    def __init__(
        self,
        *,
        rules: Sequence[tuple[str, Sequence[str]]] | None = None,
        default: str = "coordinator",
        experts: Sequence[str] | None = None,
    ) -> None:
        base_rules = [(e, list(k)) for e, k in (rules if rules is not None else PUBLISHED_RULES)]
        if rules is None and experts is not None and "math" in experts:
            base_rules.append((MATH_RULE[0], list(MATH_RULE[1])))
        self.rules = base_rules
        self.default = default
        names = [e for e, _ in self.rules] + [default]
        self.experts = tuple(experts) if experts is not None else tuple(dict.fromkeys(names))

    def route(self, text: str) -> RouteDecision:
        if not self.rules and len(self.experts) == 1:  # a one-expert system: no decision to make
            return RouteDecision(self.default, 1.0, {self.default: 1.0}, self.kind)
        lowered = text.lower()
        scores = {name: 0.0 for name in self.experts}
        chosen = None
        for expert, keywords in self.rules:
            hits = sum(1 for k in keywords if k in lowered)
            scores[expert] = scores.get(expert, 0.0) + hits
            if hits and chosen is None:
                chosen = expert
        if chosen is None:
            return RouteDecision(self.default, 0.5, scores, self.kind, abstained=True)
        return RouteDecision(chosen, 1.0, scores, self.kind)

    def save(self, directory: str | Path) -> None:
        meta = {
            "kind": self.kind,
            "rules": self.rules,
            "default": self.default,
            "experts": list(self.experts),
        }
        write_json_atomic(Path(directory) / "router.json", meta)

    @classmethod
    def load(cls, directory: Path, meta: dict[str, Any], **_: Any) -> KeywordRouter:
        try:
            rules = []
            for expert, words in meta["rules"]:
                if not isinstance(words, list):
                    raise TypeError(f"the keywords of {expert!r} must be a list")
                rules.append((str(expert), [str(w) for w in words]))
            return cls(rules=rules, default=str(meta["default"]), experts=[str(e) for e in meta["experts"]])
        except (KeyError, ValueError, TypeError) as err:
            raise SystemLoadError(
                f"{directory / 'router.json'}: bad keyword router: {setting_problem(err)}"
            ) from None
