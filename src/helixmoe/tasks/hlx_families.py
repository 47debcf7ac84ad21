"""HLX conversion families: ``convert`` (HLXL → X), ``parse`` (X → HLXL), ``translate`` (any X → Y) and
``multi`` (one value in several notations, ``HLXL: …`` lines).

The reference is always the oracle's canonical output (``hlx.dumps``), nothing else. Grading: *exact* is
string equality after trimming; *valid* means the answer parses in the target notation; *equivalent*
means the parsed value equals the reference value under strict HLX equality (spec §1).

Expert rule (:func:`expert_for`, design "Defaults"): a conversion belongs to the expert of its non-HLXL
side — ``ascii`` for LC-T, LC-B text and LC-B hex, ``runic`` for LC-R; between two non-HLXL notations the
output notation decides. Several notations at once (``multi``) go to the ``coordinator``.
"""

from __future__ import annotations

import random
from typing import Any

from helixmoe import hlx
from helixmoe.tasks.bank import BANKS
from helixmoe.tasks.base import Example, Grade, TaskFamily, make_meta, register_family
from helixmoe.tasks.phrasing import CANONICAL_NAMES, Template, notation_name, pick_template, render
from helixmoe.tasks.values import random_value

__all__ = [
    "FORMAT_NOTATIONS",
    "NOTATION_EXPERT",
    "ConvertFamily",
    "MultiFamily",
    "ParseFamily",
    "TranslateFamily",
    "expert_for",
    "grade_value",
    "multi_response",
    "value_task",
]

#: The notations tasks use (``lc-b`` bytes appear as ``lc-b-hex`` text in prompts).
FORMAT_NOTATIONS: tuple[str, ...] = ("hlxl", "lc-t", "lc-r", "lc-b-text", "lc-b-hex")
#: Which expert owns each notation.
NOTATION_EXPERT: dict[str, str] = {
    "hlxl": "coordinator",
    "lc-t": "ascii",
    "lc-b-text": "ascii",
    "lc-b-hex": "ascii",
    "lc-r": "runic",
}
#: Source notations a prompt may leave unnamed (detectable from the text; LC-B forms must be named).
_IMPLICIT_OK = frozenset({"hlxl", "lc-t", "lc-r"})
#: Notations of a multi-format answer, in answer order, with their line labels.
MULTI_ORDER: tuple[str, ...] = ("hlxl", "lc-t", "lc-r", "lc-b-text")


def expert_for(src: str, dst: str) -> str:
    """The expert of a conversion ``src`` → ``dst`` (the non-HLXL side; the output side if both are)."""
    return NOTATION_EXPERT[dst if dst != "hlxl" else src]


def grade_value(reference: str, prediction: str, notation: str) -> Grade:
    """Grade an answer that should be one value written canonically in ``notation``."""
    ref, pred = reference.strip(), prediction.strip()
    if pred == ref:
        return Grade(True, True, True)
    try:
        got = hlx.loads(pred, notation)
    except hlx.HLXError as err:
        return Grade(False, False, False, f"not valid {notation}: {err.message}")
    if hlx.equal(got, hlx.loads(ref, notation)):
        return Grade(False, True, True, f"same value, not canonical {notation}")
    return Grade(False, False, True, "valid but a different value")


def _source_named(template: Template) -> bool:
    return "src" in template.slots


def _needs_named_source(value: Any, text: str, src: str, dst: str) -> bool:
    """True when the prompt must name ``src``: LC-B forms, or text that reads the same in another notation
    while the expert depends on the source (output HLXL)."""
    if src not in _IMPLICIT_OK:
        return True
    if dst != "hlxl":
        return False
    return any(hlx.dumps(value, other) == text for other in ("hlxl", "lc-t", "lc-r") if other != src)


def value_task(
    rng: random.Random, profile: Any, kind: str, src: str, dst: str
) -> tuple[str, str, str, dict[str, str | None]]:
    """One conversion task ``src`` → ``dst`` phrased from the ``kind`` bank."""
    value = random_value(rng, profile.value)
    text = hlx.dumps(value, src)
    named = _needs_named_source(value, text, src, dst)
    template = pick_template(rng, BANKS[kind], profile.held_out, _source_named if named else None)
    slots = {"value": text, "src": notation_name(rng, src), "dst": notation_name(rng, dst)}
    prompt, wrapper = render(rng, template, slots, profile.held_out)
    meta = make_meta(
        kind=kind, src=src, dst=dst, value=hlx.dumps(value, "hlxl"), template=template.id, wrapper=wrapper
    )
    return prompt, hlx.dumps(value, dst), expert_for(src, dst), meta


class _ValueFamily(TaskFamily):
    """Shared grading: the answer is one value in ``meta["dst"]``."""

    def grade(self, example: Example, prediction: str) -> Grade:
        return grade_value(example.response, prediction, example.meta.get("dst") or "hlxl")


@register_family
class ConvertFamily(_ValueFamily):
    """HLXL → LC-T / LC-R / LC-B text / LC-B hex."""

    name = "convert"
    experts = ("ascii", "runic")
    weight = 3.0
    targets = ("lc-t", "lc-r", "lc-b-text", "lc-b-hex")
    target_weights = (1.0, 1.5, 1.0, 0.75)

    def sample(self, rng: random.Random, profile: Any) -> tuple[str, str, str, dict[str, str | None]]:
        dst = rng.choices(self.targets, self.target_weights)[0]
        return value_task(rng, profile, "convert", "hlxl", dst)


@register_family
class ParseFamily(_ValueFamily):
    """LC-T / LC-R / LC-B text / LC-B hex → HLXL."""

    name = "parse"
    experts = ("ascii", "runic")
    weight = 3.0
    sources = ("lc-t", "lc-r", "lc-b-text", "lc-b-hex")
    source_weights = (1.0, 1.5, 1.0, 0.75)

    def sample(self, rng: random.Random, profile: Any) -> tuple[str, str, str, dict[str, str | None]]:
        src = rng.choices(self.sources, self.source_weights)[0]
        return value_task(rng, profile, "parse", src, "hlxl")


@register_family
class TranslateFamily(_ValueFamily):
    """Between any two different notations (the 20 ordered pairs)."""

    name = "translate"
    experts = ("ascii", "runic")
    weight = 2.0

    def sample(self, rng: random.Random, profile: Any) -> tuple[str, str, str, dict[str, str | None]]:
        src, dst = rng.sample(FORMAT_NOTATIONS, 2)
        return value_task(rng, profile, "translate", src, dst)


#: How a request joins the last two notations it lists ("HLXL, LC-T and LC-R", "readable form + runes").
_LAST_JOINERS = (" and ", " and ", " and ", " + ", " & ", " and also ")


def multi_response(value: Any, targets: list[str]) -> str:
    """The reference answer of a multi-format request: one ``NAME: text`` line per notation, in ``targets`` order."""
    return "\n".join(f"{CANONICAL_NAMES[n]}: {hlx.dumps(value, n)}" for n in targets)


def _listing(rng: random.Random, targets: list[str]) -> str:
    """The notations of a multi-format request as a person lists them: mostly canonical names, sometimes a
    synonym ("runes", "bracket form"), the last two joined by "and", "+", "&" ..."""
    names = [notation_name(rng, n) if rng.random() < 0.3 else CANONICAL_NAMES[n] for n in targets]
    return ", ".join(names[:-1]) + rng.choice(_LAST_JOINERS) + names[-1]


@register_family
class MultiFamily(TaskFamily):
    """One value in several notations: ``HLXL: …`` / ``LC-T: …`` / ``LC-R: …`` / ``LC-B: …`` lines."""

    name = "multi"
    experts = ("coordinator",)
    weight = 1.0

    def sample(self, rng: random.Random, profile: Any) -> tuple[str, str, str, dict[str, str | None]]:
        value = random_value(rng, profile.value)
        src = rng.choices(("hlxl", "lc-t", "lc-r"), (4, 1, 1))[0]
        template = pick_template(rng, BANKS["multi"], profile.held_out)
        if "targets" in template.slots:
            targets = sorted(rng.sample(MULTI_ORDER, rng.randint(2, 4)), key=MULTI_ORDER.index)
        else:
            targets = list(MULTI_ORDER)
        listed = _listing(rng, targets)
        slots = {"value": hlx.dumps(value, src), "targets": listed}
        prompt, wrapper = render(rng, template, slots, profile.held_out)
        response = multi_response(value, targets)
        meta = make_meta(
            kind="multi",
            src=src,
            dst=",".join(targets),
            value=hlx.dumps(value, "hlxl"),
            template=template.id,
            wrapper=wrapper,
        )
        return prompt, response, "coordinator", meta

    def grade(self, example: Example, prediction: str) -> Grade:
        ref, pred = example.response.strip(), prediction.strip()
        if ref == pred:
            return Grade(True, True, True)
        targets = (example.meta.get("dst") or "").split(",")
        labels = {CANONICAL_NAMES[n]: n for n in targets}
        lines: dict[str, str] = {}
        for line in pred.splitlines():
            label, sep, text = line.partition(": ")
            if sep and label.strip() in labels:
                lines.setdefault(labels[label.strip()], text)
        missing = [CANONICAL_NAMES[n] for n in targets if n not in lines]
        if missing:
            return Grade(False, False, False, f"missing line(s) {', '.join(missing)}")
        want = hlx.loads(example.meta["value"] or "", "hlxl")
        same = True
        for notation, text in lines.items():
            try:
                got = hlx.loads(text, notation)
            except hlx.HLXError as err:
                return Grade(
                    False, False, False, f"{CANONICAL_NAMES[notation]} line not valid: {err.message}"
                )
            same = same and hlx.equal(got, want)
        return Grade(
            False, same, True, "same values, not canonical" if same else "a line has a different value"
        )
