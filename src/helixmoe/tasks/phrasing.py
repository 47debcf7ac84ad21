"""English phrasings: templates with ids, notation synonyms, styles and instruction wrappers.

A prompt is rendered in layers, each drawn from the rng:

1. a **core template** of the family (``"convert.07"``: ``"Encode {value} as {dst}"``) with slots filled;
   notation slots use a synonym (``runic`` / ``glyph form`` / ``LC-R`` ...);
2. **style**: lowercase (the words, never the value), a polite or casual prefix/suffix, a context
   sentence before or after;
3. **value placement**: inline, in backticks, or (when the value ends the template) on its own line or
   in a code fence;
4. a **wrapper**: plain, ``### Instruction:`` style, chat tags, ``User:/Assistant:``, ``Q:/A:``.

Templates and wrappers marked held out (a leading ``~`` in the bank) are used only by profiles with
``held_out=True`` (the ``ood`` split), and in-distribution profiles never use them, so ood measures
phrasing generalisation. Template ids are ``<bank>.<index>``; banks are append-only so ids stay stable.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

__all__ = ["NOTATION_NAMES", "WRAPPERS", "Template", "make_bank", "notation_name", "pick_template", "render"]

#: Synonyms for each notation, as they appear in prompts (spec: "LC-B" in prompts means LC-B text).
NOTATION_NAMES: dict[str, tuple[str, ...]] = {
    "hlxl": (
        "HLXL",
        "HLXL",
        "readable HLX",
        "human-readable HLXL",
        "HLXL text",
        "plain HLXL",
        "HLX-L",
        "readable form",
        "human-readable form",
        "readable format",
    ),
    "lc-t": (
        "LC-T",
        "LC-T",
        "ASCII",
        "ASCII form",
        "text-safe form",
        "wire text",
        "ASCII wire format",
        "LC-T text",
        "LCT",
        "text wire format",
    ),
    "lc-r": (
        "LC-R",
        "LC-R",
        "runic",
        "runic form",
        "glyph form",
        "symbolic form",
        "runes",
        "LC-R glyphs",
        "LCR",
        "glyphs",
        "runic notation",
    ),
    "lc-b-text": (
        "LC-B",
        "LC-B",
        "LC-B text",
        "bracket form",
        "LC-B bracket notation",
        "bracket notation",
        "LCB",
        "LC-B-text",
        "LCB text",
    ),
    "lc-b-hex": (
        "hex bytes",
        "LC-B hex",
        "binary",
        "LC-B bytes in hex",
        "binary hex",
        "hex-encoded LC-B",
        "raw binary (hex)",
        "LC-B bytes",
        "LC-B-hex",
        "bytes in hex",
        "hex dump",
    ),
}
#: Canonical display names (multi-format answer labels).
CANONICAL_NAMES = {
    "hlxl": "HLXL",
    "lc-t": "LC-T",
    "lc-r": "LC-R",
    "lc-b-text": "LC-B",
    "lc-b-hex": "LC-B hex",
}

_PREFIXES = ("Please ", "Hey, ", "Quick question: ", "Hi! ", "Could you help? ", "Hello. ")
_SUFFIXES = (" Thanks!", " Thank you.", " Please.", " Thanks in advance.", " Cheers.")
_CONTEXT = (
    "I'm debugging a parser.",
    "This is for a unit test.",
    "We store configs this way.",
    "My teammate sent me this.",
    "I found this in a log file.",
    "It's going into a shader pipeline.",
    "I need it for a fixture.",
    "Working on the wire protocol today.",
    "Our docs need an example.",
    "This came out of the compiler.",
    "I'm writing a migration script.",
    "Just checking my understanding.",
)

#: Wrapper id -> (format with ``{p}``, held out). The held-out ones appear only in the ood split.
WRAPPERS: dict[str, tuple[str, bool]] = {
    "plain": ("{p}", False),
    "instruction": ("### Instruction:\n{p}\n\n### Response:\n", False),
    "chat": ("<|user|>\n{p}\n<|assistant|>\n", False),
    "user": ("User: {p}\nAssistant:", False),
    "qa": ("Q: {p}\nA:", False),
    "inst": ("[INST] {p} [/INST]", True),
    "human": ("Human: {p}\n\nAssistant:", True),
}
_WRAPPER_WEIGHTS = {
    "plain": 6.0,
    "instruction": 1.5,
    "chat": 1.0,
    "user": 1.0,
    "qa": 0.7,
    "inst": 1.0,
    "human": 1.0,
}
_SLOT_RE = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True, slots=True)
class Template:
    """One core phrasing: literal text and ``{slot}`` names alternating in ``parts``."""

    id: str
    parts: tuple[str, ...]
    held_out: bool
    slots: frozenset[str]
    value_last: bool


def make_bank(bank: str, texts: Sequence[str]) -> tuple[Template, ...]:
    """Compile template texts (``~`` prefix = held out) into :class:`Template` objects ``bank.NN``."""
    out = []
    for i, text in enumerate(texts):
        held = text.startswith("~")
        body = text[1:] if held else text
        parts = tuple(_SLOT_RE.split(body))
        slots = frozenset(parts[1::2])
        value_last = bool(parts[-2:-1] == ("value",) and not parts[-1].strip(" :"))
        out.append(Template(f"{bank}.{i:02d}", parts, held, slots, value_last))
    return tuple(out)


def pick_template(
    rng: random.Random, bank: Sequence[Template], held_out: bool, ok: Callable[[Template], bool] | None = None
) -> Template:
    """Draw a template of the right kind (held out or not) that ``ok`` accepts."""
    choices = [t for t in bank if t.held_out == held_out and (ok is None or ok(t))]
    if not choices:
        raise LookupError(
            f"no {'held-out' if held_out else 'in-distribution'} template fits in bank {bank[0].id}"
        )
    return rng.choice(choices)


def notation_name(rng: random.Random, notation: str) -> str:
    """A synonym for ``notation`` as a prompt would say it."""
    return rng.choice(NOTATION_NAMES[notation])


def render(
    rng: random.Random, template: Template, slots: dict[str, str], held_out: bool, *, tail: bool = True
) -> tuple[str, str]:
    """Fill ``template`` and dress it; return ``(prompt, wrapper_id)``.

    Args:
        rng: the generator.
        template: the core phrasing.
        slots: slot name -> text. ``value`` is inserted verbatim (never re-cased); the others are words.
        held_out: allow the held-out wrappers (ood).
        tail: allow a suffix or context sentence after the text (off when the value may be broken
            text ending the prompt, so its end stays unambiguous).
    """
    lower = rng.random() < 0.15
    value = slots.get("value")
    pieces = []
    for i, part in enumerate(template.parts):
        if i % 2 == 0:
            pieces.append(part.lower() if lower else part)
        elif part == "value" and value is not None:
            pieces.append(_place(rng, value, template.value_last))
        else:
            text = slots[part]
            pieces.append(text.lower() if lower else text)
    text = _dress(rng, "".join(pieces), lower, tail or not template.value_last)
    return _wrap(rng, text, held_out)


def _place(rng: random.Random, value: str, last: bool) -> str:
    roll = rng.random()
    multiline = "\n" in value
    if last and (multiline or roll < 0.15):
        return f"\n```\n{value}\n```" if multiline or rng.random() < 0.6 else f"\n{value}"
    if roll < 0.3 and "`" not in value and not multiline:
        return f"`{value}`"
    return value


def _dress(rng: random.Random, text: str, lower: bool, tail: bool) -> str:
    """Add a polite/casual prefix or suffix and a context sentence (lowercased with the words)."""

    def words(s: str) -> str:
        return s.lower() if lower else s

    roll = rng.random()
    if roll < 0.18:
        first = text[:1]
        if text[1:2].islower() and first.isupper():  # "Please convert", not "Please Convert"
            text = first.lower() + text[1:]
        text = words(rng.choice(_PREFIXES)) + text
    elif roll < 0.26 and tail:
        text = text + words(rng.choice(_SUFFIXES))
    roll = rng.random()
    if roll < 0.1:
        text = words(rng.choice(_CONTEXT)) + " " + text
    elif roll < 0.16 and tail and "\n" not in text:
        text = text + " " + words(rng.choice(_CONTEXT))
    return text


def _wrap(rng: random.Random, text: str, held_out: bool) -> tuple[str, str]:
    ids = [w for w, (_, held) in WRAPPERS.items() if held_out or not held]
    wid = rng.choices(ids, [_WRAPPER_WEIGHTS[w] for w in ids])[0]
    return WRAPPERS[wid][0].replace("{p}", text), wid
