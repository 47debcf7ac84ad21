"""The grammar of each notation's canonical form, in two shapes, keyed by notation name.

* :func:`automaton` — the prefix automata of :mod:`helixmoe.grammar.automaton` (text notations) and
  :mod:`helixmoe.grammar.binary` (``lc-b-hex``): the default constraint, because they also report the
  fewest characters that complete a value, which lets the decoder guarantee termination in the token budget.
* :func:`lark_grammar` — Lark grammars for llguidance (design "llguidance" in
  :mod:`helixmoe.grammar.processor`), written from the spec (§2–§5, §6.2) with every numeric terminal
  generated from the same range tables as the automata (:mod:`helixmoe.grammar.literals`), so the two
  designs accept the same literals. ``lc-b-hex`` has none: LC-B is length-prefixed, not context-free in
  any useful way. What a CFG cannot say is left to the verifier: int64 range beyond 18 digits, duplicate
  keys, ascending contract indices, the nesting limit.

The registry maps each name of ``hlx.NOTATIONS`` except ``lc-b`` (bytes are not generated as text) to its
automaton. Pure Python; no torch.
"""

from __future__ import annotations

from functools import cache

from helixmoe.grammar.automaton import TextAutomaton, TextSyntax
from helixmoe.grammar.binary import BinaryAutomaton
from helixmoe.grammar.literals import (
    EXP_NEG,
    EXP_POS,
    LCB_HEX_INT,
    NEG_INT64,
    U_ESC_ASCII,
    U_ESC_RAW,
    UINT64,
    Ranges,
)
from helixmoe.hlx import HLXError
from helixmoe.hlx.api import normalise

__all__ = ["GRAMMAR_NOTATIONS", "SYNTAXES", "automaton", "lark_grammar"]

SYNTAXES: dict[str, TextSyntax] = {
    "hlxl": TextSyntax(
        "hlxl",
        {"n": "ull", "t": "rue", "f": "alse"},
        "&h_",
        "",
        ("[", "]"),
        ("{", "}"),
        ", ",
        ": ",
        ": ",
        False,
    ),
    "lc-t": TextSyntax(
        "lc-t", {"N": "ULL", "T": "RUE", "F": "ALSE"}, "@", "#", ("[", "]"), ("{", "}"), ",", ":", "=", True
    ),
    "lc-r": TextSyntax(
        "lc-r",
        {"\u2205": "", "\u22a4": "", "\u22a5": ""},
        "\u27c1",
        "\u22a0",
        ("\U0001f703", "\U0001f704"),
        ("\u25c7", "\u25c6"),
        ", ",
        ": ",
        " ",
        False,
    ),
    "lc-b-text": TextSyntax(
        "lc-b-text", {"_": "", "T": "", "F": ""}, "&", "#", ("[", "]"), ("{", "}"), ",", ":", ":", True
    ),
}
#: Notations a constrained decoder can target (every text notation).
GRAMMAR_NOTATIONS: tuple[str, ...] = (*SYNTAXES, "lc-b-hex")


@cache
def automaton(notation: str) -> TextAutomaton | BinaryAutomaton:
    """The prefix automaton of ``notation``'s canonical form (aliases accepted).

    Raises:
        HLXError: unknown notation, or ``lc-b`` (bytes; use ``lc-b-hex``).
    """
    name = normalise(notation)
    if name == "lc-b-hex":
        return BinaryAutomaton()
    if name not in SYNTAXES:
        raise HLXError(name, "no grammar for raw LC-B bytes: constrain to 'lc-b-hex' (the bytes as hex text)")
    return TextAutomaton(SYNTAXES[name])


# ---------------------------------------------------------------------------------------------- Lark
_DEC = "0123456789"
_HEXD = "0123456789abcdef"


def _class(alphabet: str, lo: str, hi: str) -> str:
    chars = alphabet[alphabet.index(lo) : alphabet.index(hi) + 1]
    return chars if len(chars) == 1 else f"[{chars}]"


def _fixed(a: str, b: str, alphabet: str) -> str:
    """Regex for the fixed-width digit strings from ``a`` to ``b`` (same width, ``a <= b``)."""
    if not a:
        return ""
    if a == b:
        return a
    if a[0] == b[0]:
        return a[0] + _fixed(a[1:], b[1:], alphabet)
    rest = len(a) - 1
    low, high = alphabet[0] * rest, alphabet[-1] * rest
    anything = f"[{alphabet}]{{{rest}}}" if rest else ""
    if a[1:] == low and b[1:] == high:
        return _class(alphabet, a[0], b[0]) + anything
    parts = [a[0] + _fixed(a[1:], high, alphabet)]
    first, last = alphabet.index(a[0]), alphabet.index(b[0])
    if last - first > 1:
        parts.append(_class(alphabet, alphabet[first + 1], alphabet[last - 1]) + anything)
    parts.append(b[0] + _fixed(low, b[1:], alphabet))
    return "(" + "|".join(parts) + ")"


def ranges_regex(ranges: Ranges, base: int = 10) -> str:
    """Regex matching exactly the digit strings a range table (see :mod:`literals`) allows."""
    alphabet = _DEC if base == 10 else _HEXD
    parts = []
    for width, lo, hi in ranges:
        a = f"{lo:0{width}d}" if base == 10 else f"{lo:0{width}x}"
        b = f"{hi:0{width}d}" if base == 10 else f"{hi:0{width}x}"
        parts.append(_fixed(a, b, alphabet))
    return "(" + "|".join(parts) + ")"


def _terminals(ascii_strings: bool) -> dict[str, str]:
    u_esc = ranges_regex(U_ESC_ASCII if ascii_strings else U_ESC_RAW, 16)
    raw = r"[\x20\x21\x23-\x5b\x5d-\x7e]" if ascii_strings else r'[^"\\\x00-\x1f\x7f]'
    pair = r"|\\ud[89ab][0-9a-f]{2}\\ud[c-f][0-9a-f]{2}" if ascii_strings else ""
    frac = r"\.([0-9]{0,19}[1-9]|0)"
    exponent = f"e(\\+{ranges_regex(EXP_POS)}|-{ranges_regex(EXP_NEG)})"
    return {
        "INT": f"({ranges_regex(UINT64)}|-{ranges_regex(NEG_INT64)})",
        "FLOAT": f"-?((0|[1-9][0-9]{{0,15}}){frac}|[1-9](\\.[0-9]{{0,15}}[1-9])?{exponent})",
        "STRING": f'"({raw}|\\\\["\\\\nrt]|\\\\u{u_esc}{pair})*"',
        "UINT": ranges_regex(UINT64),
    }


def _lark(rules: str, terminals: dict[str, str]) -> str:
    lines = [rules.strip()]
    lines += [f"{name}: /{regex}/" for name, regex in terminals.items()]
    return "\n".join(lines) + "\n"


_HLXL = r"""
start: value
value: "null" | "true" | "false" | INT | FLOAT | STRING | BYTES | HANDLE | array | object | contract
array: "[" "]" | "[" value (", " value)* "]"
object: "{" "}" | "{" KEY ": " value (", " KEY ": " value)* "}"
contract: "{" UINT ": {" "}}" | "{" UINT ": {" field (", " field)* "}}"
field: "@" UINT ": " value
HANDLE: /&h_[A-Za-z0-9_]{1,255}/
BYTES: /b"([\x20\x21\x23-\x5b\x5d-\x7e]|\\["\\]|\\x([01][0-9a-f]|7f|[89a-f][0-9a-f]))*"/
KEY: /[A-Za-z_][A-Za-z0-9_]*/
"""
_LCT = r"""
start: value
value: "NULL" | "TRUE" | "FALSE" | INT | FLOAT | STRING | BYTES | HANDLE | array | object | contract
array: "[" "]" | "[" value ("," value)* "]"
object: "{" "}" | "{" KEY ":" value ("," KEY ":" value)* "}"
contract: "{C:" UINT ("," UINT "=" value)* "}"
HANDLE: /@[A-Za-z0-9_]{1,255}/
BYTES: /#([0-9a-f]{2})*/
KEY: /C[A-Za-z0-9_]+|[A-BD-Za-z_][A-Za-z0-9_]*/
"""
_LCR = """
start: value
value: "\u2205" | "\u22a4" | "\u22a5" | INT | FLOAT | STRING | BYTES | HANDLE | array | object | contract
array: "\U0001f703" "\U0001f704" | "\U0001f703" value (", " value)* "\U0001f704"
object: "\u25c7" "\u25c6" | "\u25c7" KEY ": " value (", " KEY ": " value)* "\u25c6"
contract: "\U0001f70a" UINT ("\U0001f701" UINT " " value)* "\U0001f702"
HANDLE: /\u27c1[A-Za-z0-9_]{1,255}/
BYTES: /\u22a0([0-9a-f]{2})*/
KEY: /[A-Za-z_][A-Za-z0-9_]*/
"""
_LBT = r"""
start: contract | "[" inner_nc "]"
inner: inner_nc | contract
inner_nc: "_" | "T" | "F" | HEXINT | FLOAT | STRING | BYTES | HANDLE | array | object
array: "[" "]" | "[" inner ("," inner)* "]"
object: "{" "}" | "{" KEY ":" inner ("," KEY ":" inner)* "}"
contract: "[" UINT ("|" UINT ":" inner)* "]"
HANDLE: /&[A-Za-z0-9_]{1,255}/
BYTES: /#([0-9a-f]{2})*/
KEY: /[A-Za-z_][A-Za-z0-9_]*/
"""


@cache
def lark_grammar(notation: str) -> str:
    """Lark grammar (llguidance dialect) of ``notation``'s canonical form.

    Raises:
        HLXError: the notation has no context-free grammar here (``lc-b``, ``lc-b-hex``).
    """
    name = normalise(notation)
    rules = {"hlxl": _HLXL, "lc-t": _LCT, "lc-r": _LCR, "lc-b-text": _LBT}.get(name)
    if rules is None:
        raise HLXError(name, "no Lark grammar: LC-B is length-prefixed; use the automaton design")
    terminals = _terminals(ascii_strings=name in ("lc-t", "lc-b-text"))
    if name == "lc-b-text":
        terminals["HEXINT"] = "0x" + ranges_regex(LCB_HEX_INT, 16)
        del terminals["INT"]
    return _lark(rules, terminals)
