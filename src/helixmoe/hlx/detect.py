"""Which notation is this text in, and where are the HLX values inside free text?

``detect`` parses the text in every text notation and keeps the ones that succeed: canonical text wins,
identical values are not ambiguous, and LC-B hex is only a fallback. ``find_values`` scans English text
(prompts such as "please make `{14: {@0: 42}}` runic") for values: code spans first, then every position
where a value can start, keeping the longest parse. Routing verification depends on it.
"""

from __future__ import annotations

import copy
import re
from functools import lru_cache
from typing import Any, NamedTuple

from helixmoe.hlx.api import dumps, loads, module_for
from helixmoe.hlx.errors import HLXError
from helixmoe.hlx.values import Handle, equal

__all__ = ["FoundValue", "clear_caches", "code_spans", "detect", "find_value", "find_values"]

_TEXT_ORDER = ("hlxl", "lc-t", "lc-r", "lc-b-text")
# a fence's language tag is a word on the fence's own line: in a one-line fence (```42```) the first word is the code
_CODE_RE = re.compile(r"```(?:[A-Za-z0-9_+-]*[ \t]*\n)?(.*?)```|`([^`\n]+)`", re.S)
_HEX_RUN_RE = re.compile(r"(?:0x)?([0-9a-fA-F]{2,})")
_RUNIC_START = frozenset("∅⊤⊥⟁⊠\U0001f70a\U0001f703◇\U0001f40a\U0001f403")
_WORD = re.compile(r"[A-Za-z0-9_]")
# first character -> notations whose value may start there (free-text scanning)
_STRUCTURED_STARTS = {
    "{": ("hlxl", "lc-t", "lc-r"),
    "[": ("hlxl", "lc-t", "lc-b-text"),
    '"': ("hlxl",),
    "&": ("hlxl",),
    "@": ("lc-t",),
    "#": ("lc-t",),
    "b": ("hlxl",),
}
_SCALAR_STARTS = dict.fromkeys("-0123456789", ("hlxl",)) | {
    "n": ("hlxl",),
    "t": ("hlxl",),
    "f": ("hlxl",),
    "N": ("lc-t",),
    "T": ("lc-t",),
    "F": ("lc-t",),
}


class FoundValue(NamedTuple):
    """An HLX value located in free text: ``text == source[start:end]``."""

    value: Any
    notation: str
    start: int
    end: int
    text: str


def detect(text: str | bytes) -> str:
    """Return the notation ``text`` is written in.

    Raises:
        HLXError: the text parses in no notation (the message lists each notation's error, closest
            first) or in several with different values (the message lists the candidates).
    """
    if isinstance(text, (bytes, bytearray)):
        return "lc-b"
    return _detect(text)[0]


def _detect(text: str) -> tuple[str, Any]:
    """:func:`detect` of a text, with the value read in that notation."""
    parsed: list[tuple[str, Any]] = []
    errors: list[HLXError] = []
    for name in _TEXT_ORDER:
        try:
            parsed.append((name, loads(text, name)))
        except HLXError as err:
            errors.append(err)
    if not parsed:
        try:
            return "lc-b-hex", loads(text, "lc-b-hex")
        except HLXError as err:
            errors.append(err)
        raise _no_notation(text, errors)
    if len(parsed) == 1:
        return parsed[0]
    stripped = text.strip()
    for name, value in parsed:
        if dumps(value, name) == stripped:
            return name, value
    first = parsed[0]
    if all(equal(value, first[1]) for _, value in parsed[1:]):
        return first
    names = ", ".join(name for name, _ in parsed)
    raise HLXError("detect", f"ambiguous text: it parses as {names} with different values; pass the notation")


def _no_notation(text: str, errors: list[HLXError]) -> HLXError:
    """The 'not in any notation' error, pointing at the parse that got furthest."""
    best = max(errors, key=lambda e: e.offset if e.offset is not None else -1)
    others = "; ".join(f"{e.notation}: {e.message}" for e in errors if e is not best)
    message = f"not a value in any HLX notation; closest is {best.notation}: {best.message}"
    if others:
        message += f" (others: {others})"
    return (
        HLXError("detect", message, text, best.offset)
        if best.offset is not None
        else HLXError("detect", message)
    )


def find_values(text: str, *, scalars: bool = False) -> list[FoundValue]:
    """Locate the HLX values embedded in free text, in order of appearance.

    Code spans (```` ``` ```` fences and `` `inline` ``) are read first and may hold any value. Outside them
    the scanner keeps structured values, strings, bytes, handles and LC-B hex runs (also spaced into byte
    words, ``50 00 0e 00``, when the whole run parses); bare numbers and keywords only with ``scalars=True``
    (English is full of numbers that are not meant as values).

    Args:
        text: free text, e.g. a user prompt.
        scalars: also report bare numbers and ``null``/``TRUE``-style keywords outside code spans.

    Returns:
        A list of :class:`FoundValue`, non-overlapping, sorted by ``start``.
    """
    found: list[FoundValue] = []
    covered: list[tuple[int, int]] = []
    for m in _CODE_RE.finditer(text):
        group = 1 if m.group(1) is not None else 2
        start, end = m.span(group)
        inner = text[start:end]
        lead = len(inner) - len(inner.lstrip())
        body = inner.strip()
        covered.append(m.span())
        if not body:
            continue
        try:
            notation, value = _detect(body)
        except HLXError:
            found.extend(_scan(text, start, end, scalars))
            continue
        found.append(FoundValue(value, notation, start + lead, start + lead + len(body), body))
    pos = 0
    for lo, hi in [*covered, (len(text), len(text))]:
        found.extend(_scan(text, pos, lo, scalars))
        pos = hi
    found.sort(key=lambda f: f.start)
    return found


def _start_re(scalars: bool) -> re.Pattern[str]:
    """The positions where :func:`_value_at` can find anything; elsewhere it returns ``None``, so the scan
    jumps over them. Anywhere: a runic start or an opening ``{["``. At a word boundary: ``&``, ``@``, ``#``,
    ``b"``, a word of hex digits (LC-B hex, ``0x``) and, with ``scalars``, a sign, a digit or a whole
    keyword (``null``, ``TRUE``, ...). Any other letter starts no value: English words are skipped whole."""
    anywhere = re.escape("".join(sorted(_RUNIC_START | set('{["'))))
    bounded = ["[&@#]", 'b(?=")', "(?=(?:0x)?[0-9a-fA-F]{2,}(?![A-Za-z0-9_]))"]
    if scalars:
        bounded.append(r"[-0-9]")
        bounded += [f"{w[0]}(?={w[1:]})" for w in ("null", "true", "false", "NULL", "TRUE", "FALSE")]
    return re.compile(f"[{anywhere}]|(?<![A-Za-z0-9_])(?:{'|'.join(bounded)})")


_STARTS = {scalars: _start_re(scalars) for scalars in (False, True)}


def _scan(text: str, pos: int, stop: int, scalars: bool) -> list[FoundValue]:
    out: list[FoundValue] = []
    region = text[:stop]
    starts = _STARTS[scalars]
    runs_from = pos  # a spaced hex run is read whole from its first word only (linear time on long runs)
    while pos < stop:
        # skip to the next place a value may start (routing scans every request: this is most of its time)
        jump = starts.search(region, pos)
        if jump is None:
            break
        pos = jump.start()
        hit: FoundValue | int | None = None
        if pos >= runs_from:
            run = _SPACED_HEX_RE.match(region, pos)
            if run is not None and " " in run.group():
                runs_from = run.end()
                hit = _hex_run(run)
        if hit is None:
            hit = _value_at(region, pos, scalars)
        if isinstance(hit, FoundValue):
            out.append(hit)
            pos = hit.end
        elif hit is not None:
            # A value nested deeper than the limit starts here: whatever parses after this point may be a
            # fragment of it (70 nested arrays hold a 5-deep one past the 64th opener), which a check would
            # then verify an answer against, so the scan stops (and deep input costs linear time).
            break
        else:
            pos += 1
    return out


def _hex_run(run: re.Match[str]) -> FoundValue | None:
    """A run of hex words (:data:`_SPACED_HEX_RE`, e.g. an LC-B hex dump spaced into byte words,
    ``70 04 05 63 ...``) as the one value it is, when the whole run parses; else ``None`` (in free-text
    scanning its words are then read one by one, as any other short word). Before, the scan took each byte
    word for its own number (``60``, ``00``, ...): the routers saw dozens of HLXL scalars, and verification
    found no value to check the answer against."""
    try:
        value = loads(run.group(), "lc-b-hex")
    except HLXError:
        return None
    return FoundValue(value, "lc-b-hex", run.start(), run.end(), run.group())


def _candidates(text: str, pos: int, scalars: bool) -> tuple[str, ...]:
    char = text[pos]
    if char in _RUNIC_START:
        return ("lc-r",)
    at_boundary = pos == 0 or not _WORD.match(text[pos - 1])
    if not at_boundary and char not in '{["':
        return ()
    if char in _STRUCTURED_STARTS:
        return _STRUCTURED_STARTS[char]
    if scalars and char in _SCALAR_STARTS:
        return _SCALAR_STARTS[char]
    return ()


#: A short word of scalar characters ending at whitespace or the end of the text: whatever value starts
#: there lies inside it, so its reading depends on the word alone (and on the character before it).
_WORD_VALUE_RE = re.compile(r"[A-Za-z0-9_.+\-&@#]{1,24}(?=\s|\Z)")
_IMMUTABLE = (int, float, str, bool, bytes, type(None), Handle)


def _value_at(text: str, pos: int, scalars: bool) -> FoundValue | int | None:
    """The longest value starting at ``pos`` in any plausible notation; else the offset of a depth
    error (a value nested too deep starts at ``pos``: :func:`_scan` stops there), or ``None``."""
    word = _WORD_VALUE_RE.match(text, pos)
    if word is not None:
        # Spaced hex and numbers are many short words, each parsed in up to three ways; they repeat
        # across requests, so each word's reading is remembered (_word_value).
        boundary = pos == 0 or not _WORD.match(text[pos - 1])
        hit = _word_value(word.group(), boundary, scalars)
        if hit is None:
            return None
        name, length, value = hit
        if not isinstance(value, _IMMUTABLE):
            value = copy.deepcopy(value)
        return FoundValue(value, name, pos, pos + length, text[pos : pos + length])
    return _read_value_at(text, pos, scalars)


@lru_cache(maxsize=8192)
def _word_value(word: str, boundary: bool, scalars: bool) -> tuple[str, int, Any] | None:
    """:func:`_read_value_at` of a word of :data:`_WORD_VALUE_RE` (with a non-word character before it
    when ``boundary``) as ``(notation, length, value)``; the caller copies the value."""
    text = word if boundary else "x" + word
    hit = _read_value_at(text, len(text) - len(word), scalars)
    return None if not isinstance(hit, FoundValue) else (hit.notation, hit.end - hit.start, hit.value)


def _read_value_at(text: str, pos: int, scalars: bool) -> FoundValue | int | None:
    best: tuple[int, str, Any] | None = None
    too_deep: int | None = None
    for name in _candidates(text, pos, scalars):
        try:
            end, value = module_for(name).parse_value(text, pos, 0, False)
        except HLXError as err:
            if err.offset is not None and err.message.startswith("value nested deeper"):
                too_deep = max(too_deep or 0, err.offset)
            continue
        except (IndexError, RecursionError):
            continue
        if best is None or end > best[0]:
            best = (end, name, value)
    hex_hit = _hex_at(text, pos, scalars)
    if hex_hit is not None and (best is None or hex_hit[0] > best[0]):
        best = hex_hit
    if best is None:
        return too_deep
    end, name, value = best
    if (
        name == "lc-t"
        and text[pos] == "#"
        and (end - pos < 3 or (end < len(text) and _WORD.match(text[end])))
    ):
        return None  # prose: "### Instruction", "#1", "C#" — not LC-T bytes (``#`` needs hex digits here)
    return FoundValue(value, name, pos, end, text[pos:end])


def _hex_at(text: str, pos: int, scalars: bool) -> tuple[int, str, Any] | None:
    if pos > 0 and _WORD.match(text[pos - 1]):
        return None
    m = _HEX_RUN_RE.match(text, pos)
    if m is None or (m.end() < len(text) and _WORD.match(text[m.end()])):
        return None
    digits = m.group(1)
    if len(digits) % 2 or (len(digits) < 4 and not scalars):
        return None
    if len(digits) <= _SHORT_HEX:
        parsed, value = _short_hex(digits)
        return (m.end(), "lc-b-hex", copy.deepcopy(value)) if parsed else None
    try:
        return m.end(), "lc-b-hex", loads(digits, "lc-b-hex")
    except HLXError:
        return None


_SHORT_HEX = 8  # hex words up to this many digits are read once and remembered (see _short_hex)


@lru_cache(maxsize=4096)
def _short_hex(digits: str) -> tuple[bool, Any]:
    """``(True, value)`` for a short hex word that is an LC-B value, else ``(False, None)``. Spaced hex
    (``70 04 6E ...``) is a run of two-digit words, each tried at its own position in every routed request,
    and the full LC-B read of a word cost ~40 µs; the caller copies the value, so callers never share one."""
    try:
        return True, loads(digits, "lc-b-hex")
    except HLXError:
        return False, None


def clear_caches() -> None:
    """Forget the remembered readings of short words (benchmarks time a cold start with it)."""
    _word_value.cache_clear()
    _short_hex.cache_clear()


#: Characters a value of each text notation may start with (free-text scanning in :func:`find_value`).
_NOTATION_STARTS: dict[str, frozenset[str]] = {
    "hlxl": frozenset('{["&b-0123456789ntf'),
    "lc-t": frozenset('{["@#-0123456789NTF'),
    "lc-r": frozenset('{"-0123456789') | _RUNIC_START | frozenset("\U0001f40a\U0001f403"),
    "lc-b-text": frozenset("["),
}
#: Hex words (whole words of hex digits, the first may carry ``0x``) joined by single spaces.
_SPACED_HEX_RE = re.compile(
    r"(?<![0-9A-Za-z_])(?:0x)?(?:[0-9a-fA-F]{2})+(?: (?:[0-9a-fA-F]{2})+(?![0-9A-Za-z_]))*(?![0-9A-Za-z_])"
)


def find_value(text: str, notation: str | None = None) -> FoundValue | None:
    """The value written in ``notation`` that a request is about: the first code span that parses in it
    as a whole, else the longest value of that notation in the free text (``None`` when there is none).
    Without a notation, the longest such value of any text notation (earlier in ``hlxl``, ``lc-t``,
    ``lc-r``, ``lc-b-text``, ``lc-b-hex`` on a tie): its text is the request's value, whatever notation it
    is read in.

    :func:`find_values` reports each place in the notation that parses there first, which for a scalar or
    a bracket group is often the wrong one (``[21]`` is an HLXL array but the LC-B text contract 21); here
    the caller names the notation (e.g. the one the request says its value is in). LC-B hex runs may have
    single spaces between byte pairs and a ``0x`` prefix, as the lenient parser accepts.

    Raises:
        HLXError: ``notation`` is not a text notation (``lc-b`` bytes are not searched for in text).
    """
    if notation is None:
        hits = [f for n in (*_TEXT_ORDER, "lc-b-hex") if (f := find_value(text, n)) is not None]
        return max(hits, key=lambda f: f.end - f.start, default=None)
    if notation not in _NOTATION_STARTS and notation != "lc-b-hex":
        raise HLXError(
            notation, "find_value searches text notations only (hlxl, lc-t, lc-r, lc-b-text, lc-b-hex)"
        )
    for start, end in code_spans(text):
        inner = text[start:end]
        body = inner.strip()
        if not body:
            continue
        try:
            value = loads(body, notation)
        except HLXError:
            continue
        lead = start + len(inner) - len(inner.lstrip())
        return FoundValue(value, notation, lead, lead + len(body), body)
    hits = _hex_runs(text) if notation == "lc-b-hex" else _notation_values(text, notation)
    return max(hits, key=lambda f: f.end - f.start, default=None)


def code_spans(text: str) -> list[tuple[int, int]]:
    """Where the code spans of ``text`` (```` ``` ```` fences, with or without a language tag, and
    `` `inline` `` spans) hold their text: ``(start, end)`` of each span's inside, in order."""
    return [m.span(1 if m.group(1) is not None else 2) for m in _CODE_RE.finditer(text)]


def _hex_runs(text: str) -> list[FoundValue]:
    return [f for m in _SPACED_HEX_RE.finditer(text) if (f := _hex_run(m)) is not None]


def _notation_values(text: str, notation: str) -> list[FoundValue]:
    """Non-overlapping values of one notation, scanning left to right (a value's inside is not rescanned)."""
    starts, parse = _NOTATION_STARTS[notation], module_for(notation).parse_value
    out, pos = [], 0
    while pos < len(text):
        char = text[pos]
        if char not in starts or (pos and _WORD.match(text[pos - 1]) and char not in '{["'):
            pos += 1
            continue
        try:
            end, value = parse(text, pos, 0, False)
        except HLXError as err:
            if err.message.startswith("value nested deeper"):
                break  # what parses further on may be a fragment of the too-deep value (see _scan)
            pos += 1
            continue
        except (IndexError, RecursionError):
            pos += 1
            continue
        if (end < len(text) and _WORD.match(text[end - 1]) and _WORD.match(text[end])) or (
            char == "#" and (end - pos < 3 or (end < len(text) and _WORD.match(text[end])))
        ):
            pos += 1  # a prefix of a word ("nullable", "12abc") or prose ("### Instruction", "#1")
            continue
        out.append(FoundValue(value, notation, pos, end, text[pos:end]))
        pos = end
    return out
