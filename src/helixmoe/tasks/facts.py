"""The HLX fact sheet: the answers of the coordinator's and the glyph questions, built from the spec.

Each topic has one canonical answer (a sentence or two, or a single glyph), so a question's reference is
a function of its topic, whatever the phrasing. Sources: notation summaries (spec §3–§6), the value
types (§1), the LC-R glyph table (§5), contract ids (§7) and which notation suits which use.
"""

from __future__ import annotations

__all__ = [
    "CHOICES",
    "CONTRACT_FACTS",
    "GLYPHS",
    "GLYPH_ROLES",
    "NOTATION_FACTS",
    "TOPIC_NAMES",
    "TYPE_FACTS",
]

#: Notation -> what it is (spec §3, §4, §5, §6).
NOTATION_FACTS: dict[str, str] = {
    "hlxl": 'HLXL is the human-readable HLX notation: null/true/false, handles as &h_name, bytes as b"...", '
    "objects {key: value} and contracts {id: {@0: value}}.",
    "lc-t": "LC-T is the ASCII text wire format of HLX: upper-case NULL/TRUE/FALSE, handles as @name, bytes as "
    "#hex, contracts {C:id,0=value}, no whitespace and pure ASCII.",
    "lc-r": "LC-R is the runic glyph notation of HLX: ∅ ⊤ ⊥ for null/true/false, ⟁ handles, ⊠ bytes, "
    "🜃…🜄 arrays, ◇…◆ objects and 🜊id🜁0 value🜂 contracts.",
    "lc-b-text": "LC-B text is the bracket notation of the LC-B binary format: every value wrapped in [...], "
    "integers in hex (0x2a), _ T F for null/true/false, contracts [id|0:value].",
    "lc-b-hex": "LC-B is the binary wire format of HLX: one tag byte per value, little-endian numbers, big-endian "
    "lengths, with no header or checksum; in prompts its bytes are written as lowercase hex.",
}
#: Topic aliases as they appear in questions (topic id -> phrases).
TOPIC_NAMES: dict[str, tuple[str, ...]] = {
    "hlxl": ("HLXL", "the HLXL notation", "readable HLX"),
    "lc-t": ("LC-T", "the LC-T format", "the ASCII wire format"),
    "lc-r": ("LC-R", "the LC-R notation", "runic notation"),
    "lc-b-text": ("LC-B text", "the LC-B bracket notation", "bracket form"),
    "lc-b-hex": ("LC-B binary", "the LC-B binary format", "LC-B bytes"),
    "handle": ("a handle", "an HLX handle", "handles"),
    "contract": ("a contract", "an HLX contract", "contracts"),
    "bytes": ("HLX bytes", "a bytes value", "byte strings in HLX"),
    "object": ("an HLX object", "objects in HLX", "an object"),
    "float": ("an HLX float", "floats in HLX", "a float"),
}
#: Value types (spec §1) -> answer.
TYPE_FACTS: dict[str, str] = {
    "handle": "A handle is a reference by name ([A-Za-z0-9_]+): &h_name in HLXL, @name in LC-T, ⟁name in LC-R, "
    "&name in LC-B text.",
    "contract": "A contract is a typed record: a non-negative id plus fields with strictly ascending indices, "
    "written {14: {@0: 42}} in HLXL.",
    "bytes": 'Bytes are raw octets: b"..." in HLXL, #hex in LC-T and LC-B text, ⊠hex in LC-R.',
    "object": "An object is an ordered map with identifier keys; keys are unique and the key C is reserved.",
    "float": "A float is an IEEE-754 binary64 number; NaN and Infinity are errors and 1.0 is not equal to 1.",
}
#: Contract id (spec §7) -> answer.
CONTRACT_FACTS: dict[str, str] = {
    "14": "Contract 14 is an int literal (also used as a list).",
    "15": "Contract 15 is a float literal.",
    "16": "Contract 16 is a text literal.",
    "17": "Contract 17 is a bytes literal.",
    "20": "Contract 20 is a handle reference.",
    "21": "Contract 21 is a null literal.",
    "22": "Contract 22 is a bool literal.",
    "100": "Contract 100 is a program block.",
    "104": "Contract 104 is a function definition.",
    "106": "Contract 106 is a conditional.",
    "107": "Contract 107 is a loop.",
    "900": "Contract 900 is a VulkanShader: @0 SPIR-V handle, @1 entry point, @2 stage.",
    "901": "Contract 901 is a ComputeKernel.",
    "902": "Contract 902 is a PipelineConfig.",
    "1000": "Contract 1000 is a general operation: @0 the operation name, @1 and later the arguments.",
}
#: Recommended notation -> (use-case phrases, answer).
CHOICES: dict[str, tuple[tuple[str, ...], str]] = {
    "hlxl": (
        ("for humans to read and edit", "in documentation", "when writing values by hand", "for code review"),
        "Use HLXL: it is the human-readable notation, easy to read and write by hand.",
    ),
    "lc-t": (
        (
            "in ASCII-only logs",
            "inside a JSON string field",
            "over a text-only channel",
            "in terminal output",
        ),
        "Use LC-T: it is compact pure-ASCII text, safe for logs, JSON fields and terminals.",
    ),
    "lc-r": (
        (
            "for a symbolic glyph view",
            "when I want the runic form",
            "for visual glyph programs",
            "for glyph-based displays",
        ),
        "Use LC-R: it is the runic glyph notation for symbolic display.",
    ),
    "lc-b-hex": (
        (
            "to send values over the network as compact bytes",
            "for binary storage on disk",
            "for the smallest encoding",
            "for a byte-level wire protocol",
        ),
        "Use LC-B: it is the compact binary wire format (tag bytes, no header).",
    ),
}
#: LC-R glyph table (spec §5): role -> glyph.
GLYPHS: dict[str, str] = {
    "null": "∅",
    "true": "⊤",
    "false": "⊥",
    "handle prefix": "⟁",
    "bytes prefix": "⊠",
    "contract start": "🜊",
    "contract field": "🜁",
    "contract end": "🜂",
    "array start": "🜃",
    "array end": "🜄",
    "object start": "◇",
    "object end": "◆",
}
#: Role -> phrasings used in questions (the first is the canonical role name, the reverse answer).
GLYPH_ROLES: dict[str, tuple[str, ...]] = {
    "null": ("null", "the null value", "nothing/null"),
    "true": ("true", "boolean true", "the true value"),
    "false": ("false", "boolean false", "the false value"),
    "handle prefix": ("handle prefix", "a handle", "handle references"),
    "bytes prefix": ("bytes prefix", "bytes", "a byte string"),
    "contract start": ("contract start", "the start of a contract", "opening a contract"),
    "contract field": ("contract field", "a contract field marker", "each contract field"),
    "contract end": ("contract end", "the end of a contract", "closing a contract"),
    "array start": ("array start", "the start of an array", "opening an array"),
    "array end": ("array end", "the end of an array", "closing an array"),
    "object start": ("object start", "the start of an object", "opening an object"),
    "object end": ("object end", "the end of an object", "closing an object"),
}
