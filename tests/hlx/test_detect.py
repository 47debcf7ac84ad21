"""detect() and find_values(): which notation, and where values sit inside English prompts."""

from __future__ import annotations

import pytest

from helixmoe import hlx
from helixmoe.hlx import Contract, Handle


@pytest.mark.parametrize(
    ("text", "notation"),
    [
        ("[1, 2, 3]", "hlxl"),
        ("[1,2,3]", "lc-t"),  # canonical LC-T wins over lenient HLXL
        ("{14: {@0: 42}}", "hlxl"),
        ("{C:14,0=42}", "lc-t"),
        ("🜊14🜁0 42🜂", "lc-r"),
        ("🐊14🐁0 42🐂", "lc-r"),
        ("[14|0:0x2a]", "lc-b-text"),
        ("[0x2a]", "lc-b-text"),
        ("null", "hlxl"),
        ("NULL", "lc-t"),
        ("42", "hlxl"),  # same value in HLXL and LC-T: not ambiguous
        ("50000e0100122a000000", "lc-b-hex"),  # hex is only a fallback
        ('  {name: "Alice", age: 30}\n', "hlxl"),
    ],
)
def test_detect(text: str, notation: str) -> None:
    assert hlx.detect(text) == notation


def test_detect_bytes_is_lc_b() -> None:
    assert hlx.detect(bytes.fromhex("00")) == "lc-b"


def test_detect_error_points_at_the_closest_parse() -> None:
    with pytest.raises(hlx.HLXError) as info:
        hlx.detect('{C:1000 0="x"}')
    err = info.value
    assert "closest is lc-t" in err.message
    assert "after the contract id" in err.message
    assert (err.line, err.column) == (1, 9)
    assert "^" in str(err)


@pytest.mark.parametrize(
    ("prompt", "value", "notation", "text"),
    [
        ("please make `{14: {@0: 42}}` runic", Contract(14, ((0, 42),)), "hlxl", "{14: {@0: 42}}"),
        ("Convert to LC-R: [1, 2, 3].", [1, 2, 3], "hlxl", "[1, 2, 3]"),
        ("Parse this LC-T: {C:14,0=42} into HLXL", Contract(14, ((0, 42),)), "lc-t", "{C:14,0=42}"),
        ("what is 🜃1, 2🜄 in HLXL?", [1, 2], "lc-r", "🜃1, 2🜄"),
        (
            'Decode [1000|0:"search"|1:&query] please',
            Contract(1000, ((0, "search"), (1, Handle("query")))),
            "lc-b-text",
            '[1000|0:"search"|1:&query]',
        ),
        (
            "bytes: 600003120100000012020000001203000000 ok",
            [1, 2, 3],
            "lc-b-hex",
            "600003120100000012020000001203000000",
        ),
        ('```\n{name: "Alice"}\n```', {"name": "Alice"}, "hlxl", '{name: "Alice"}'),
        ("inline `42` scalar", 42, "hlxl", "42"),
    ],
)
def test_find_values(prompt: str, value: object, notation: str, text: str) -> None:
    found = hlx.find_values(prompt)
    assert len(found) == 1, found
    hit = found[0]
    assert hlx.equal(hit.value, value)
    assert hit.notation == notation
    assert hit.text == text
    assert prompt[hit.start : hit.end] == text


def test_find_values_skips_english_numbers_and_emails_by_default() -> None:
    prompt = "In 2024 I sent 3 files to bob@example.com, returns null"
    assert hlx.find_values(prompt) == []
    scalars = [f.value for f in hlx.find_values(prompt, scalars=True)]
    assert scalars == [2024, 3, None]


def test_find_values_several_in_order() -> None:
    found = hlx.find_values("Is {C:1} the same as 🜊1🜂 and {1: {}}?")
    assert [f.notation for f in found] == ["lc-t", "lc-r", "hlxl"]
    assert all(hlx.equal(f.value, Contract(1, ())) for f in found)


@pytest.mark.parametrize(
    ("prompt", "notation", "value", "text"),
    [
        ("Here is some bracket form: [21] as HLXL", "lc-b-text", Contract(21, ()), "[21]"),  # spec §6.2
        ("Here is some bracket form: [21] as HLXL", "hlxl", [21], "[21]"),
        ("Decode the following LC-R: 0.1", "lc-r", 0.1, "0.1"),
        (
            "translate the raw binary (hex) 60000140057370697276 back",
            "lc-b-hex",
            [Handle("spirv")],
            "60000140057370697276",
        ),
        ("pretty print 50 00 0E 00 thanks", "lc-b-hex", Contract(14, ()), "50 00 0E 00"),
        ("in `{C:14}` wire text, not {C:15}", "lc-t", Contract(14, ()), "{C:14}"),  # a code span comes first
        ("both [1] and [1, [2, 3]] are HLXL", "hlxl", [1, [2, 3]], "[1, [2, 3]]"),  # the longest
        ("the glyphs 🜃1, 2🜄 please", "lc-r", [1, 2], "🜃1, 2🜄"),
    ],
)
def test_find_value_in_a_named_notation(prompt: str, notation: str, value: object, text: str) -> None:
    hit = hlx.find_value(prompt, notation)
    assert hit is not None
    assert hlx.equal(hit.value, value) and type(hit.value) is type(value)
    assert hit.notation == notation
    assert hit.text == text == prompt[hit.start : hit.end]


def test_find_value_none_and_words() -> None:
    assert hlx.find_value("nothing to see here", "hlxl") is None
    assert hlx.find_value("the nullable field", "hlxl") is None  # a word's prefix is not a value
    assert hlx.find_value("back to hex", "lc-b-hex") is None  # "ba"/"ck" are not hex words


def test_find_value_rejects_lc_b_bytes() -> None:
    with pytest.raises(hlx.HLXError):
        hlx.find_value("text", "lc-b")


def test_find_value_deep_and_large_input_is_bounded() -> None:
    deep = "[" * 100_000
    assert hlx.find_value(deep, "hlxl") is None
    assert hlx.find_value("x " * 200_000, "lc-t") is None


def test_a_value_nested_too_deep_yields_no_fragment_of_itself() -> None:
    # 70 nested arrays are over the 64-level limit; the 5 innermost parse on their own, and a check that took
    # them for the request's value verified a wrong answer against them
    text = "Convert to LC-R: " + "[" * 70 + "]" * 70
    assert hlx.find_values(text) == []
    assert all(hlx.find_value(text, n) is None for n in ("hlxl", "lc-t", "lc-b-text"))
    assert hlx.find_value(text) is None
    assert [f.text for f in hlx.find_values("[1] then " + "[" * 70 + "]" * 70)] == ["[1]"]  # before it: kept


def test_find_value_any_notation_is_the_longest() -> None:
    hit = hlx.find_value("### Instruction:\nGive me the HLXL text for ∅\n")
    assert hit is not None and (hit.notation, hit.text) == ("lc-r", "∅")
    hit = hlx.find_value("Translate the hex-encoded LC-B 01 back to HLXL")
    assert hit is not None and (hit.text, hit.value) == ("01", True)
    hit = hlx.find_value("clean up 60 00 02 01 02 please")
    assert hit is not None and hit.text == "60 00 02 01 02"


def _scan_texts() -> list[str]:
    """Generated prompts and answers, then random strings of the characters values start with."""
    import random

    from helixmoe import tasks

    texts = [t for e in tasks.generate(300, seed=21, split="ood") for t in (e.prompt, e.response)]
    rng = random.Random(5)
    alphabet = list('{}[]"&@#b-0123456789ntfNTFxabcdefABCDEF ,:=|_\n`') + list("∅⊤⊥⟁⊠🜊🜃◇🐊🐃🜁🜂 hello wrd")
    texts += ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30))) for _ in range(1500)]
    texts += ['null nullable true TRUE False falsehood 0x12 0xg 12ab 1234 be cafe b"\\x00" #1 C# ### x']
    return texts


@pytest.mark.parametrize("scalars", [False, True])
def test_find_values_skips_only_positions_where_nothing_starts(scalars: bool) -> None:
    """The scan jumps to the next position its start pattern allows: every position it skips must be one
    where reading a value finds nothing, so jumping changes no result."""
    import importlib

    module = importlib.import_module("helixmoe.hlx.detect")  # the package re-exports a function of that name
    starts = module._STARTS[scalars]
    for text in _scan_texts():
        for pos in range(len(text)):
            if starts.match(text, pos) is None:
                assert module._value_at(text, pos, scalars) is None, (text, pos)


@pytest.mark.parametrize("scalars", [False, True])
def test_remembered_word_readings_are_the_readings(scalars: bool) -> None:
    """Short words (spaced hex, numbers, keywords) are read once per word and remembered: at every position
    the remembered reading equals reading the text there."""
    import importlib

    from helixmoe.hlx.values import equal

    module = importlib.import_module("helixmoe.hlx.detect")
    texts = [
        *_scan_texts(),
        "70 04 05 63 6f 6C\t6f 72 1e5 -0.5 1. &h_x @k #ff x#ff null\nTRUE 0x12 6000 600000",
    ]
    seen = 0
    for text in texts:
        for pos in range(len(text)):
            got, want = module._value_at(text, pos, scalars), module._read_value_at(text, pos, scalars)
            if isinstance(want, module.FoundValue):
                assert isinstance(got, module.FoundValue), (text, pos)
                assert got[1:] == want[1:] and equal(got.value, want.value), (text, pos)
                seen += module._WORD_VALUE_RE.match(text, pos) is not None
            else:
                assert got == want, (text, pos)
    assert seen > 20  # the remembered path was taken


def test_short_hex_values_are_not_shared_between_calls() -> None:
    """Short hex words are read once and remembered; each caller still gets its own value."""
    first = hlx.find_values("bytes: 600000")
    assert first[0].value == [] and first[0].notation == "lc-b-hex"
    first[0].value.append(1)
    assert hlx.find_values("bytes: 600000")[0].value == []


def test_error_position_and_text_do_not_depend_on_what_is_asked_first() -> None:
    import pickle

    src = "[1,\n  2,\n  ?]"
    errors = []
    for ask in ("str", "line", "pickle"):
        with pytest.raises(hlx.HLXError) as info:
            hlx.loads(src, "hlxl")
        err = info.value
        if ask == "line":
            assert (err.line, err.column) == (3, 3)
        if ask == "pickle":
            err = pickle.loads(pickle.dumps(err))
        errors.append((str(err), err.line, err.column, err.offset, err.message))
    assert errors[0] == errors[1] == errors[2]
    assert (
        errors[0][0].startswith("hlxl: ")
        and "line 3, column 3" in errors[0][0]
        and errors[0][0].endswith("^")
    )


def test_a_bytes_error_keeps_its_position_and_text_after_the_source_changes() -> None:
    """LC-B errors render as a byte offset; the position is still there after ``str``, and the text is the
    bytes the codec saw even when the caller's ``bytearray`` changes afterwards."""
    data = bytearray(b"\x50\xff\xff")
    with pytest.raises(hlx.HLXError) as info:
        hlx.loads(data, "lc-b")
    err = info.value
    data[:] = b"zzz"
    text = str(err)
    assert text.startswith("lc-b: ") and "50 ff ff" in text and "(at byte " in text
    assert err.line == 1 and err.column == err.offset + 1


_DUMP = "60 00 02 12 01 00 00 00 12 02 00 00 00"  # LC-B hex of [1, 2], spaced into byte words


@pytest.mark.parametrize("scalars", [False, True])
@pytest.mark.parametrize(
    ("prompt", "text"),
    [
        (f"Translate this LC-B hex to HLXL: {_DUMP}", _DUMP),
        (f"the dump {_DUMP} came from a socket", _DUMP),
        (f"Canonicalise 0x{_DUMP}, please", f"0x{_DUMP}"),
        (f"Check this LC-B bytes: {_DUMP.upper()}", _DUMP.upper()),
    ],
)
def test_a_spaced_hex_dump_is_one_value(prompt: str, text: str, scalars: bool) -> None:
    """A hex dump spaced into byte words is the one LC-B value it spells, not a number per word (the routers
    saw dozens of HLXL scalars in such a request, and verification found nothing to check the answer by)."""
    found = hlx.find_values(prompt, scalars=scalars)
    assert [(f.notation, f.text) for f in found] == [("lc-b-hex", text)]
    assert found[0].value == [1, 2] and prompt[found[0].start : found[0].end] == text


def test_a_spaced_run_that_is_no_value_is_read_word_by_word() -> None:
    prompt = "the bytes 60 00 05 12 are truncated"  # an array of five elements holding one byte
    assert hlx.find_values(prompt) == []
    assert [f.text for f in hlx.find_values(prompt, scalars=True)] == ["60", "00", "05", "12"]
    assert [f.value for f in hlx.find_values("the years 10 20 30", scalars=True)] == [10, 20, 30]


def test_a_long_spaced_run_is_parsed_whole_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Linear time: a run that fails to parse is not parsed again from each of its words."""
    import importlib

    module = importlib.import_module("helixmoe.hlx.detect")
    calls = []
    real = module.loads

    def counting(text: str, notation: str, *args: object, **kwargs: object) -> object:
        calls.append(len(text))
        return real(text, notation, *args, **kwargs)

    monkeypatch.setattr(module, "loads", counting)
    run = " ".join(["60", "ff", "ff"] + ["12"] * 3000)  # claims 65 535 elements, holds 3 000 bytes
    assert hlx.find_values(f"dump: {run} end") == []
    assert sum(n > 100 for n in calls) == 1  # the whole run once; its words are short


def test_code_spans_are_the_insides_of_fences_and_inline_spans() -> None:
    text = "see `[1]` and\n```hlxl\n{a: 1}\n```\nthen ``` x ``` but not `a\nb`"
    assert [text[a:b] for a, b in hlx.code_spans(text)] == ["[1]", "{a: 1}\n", " x "]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("Convert ```42``` to LC-R", 42),
        ("Convert ```-5``` to LC-R", -5),
        ("Convert ```true``` to LC-T", True),
        ('Convert ```b"\\x01\\x02"``` to LC-T', b"\x01\x02"),
        ("Convert ```60 00 02 12 01 00 00 00 12 02 00 00 00``` to LC-T", [1, 2]),
        ("Convert ```hlxl\n[1, 2]\n``` to LC-R", [1, 2]),
    ],
)
def test_a_one_line_fence_holds_code_not_a_language_tag(text: str, value: object) -> None:
    """A fence's language tag is a word on the fence's own line; the first word of a one-line fence was taken
    for one, so ```42``` held nothing and ```b"..."``` the string after the ``b``."""
    (found,) = hlx.find_values(text)
    assert hlx.equal(found.value, value) and type(found.value) is type(value)
