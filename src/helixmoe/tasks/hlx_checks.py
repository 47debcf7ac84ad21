"""HLX checking families: ``canonicalise`` (messy → canonical text) and ``validate`` (``valid`` or the error).

*Messy* inputs are the canonical text with whitespace between tokens and the lenient forms spec §2–§6
allow (animal glyphs and ``{}`` objects in LC-R, quoted keys in HLXL, upper-case hex, spaced hex pairs);
every messy text is checked to parse back to the same value. *Broken* inputs are canonical text with one
corruption (unclosed, trailing comma, a dropped or stray character, a lower-case LC-T keyword, odd hex);
the reference is whatever the oracle says: ``valid`` when it still parses, else ``invalid: <message>``
(the codec's message without position, a single deterministic line).
"""

from __future__ import annotations

import random
import re
from dataclasses import replace
from typing import Any

from helixmoe import hlx
from helixmoe.tasks.bank import BANKS
from helixmoe.tasks.base import Example, Grade, TaskFamily, make_meta, register_family
from helixmoe.tasks.hlx_families import NOTATION_EXPERT, grade_value
from helixmoe.tasks.phrasing import notation_name, pick_template, render
from helixmoe.tasks.values import random_value

__all__ = ["CanonicaliseFamily", "ValidateFamily", "break_text", "messy_text", "validate_answer"]

_STRUCT = {
    "hlxl": frozenset("[]{},:"),
    "lc-t": frozenset("[]{},:="),
    "lc-r": frozenset("🜃🜄◇◆,:🜊🜁🜂"),
    "lc-b-text": frozenset("[]{},:|"),
}
_CLOSERS = frozenset("]}🜄◆🜂")
_ANIMAL = {"🜊": "🐊", "🜁": "🐁", "🜂": "🐂", "🜃": "🐃", "🜄": "🐄"}
_HLXL_KEY_RE = re.compile(r"(?<=[{ ])([A-Za-z_][A-Za-z0-9_]*)(?=: )")
_JUNK = "?;$%~`'"


def _outside_strings(text: str) -> list[int]:
    """Indices of the characters of ``text`` that lie outside ``"..."`` strings."""
    out, in_str, escaped = [], False, False
    for i, char in enumerate(text):
        if in_str:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_str = False
        elif char == '"':
            in_str = True
        else:
            out.append(i)
    return out


def _spaced(rng: random.Random, text: str, notation: str) -> str:
    """Insert spaces/newlines next to structural characters (between tokens, never inside one)."""
    struct = _STRUCT[notation]
    cuts = sorted(
        {c for i in _outside_strings(text) if text[i] in struct for c in (i, i + 1) if 0 < c < len(text)}
    )
    if not cuts:
        return " " + text + " "
    chosen = sorted(rng.sample(cuts, max(1, len(cuts) // 3)))
    pieces, last = [], 0
    for cut in chosen:
        pieces.append(text[last:cut] + rng.choice((" ", " ", "  ", "\n", "\n  ")))
        last = cut
    pieces.append(text[last:])
    return "".join(pieces)


def _lenient(rng: random.Random, text: str, notation: str) -> str:
    """Swap canonical forms for lenient ones the spec lets parsers accept."""
    outside = set(_outside_strings(text))
    if notation == "lc-r":
        animals, braces = rng.random() < 0.5, rng.random() < 0.3
        out = []
        for i, char in enumerate(text):
            if i in outside and animals and char in _ANIMAL:
                char = _ANIMAL[char]
            elif i in outside and braces and char in "◇◆":
                char = "{" if char == "◇" else "}"
            out.append(char)
        return "".join(out)
    if notation == "hlxl" and rng.random() < 0.5:
        return _HLXL_KEY_RE.sub(lambda m: f'"{m.group(1)}"' if m.start() in outside else m.group(1), text)
    if notation in ("lc-t", "lc-b-text") and rng.random() < 0.5:
        return re.sub(
            r"(#|0x)([0-9a-f]+)",
            lambda m: m.group(1) + m.group(2).upper() if m.start() in outside else m.group(0),
            text,
        )
    return text


def messy_text(rng: random.Random, value: Any, notation: str) -> str:
    """A non-canonical text of ``value`` in ``notation`` that parses back to ``value``."""
    canonical: str = hlx.dumps(value, notation)
    for _ in range(4):
        if notation == "lc-b-hex":
            pairs = [canonical[i : i + 2] for i in range(0, len(canonical), 2)]
            text = " ".join(p.upper() if rng.random() < 0.5 else p for p in pairs)
        else:
            text = _spaced(rng, _lenient(rng, canonical, notation), notation)
        try:
            if text.strip() != canonical and hlx.equal(hlx.loads(text, notation), value):
                return text
        except hlx.HLXError:  # a lenient form this codec does not take: try another draw
            continue
    return canonical[0] + " " + canonical[1:]  # pragma: no cover - every container has a structural cut


def break_text(rng: random.Random, text: str, notation: str) -> str:
    """``text`` with one corruption (it may still parse; the caller asks the oracle)."""
    if notation == "lc-b-hex":
        how = rng.choice(("odd", "truncate", "tag"))
        if how == "odd" or len(text) <= 2:
            return text[:-1]
        if how == "truncate":
            return text[:-2]
        return "ee" + text[2:]
    outside = _outside_strings(text)
    closers = [i for i in outside if text[i] in _CLOSERS]
    how = rng.choice(("unclosed", "comma", "drop", "junk", "keyword"))
    if how == "unclosed" and closers:
        return text[: closers[-1]]
    if how == "comma" and closers:
        i = rng.choice(closers)
        return text[:i] + "," + text[i:]
    if how == "keyword" and notation == "lc-t" and re.search(r"NULL|TRUE|FALSE", text):
        return re.sub(r"NULL|TRUE|FALSE", lambda m: m.group(0).lower(), text, count=1)
    if how == "drop" and outside:
        i = rng.choice(outside)
        return text[:i] + text[i + 1 :]
    i = rng.choice(outside) if outside else len(text)
    return text[:i] + rng.choice(_JUNK) + text[i:]


def validate_answer(text: str, notation: str) -> str:
    """The reference answer of a validate task: ``valid`` or ``invalid: <message>``."""
    try:
        hlx.loads(text, notation)
    except hlx.HLXError as err:
        return "invalid: " + " ".join(err.message.split())
    return "valid"


def _container_value(rng: random.Random, profile: Any) -> Any:
    spec = profile.value
    if spec.min_depth < profile.canonicalise_min_depth:
        spec = replace(spec, min_depth=min(profile.canonicalise_min_depth, spec.max_depth))
    return random_value(rng, spec)


def _task(
    rng: random.Random, profile: Any, kind: str, notation: str, shown: str, value: Any, response: str
) -> tuple[str, str, str, dict[str, str | None]]:
    template = pick_template(rng, BANKS[kind], profile.held_out)
    slots = {"value": shown, "src": notation_name(rng, notation)}
    prompt, wrapper = render(rng, template, slots, profile.held_out, tail=kind != "validate")
    meta = make_meta(
        kind=kind,
        src=notation,
        dst=notation,
        value=hlx.dumps(value, "hlxl"),
        template=template.id,
        wrapper=wrapper,
    )
    return prompt, response, NOTATION_EXPERT[notation], meta


@register_family
class CanonicaliseFamily(TaskFamily):
    """Messy but valid text → the canonical text of the same notation ("format / optimise this")."""

    name = "canonicalise"
    experts = ("ascii", "runic", "coordinator")
    weight = 1.0
    notations = ("hlxl", "lc-t", "lc-r", "lc-b-text", "lc-b-hex")

    def sample(self, rng: random.Random, profile: Any) -> tuple[str, str, str, dict[str, str | None]]:
        notation = rng.choice(self.notations)
        value = _container_value(rng, profile)
        shown = messy_text(rng, value, notation)
        return _task(rng, profile, "canonicalise", notation, shown, value, hlx.dumps(value, notation))

    def grade(self, example: Example, prediction: str) -> Grade:
        return grade_value(example.response, prediction, example.meta.get("dst") or "hlxl")


@register_family
class ValidateFamily(TaskFamily):
    """Canonical or corrupted text → ``valid`` or ``invalid: <the codec's message>``."""

    name = "validate"
    experts = ("ascii", "runic", "coordinator")
    weight = 1.0
    notations = ("hlxl", "lc-t", "lc-r", "lc-b-text", "lc-b-hex")

    def sample(self, rng: random.Random, profile: Any) -> tuple[str, str, str, dict[str, str | None]]:
        notation = rng.choice(self.notations)
        value = _container_value(rng, profile)
        text = hlx.dumps(value, notation)
        if rng.random() < 0.6:
            text = break_text(rng, text, notation)
        answer = validate_answer(text, notation)
        prompt, response, expert, meta = _task(rng, profile, "validate", notation, text, value, answer)
        # meta["value"] is the value the shown text denotes (None when it does not parse).
        meta["value"] = hlx.dumps(hlx.loads(text, notation), "hlxl") if answer == "valid" else None
        return prompt, response, expert, meta

    def grade(self, example: Example, prediction: str) -> Grade:
        ref, pred = example.response.strip(), prediction.strip()
        if ref == pred:
            return Grade(True, True, True)
        valid = pred == "valid" or pred.startswith("invalid")
        same = valid and (pred == "valid") == (ref == "valid")
        return Grade(False, same, valid, "right verdict, different message" if same else "wrong verdict")
