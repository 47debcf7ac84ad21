"""Prompt normalisation for the learned routers: values become placeholders, direction becomes features.

The n-gram classifier should learn *what is asked*, not the characters of the value it is asked about:
``{C:14,0=42}`` carries LC-T n-grams even when the request wants runes. So:

1. every HLX value that :func:`helixmoe.hlx.find_values` locates is replaced by a word naming its
   notation (``hlxvaluelct``) — the source notation becomes an exact feature;
2. the notation names the request mentions (the synonyms of :data:`helixmoe.tasks.phrasing.NOTATION_NAMES`:
   "runes", "text-safe form", "bracket notation", ...) are compared with the value's notation: a mention
   of another notation is a *target*, and ``hlxsrc_* hlxdst_* hlxpair_*_*`` words are appended, so a
   linear model can learn "the non-HLXL side picks the expert" without parsing English;
3. runs of digits become ``7`` (the digits of a sum say nothing about the expert);
4. the request's largest container value is tagged ``hlxcanon`` when it is written exactly as the codec writes
   it and ``hlxmessy`` when not: a canonicalise request always shows messy text, a validate request canonical
   or broken text, so "Would this HLXL be accepted? {a: 1}" is not read as "tidy this HLXL" even when its
   words were never seen (the intent model's ood accuracy, ``benchmarks/bench_routing.py``);
5. when the last value is written exactly as another notation the request names writes some value
   (``[#657933]`` is both LC-T and LC-B text), its source is ``ambiguous`` rather than the scanner's first
   reading, and the words ("from", "as") decide which named notation is the target;
6. a request that names no notation but the value's own gets ``hlxsamecanon`` / ``hlxsamemessy`` beside
   (4): a linear model cannot learn "canonical *and* nothing to convert to" (validate, never canonicalise)
   from the two words apart, and each is common on its own (every conversion shows canonical text);
7. a bracketed span (``[...]``, ``{...}``, LC-R's ``🜃...🜄``, ``◇...◆`` and ``🜊...🜂``, unclosed to the end) that
   no value covers is ``hlxbroken``: the scanner reads fragments of broken text (``F`` of ``{a:F,}`` as an HLXL
   value) whose notations would otherwise read as a conversion;
8. one LC-R glyph alone in the words (``What is 🜁 used for?``) is ``hlxglyph``: a question about a glyph
   shows one, a question asking for a glyph does not, whatever the wording.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from helixmoe import hlx
from helixmoe.hlx import lcr
from helixmoe.tasks.phrasing import NOTATION_NAMES

__all__ = ["mentions", "normalise"]

_DIGITS = re.compile(r"\d+")
# longer values are not read again in the notations a request names (see _reads_in_another)
_AMBIGUOUS_MAX = 64
_SCAN_LIMIT = 2000  # longer text is only partly scanned for values (routing must stay sub-millisecond)
_NAMES = {name.lower(): notation for notation, names in NOTATION_NAMES.items() for name in names}
_TOKEN_RE = re.compile(r"[\w-]+")
# first word (a run of word characters and hyphens) of each name -> the names it starts, longest first
_BY_FIRST: dict[str, list[str]] = {}
for _name in sorted(_NAMES, key=len, reverse=True):
    _BY_FIRST.setdefault(_TOKEN_RE.match(_name).group(), []).append(_name)  # type: ignore[union-attr]


_ALL_RE = re.compile(
    r"\b(?:each|every|all|all four|all the)\s+(?:notations?|formats?|forms?)\b", re.IGNORECASE
)


_GLYPHS = frozenset(lcr.GLYPHS.values()) | frozenset(g for g in lcr.LENIENT_GLYPHS if not g.isascii())
_GLYPH_RE = re.compile("[" + "".join(sorted(_GLYPHS)) + "]")
# opening -> closing bracket of a structured value in any notation, LC-R's lenient glyphs too
_PAIRS = {"[": "]", "{": "}", lcr.O_START: lcr.O_END, lcr.A_START: lcr.A_END, lcr.C_START: lcr.C_END}
_LENIENT = {canonical: lenient for lenient, canonical in lcr.LENIENT_GLYPHS.items() if not lenient.isascii()}
_PAIRS.update({_LENIENT[o]: _LENIENT[c] for o, c in list(_PAIRS.items()) if o in _LENIENT})
_MIN_SPAN = 3  # "[]" and "{}" are values; a span this short that no value covers says little
_BRACKETY = re.compile("[" + re.escape("".join(_PAIRS) + "".join(_PAIRS.values())) + '"\\\\]')


def _bracket_spans(text: str) -> list[tuple[int, int]]:
    """Top-level bracketed spans of ``text`` (``(start, end)``, end exclusive), brackets inside double-quoted
    strings skipped; a span left open runs to the end of the text. Only brackets, quotes and backslashes are
    visited (a regular expression jumps between them), so a long request costs microseconds."""
    spans: list[tuple[int, int]] = []
    stack: list[str] = []
    start = 0
    quoted = False
    escaped = -1  # position of the character a backslash escapes
    for m in _BRACKETY.finditer(text):
        char, i = m.group(), m.start()
        if quoted:
            if char == "\\" and escaped != i:
                escaped = i + 1
            elif char == '"' and escaped != i:
                quoted = False
            continue
        if char == '"':
            quoted = bool(stack)
        elif char in _PAIRS:
            if not stack:
                start = i
            stack.append(_PAIRS[char])
        elif stack and char == stack[-1]:
            stack.pop()
            if not stack:
                spans.append((start, i + 1))
    if stack:
        spans.append((start, len(text)))
    return spans


def _broken(text: str, values: list[hlx.FoundValue]) -> bool:
    """Some bracketed span of ``text`` lies in no found value: at least :data:`_MIN_SPAN` characters, not
    letters alone (``[INST]``, ``[/INST]``: chat wrappers), not one LC-R glyph alone (``What does 🜃 mean?``
    opens a span that nothing closes)."""
    for start, end in _bracket_spans(text):
        if end - start < _MIN_SPAN or text[start + 1 : end - 1].replace("/", "").isalpha():
            continue
        if text[start] in _GLYPHS and not _GLYPH_RE.search(text, start + 1, end):
            continue
        if not any(f.start <= start and end <= f.end for f in values):
            return True
    return False


def _wordish(char: str) -> bool:
    """``char`` is a letter, digit, ``_`` or ``-`` (``[\\w-]``); ASCII without a regular expression (the
    routing placeholders put a letter before every notation tag they contain)."""
    if char.isascii():
        return char.isalnum() or char in "_-"
    return _TOKEN_RE.match(char) is not None


def mentions(text: str) -> list[str]:
    """The notations ``text`` names, in order, each once: the longest name starting at each word, as a whole
    word (no letter, digit, ``_`` or ``-`` on either side), compared in lower case. Only the places where a
    name's first word occurs are looked at (``str.find``): one regular expression of all the names tried
    every name at every character and was a fifth of a routing decision on long requests."""
    return _mentions(text.lower())


def _mentions(lower: str) -> list[str]:
    starts = set()
    for first in _BY_FIRST:
        at = lower.find(first)
        while at >= 0:
            starts.add(at)
            at = lower.find(first, at + 1)
    found: dict[str, None] = {}
    end = 0
    for start in sorted(starts):
        if start < end or (start and _wordish(lower[start - 1])):
            continue
        names = _BY_FIRST.get(_TOKEN_RE.match(lower, start).group())  # type: ignore[union-attr]
        for name in names or ():
            stop = start + len(name)
            if lower.startswith(name, start) and not (stop < len(lower) and _wordish(lower[stop])):
                found[_NAMES[name]] = None
                end = stop
                break
    return list(found)


def _tag(notation: str) -> str:
    return notation.replace("-", "")


def _written_as(text: str, value: Any, notation: str) -> bool:
    """``text`` is exactly how ``notation`` writes ``value`` (the codec's canonical text)."""
    try:
        return bool(hlx.dumps(value, notation) == text.strip())
    except hlx.HLXError:
        return False


def _reads_in_another(found: hlx.FoundValue, mentioned: list[str]) -> bool:
    """A notation the request names, other than the one ``found`` was read in, writes some value exactly as
    ``found`` is written (``[#657933]`` is canonical LC-T and LC-B text, ``1201000000`` an integer and LC-B
    hex; ``{a: 1}`` is not LC-R, though the lenient LC-R parser reads it). Short values only: the ambiguous
    ones are short, and parsing a long one again would cost routing time."""
    if len(found.text) > _AMBIGUOUS_MAX:
        return False
    for notation in mentioned:
        if notation == found.notation:
            continue
        try:
            value = hlx.loads(found.text, notation)
        except hlx.HLXError:
            continue
        if _written_as(found.text, value, notation):
            return True
    return False


@lru_cache(maxsize=1024)
def normalise(text: str) -> str:
    """The text the routers featurise (see the module docstring). Memoised: at serving the expert
    classifier and the intent model both read each request."""
    head, tail = text[:_SCAN_LIMIT], text[_SCAN_LIMIT:]
    parts: list[str] = []
    pos = 0
    values = hlx.find_values(head, scalars=True)
    for found in values:
        parts.append(head[pos : found.start])
        parts.append(f" hlxvalue{_tag(found.notation)} ")
        pos = found.end
    parts.append(head[pos:])
    body = "".join(parts) + tail
    lower = body.lower()
    mentioned = _mentions(lower)
    last = values[-1] if values else None
    if last is not None and _reads_in_another(last, mentioned):
        # the value reads in another notation the request names: which is the source is the words' to say
        parts[-2] = " hlxvalueambiguous "
        body = "".join(parts) + tail
        targets = mentioned
        tags = ["hlxsrc_ambiguous", f"hlxtargets_{min(len(targets), 3)}"]
        tags += [f"hlxdst_{_tag(t)}" for t in targets]
    else:
        src = last.notation if last is not None else None
        targets = [n for n in mentioned if n != src]
        tags = [f"hlxsrc_{_tag(src) if src else 'none'}", f"hlxtargets_{min(len(targets), 3)}"]
        tags += [f"hlxdst_{_tag(t)}" for t in targets]
        tags += [f"hlxpair_{_tag(src) if src else 'none'}_{_tag(t)}" for t in targets]
        if src in mentioned:
            tags.append("hlxsrcnamed")
    if values:
        main = max(values, key=lambda f: f.end - f.start)
        if isinstance(main.value, (list, dict, hlx.Contract)):
            form = "canon" if _written_as(main.text, main.value, main.notation) else "messy"
            tags.append(f"hlx{form}")
            if not targets:
                tags.append(f"hlxsame{form}")
    if _broken(head, values):
        tags.append("hlxbroken")
    if len(_GLYPH_RE.findall(body)) == 1:
        tags.append("hlxglyph")
    if ("form" in lower or "notation" in lower) and _ALL_RE.search(body):
        tags.append("hlxallnotations")
    return _DIGITS.sub("7", body) + " " + " ".join(tags)
