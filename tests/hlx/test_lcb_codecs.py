"""LC-B bytes (spec §6.1), LC-B text (spec §6.2) and lc-b-hex, through the public ``hlx`` API."""

from __future__ import annotations

import random
import struct
from typing import Any

import pytest

from helixmoe import hlx
from helixmoe.hlx import lcbtext

H, C = hlx.Handle, hlx.Contract
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

# spec §6.1 table: (HLXL, value, LC-B hex)
SPEC_BYTES = [
    ("null", None, "00"),
    ("true", True, "01"),
    ("false", False, "02"),
    ("42", 42, "122a000000"),
    ("-100", -100, "129cffffff"),
    ("9007199254740991", 9007199254740991, "13ffffffffffff1f00"),
    ("3.14159", 3.14159, "216e861bf0f9210940"),
    ('"hello"', "hello", "30000568656c6c6f"),
    ('b"data"', b"data", "31000464617461"),
    ("&h_ast", H("ast"), "4003617374"),
    ("[1, 2, 3]", [1, 2, 3], "600003120100000012020000001203000000"),
    ("[]", [], "600000"),
    (
        '{name: "Alice", age: 30}',
        {"name": "Alice", "age": 30},
        "7002046e616d65300005416c69636503616765121e000000",
    ),
    ("{}", {}, "7000"),
    ("{14: {@0: 42}}", C(14, ((0, 42),)), "50000e0100122a000000"),
    ("{14: {}}", C(14), "50000e00"),
    (
        '{1000: {@0: "search", @1: &h_query}}',
        C(1000, ((0, "search"), (1, H("query")))),
        "5003e802003000067365617263680140057175657279",
    ),
]

# spec §6.2 examples: (LC-B text, value)
SPEC_TEXT = [
    ("[_]", None),
    ("[T]", True),
    ("[0x2a]", 42),
    ("[0xff9c]", -100),
    ("[3.14159]", 3.14159),
    ('["hello"]', "hello"),
    ("[&ast]", H("ast")),
    ("[[]]", []),
    ("[[0x01,0x02,0x03]]", [1, 2, 3]),
    ("[{x:0x0a,y:0x14}]", {"x": 10, "y": 20}),
    ("[{}]", {}),
    ("[14|0:0x2a]", C(14, ((0, 42),))),
    ('[1000|0:"search"|1:&documents]', C(1000, ((0, "search"), (1, H("documents"))))),
    ('[902|0:"render_pipeline"|1:[&vs,&fs]]', C(902, ((0, "render_pipeline"), (1, [H("vs"), H("fs")])))),
]

# spec §6.2 integer rules at their boundaries: (int, canonical LC-B text)
INT_TEXT = [
    (0, "[0x00]"),
    (10, "[0x0a]"),
    (127, "[0x7f]"),
    (128, "[0x80]"),
    (255, "[0xff]"),
    (256, "[0x100]"),
    (4095, "[0xfff]"),
    (32767, "[0x7fff]"),
    (32768, "[0x008000]"),
    (65535, "[0x00ffff]"),
    (65536, "[0x10000]"),
    (2**31 - 1, "[0x7fffffff]"),
    (2**31, "[0x0080000000]"),
    (2**32 - 1, "[0x00ffffffff]"),
    (2**32, "[0x100000000]"),
    (INT64_MAX, "[0x7fffffffffffffff]"),
    (-1, "[0xffff]"),
    (-100, "[0xff9c]"),
    (-32768, "[0x8000]"),
    (-32769, "[0xffff7fff]"),
    (-(2**31), "[0x80000000]"),
    (-(2**31) - 1, "[0xffffffff7fffffff]"),
    (INT64_MIN, "[0x8000000000000000]"),
]


def _raises(
    data: Any, notation: str, match: str, offset: int | None = None, strict: bool = False
) -> hlx.HLXError:
    with pytest.raises(hlx.HLXError, match=match) as info:
        hlx.loads(data, notation, strict=strict)
    err = info.value
    assert err.notation == notation
    if offset is not None:
        assert err.offset == offset
    return err


# ---------------------------------------------------------------- spec examples


@pytest.mark.parametrize(("hlxl", "value", "hex_"), SPEC_BYTES, ids=[row[0] for row in SPEC_BYTES])
def test_spec_bytes_table_round_trips(hlxl: str, value: Any, hex_: str) -> None:  # spec §6.1
    data = bytes.fromhex(hex_)
    assert hlx.dumps(value, "lc-b") == data
    assert hlx.equal(hlx.loads(data, "lc-b", strict=True), value)
    assert hlx.dumps(value, "lc-b-hex") == hex_
    assert hlx.equal(hlx.loads(hex_, "lc-b-hex", strict=True), value)


@pytest.mark.parametrize(("hlxl", "value", "hex_"), SPEC_BYTES, ids=[row[0] for row in SPEC_BYTES])
def test_spec_bytes_table_hlxl_column(hlxl: str, value: Any, hex_: str) -> None:  # spec §6.1
    assert hlx.convert(hlxl, "lc-b-hex", src="hlxl") == hex_
    assert hlx.convert(bytes.fromhex(hex_), "hlxl", src="lc-b") == hlxl


@pytest.mark.parametrize(("text", "value"), SPEC_TEXT, ids=[row[0] for row in SPEC_TEXT])
def test_spec_text_examples_round_trip(text: str, value: Any) -> None:  # spec §6.2
    assert hlx.dumps(value, "lc-b-text") == text
    assert hlx.equal(hlx.loads(text, "lc-b-text", strict=True), value)


@pytest.mark.parametrize(("n", "text"), INT_TEXT, ids=[str(n) for n, _ in INT_TEXT])
def test_int_hex_boundaries(n: int, text: str) -> None:  # spec §6.2 integers
    assert hlx.dumps(n, "lc-b-text") == text
    parsed = hlx.loads(text, "lc-b-text", strict=True)
    assert type(parsed) is int and parsed == n


@pytest.mark.parametrize(
    ("n", "hex_"),
    [
        (2**31 - 1, "12ffffff7f"),
        (-(2**31), "1200000080"),
        (2**31, "130000008000000000"),
        (-(2**31) - 1, "13ffffff7fffffffff"),
        (INT64_MAX, "13ffffffffffffff7f"),
        (INT64_MIN, "130000000000000080"),
    ],
)
def test_int32_int64_boundary(n: int, hex_: str) -> None:  # spec §6.1: INT32 when it fits
    assert hlx.dumps(n, "lc-b").hex() == hex_
    assert hlx.loads(bytes.fromhex(hex_), "lc-b") == n


def test_negative_zero_is_written_as_zero() -> None:  # spec §1
    assert hlx.dumps(-0.0, "lc-b") == hlx.dumps(0.0, "lc-b")
    assert hlx.dumps([-0.0], "lc-b-text") == "[[0.0]]"


# ---------------------------------------------------------------- LC-B bytes decoding


@pytest.mark.parametrize(
    ("hex_", "expected"),
    [
        ("10ff", -1),
        ("1080", -128),
        ("110080", -32768),
        ("14ff", 255),
        ("15ffff", 65535),
        ("16ffffffff", 2**32 - 1),
        ("17ffffffffffffff7f", INT64_MAX),
        ("132a00000000000000", 42),  # INT64 for a small value: valid, just not canonical
        ("200000c03f", 1.5),
        ("20cdcccc3d", struct.unpack("<f", bytes.fromhex("cdcccc3d"))[0]),
    ],
)
def test_decode_only_tags(hex_: str, expected: Any) -> None:  # spec §6.1 "decode only"
    value = hlx.loads(bytes.fromhex(hex_), "lc-b", strict=True)
    assert hlx.equal(value, expected)


@pytest.mark.parametrize("hex_", ["2100000000000000" + "80", "2000000080"])
def test_negative_zero_decodes_as_zero(hex_: str) -> None:  # spec §1
    value = hlx.loads(bytes.fromhex(hex_), "lc-b")
    assert value == 0.0 and str(value) == "0.0"


@pytest.mark.parametrize(
    ("hex_", "match", "offset"),
    [
        ("", "empty input", 0),
        ("ff", "unknown tag 0xff", 0),
        ("600001 03", "unknown tag 0x03", 3),
        ("12", "unexpected end of input", 1),
        ("122a0000", "unexpected end of input", 4),
        ("6000", "unexpected end of input", 2),
        ("600002 00", "unexpected end of input", 4),
        ("7001", "unexpected end of input", 2),
        ("3000056865", r"truncated string: declares 5 bytes but only 2 remain", 0),
        ("310003ff", r"truncated bytes: declares 3 bytes but only 1 remain", 0),
        ("4005616263", r"truncated handle: declares 5 bytes but only 3 remain", 0),
        ("70010561", r"truncated object key: declares 5 bytes but only 1 remain", 2),
        ("0000", r"1 trailing byte\(s\) after the value", 1),
        ("122a000000 0102", r"2 trailing byte\(s\) after the value", 5),
        ("300002c328", r"invalid UTF-8 in string \(invalid continuation byte\)", 3),
        ("300003eda080", r"invalid UTF-8 in string", 3),  # an encoded surrogate
        ("3000 02 c0af", r"invalid UTF-8 in string", 3),  # overlong encoding
        ("4002e9e9", r"non-ASCII handle name", 2),
        ("4003612d62", r"invalid handle name b'a-b'", 2),
        ("4000", r"empty handle name", 2),
        ("7002 0161 00 0161 01", r"duplicate object key 'a'", 6),
        ("7001 0143 00", r"object key 'C' is reserved", 3),
        ("7001 0231 61 00", r"invalid object key b'1a'", 3),
        ("7001 00 00", r"invalid object key b''", 3),
        ("7001 01e9 00", r"invalid object key", 3),
        ("500001 02 01 00 01 00", r"strictly ascending: 1 after 1", 6),
        ("500001 02 05 00 02 00", r"strictly ascending: 2 after 5", 6),
        ("170000000000000080", r"UINT64 value 9223372036854775808 is outside the int64 range", 0),
        ("17ffffffffffffffff", r"UINT64 value 18446744073709551615 is outside the int64 range", 0),
        ("21000000000000f87f", r"F64 value nan is not allowed", 0),
        ("21000000000000f0ff", r"F64 value -inf is not allowed", 0),
        ("200000807f", r"F32 value inf is not allowed", 0),
        ("200000c07f", r"F32 value nan is not allowed", 0),
    ],
)
def test_lcb_rejections(hex_: str, match: str, offset: int) -> None:  # spec §6.1 decoder rules
    err = _raises(bytes.fromhex(hex_), "lc-b", match, offset)
    assert f"(at byte {offset})" in str(err)


def test_lcb_depth_limit() -> None:  # spec §1: depth ≤ 64
    ok = bytes.fromhex("600001" * 64 + "00")
    value = hlx.loads(ok, "lc-b")
    for _ in range(64):
        value = value[0]
    assert value is None
    _raises(bytes.fromhex("600001" * 65 + "00"), "lc-b", "nested deeper than 64 levels", 3 * 64)
    mixed = bytes.fromhex("7001 0161" * 40 + "5000010100" * 25 + "00")
    _raises(mixed, "lc-b", "nested deeper than 64 levels")


def test_lcb_huge_declared_counts_are_bounded() -> None:  # a count can never make it loop past the input
    _raises(bytes.fromhex("60ffff"), "lc-b", "unexpected end of input", 3)
    _raises(bytes.fromhex("50ffffff"), "lc-b", "unexpected end of input", 4)
    _raises(bytes.fromhex("70ff"), "lc-b", "unexpected end of input", 2)


# ---------------------------------------------------------------- LC-B width limits


@pytest.mark.parametrize(
    ("ok", "too_big", "match"),
    [
        ("x" * 65535, "x" * 65536, "string length in bytes 65536 exceeds the LC-B limit of 65535"),
        ("é" * 32767, "€" * 21846, "string length in bytes 65538 exceeds the LC-B limit of 65535"),
        (b"\0" * 65535, b"\0" * 65536, "bytes length 65536 exceeds the LC-B limit of 65535"),
        ([None] * 65535, [None] * 65536, "array length 65536 exceeds the LC-B limit of 65535"),
        (
            {f"k{i}": None for i in range(255)},
            {f"k{i}": None for i in range(256)},
            "object member count 256 exceeds the LC-B limit of 255",
        ),
        ({"k" * 255: 1}, {"k" * 256: 1}, "length 256 exceeds the LC-B limit of 255"),
        (C(65535), C(65536), "contract id 65536 exceeds the LC-B limit of 65535"),
        (
            C(1, tuple((i, None) for i in range(255))),
            C(1, tuple((i, None) for i in range(256))),
            "field count 256",
        ),
        (
            C(1, ((255, None),)),
            C(1, ((256, None),)),
            "contract field index 256 exceeds the LC-B limit of 255",
        ),
    ],
    ids=["string", "utf8-string", "bytes", "array", "object", "key", "contract-id", "fields", "index"],
)
def test_width_limits(ok: Any, too_big: Any, match: str) -> None:  # spec §6.1 width limits
    assert hlx.equal(hlx.loads(hlx.dumps(ok, "lc-b"), "lc-b"), ok)
    for notation in ("lc-b", "lc-b-hex"):
        with pytest.raises(hlx.HLXError, match=match) as info:
            hlx.dumps([too_big], notation)
        assert info.value.notation == notation
    assert hlx.equal(hlx.loads(hlx.dumps(too_big, "lc-b-text"), "lc-b-text"), too_big)  # text has no widths


def test_longest_handle() -> None:
    handle = H("h" * 255)
    assert hlx.loads(hlx.dumps(handle, "lc-b"), "lc-b") == handle


# ---------------------------------------------------------------- LC-B text


@pytest.mark.parametrize(
    ("text", "value", "strict_match"),
    [
        ("[0x03e8]", 1000, r"non-canonical integer 0x03e8 \(strict mode: write 0x3e8\)"),
        ("[0x2A]", 42, r"non-canonical integer 0x2A"),
        ("[0X2a]", 42, r"non-canonical integer 0X2a"),
        ("[0xFF9C]", -100, r"non-canonical integer 0xFF9C"),
        ("[0x2]", 2, r"non-canonical integer 0x2 "),
        ("[0x00000a]", 10, r"non-canonical integer"),
        ('["\\x41"]', "A", r"invalid escape \\x"),
        ('["caf\u00e9"]', "café", r"raw non-ASCII character"),
        ("[014]", C(14), r"contract id 014 has leading zeros"),
        ("[14|00:T]", C(14, ((0, True),)), r"field index 00 has leading zeros"),
        ("[1|" + "0" * 5000 + "1:T]", C(1, ((1, True),)), r"field index 0000.* has leading zeros"),
        ("[[14|0:_]]", C(14, ((0, None),)), r"a top-level contract is not wrapped again"),
        ("[[1.]]", [1.0], r"non-canonical number"),
    ],
)
def test_lenient_text_forms(text: str, value: Any, strict_match: str) -> None:  # spec §6.2 "Lenient"
    assert hlx.equal(hlx.loads(text, "lc-b-text"), value)
    _raises(text, "lc-b-text", strict_match, strict=True)


def test_whitespace_between_tokens() -> None:  # spec §2
    text = ' [ 1000 | 0 : "search" | 1 : [ &a , { x : 0x01 } ] ]\n'
    value = C(1000, ((0, "search"), (1, [H("a"), {"x": 1}])))
    assert hlx.equal(hlx.loads(text, "lc-b-text", strict=True), value)


@pytest.mark.parametrize(
    ("text", "match", "column"),
    [
        ("[]", r"empty brackets: the empty array is written \[\[\]\]", 2),
        ("", r"unexpected end of input", 1),
        ("T", r"expected '\[' opening an LC-B text value", 1),
        ("[T", r"unexpected end of input", 3),
        ("[T}", r"expected '\]' closing the top-level value, found '}'", 3),
        ("[14", r"unexpected end of input", 4),
        ("[14|0:0x2a", r"unexpected end of input", 11),
        ("[T]x", r"unexpected 'x' after the value", 4),
        ("[[12,3]]", r"bare decimal 12: integer values are hex in LC-B text \(0x0c\)", 3),
        ("[0x]", r"expected hex digits after '0x'", 4),
        ("[-0x01]", r"hex integers have no sign", 2),
        ("[0x10000000000000000]", r"integer 0x10000000000000000 is outside the int64 range", 2),
        ("[0x008000000000000000]", r"outside the int64 range", 2),
        ("[1e999]", r"overflows binary64", 2),
        ("[True]", r"unknown word 'True'", 2),
        ("[[T,]]", r"trailing comma in array", 5),
        ("[{a:T,}]", r"trailing comma in object", 7),
        ("[{a:T,a:F}]", r"duplicate object key 'a'", 7),
        ("[{C:T}]", r"object key 'C' is reserved", 3),
        ("[{1:T}]", r"expected an object key \(identifier\), found '1'", 3),
        ("[{a T}]", r"expected ':' after object key", 5),
        ("[14|1:T|1:F]", r"field indices must be strictly ascending: 1 after 1", 9),
        ("[14|x:T]", r"expected a decimal field index", 5),
        ("[14|1 T]", r"expected ':' after field index", 7),
        ("[14 T]", r"bare decimal 14", 2),
        ("[99999999999999999999]", r"contract id 99999999999999999999 is outside the int64 range", 2),
        ("[" + "9" * 5000 + "]", r"contract id 99999999999999999999\.\.\. is outside the int64 range", 2),
        ("[&]", r"expected a handle name", 3),
        ("[#abc]", r"odd number of hex digits", 3),
        ('["\\ud800"]', r"lone high surrogate", 3),
        ("[{a:[[[T]]]]", r"expected ',' or '}'", 12),
    ],
)
def test_text_rejections(text: str, match: str, column: int) -> None:
    err = _raises(text, "lc-b-text", match)
    assert err.line == 1 and err.column == column


def test_text_depth_limit() -> None:  # spec §1: depth ≤ 64; the top-level wrapper is not a level
    assert hlx.loads("[" + "[" * 64 + "]" * 64 + "]", "lc-b-text") is not None
    _raises("[" + "[" * 65 + "]" * 65 + "]", "lc-b-text", "nested deeper than 64 levels", 65)
    _raises("[" * 100_000, "lc-b-text", "nested deeper than 64 levels")
    _raises("[1|0:" * 65 + "_" + "]" * 65, "lc-b-text", "nested deeper than 64 levels")


def test_parse_value_stops_after_one_top_level_value() -> None:  # used by hlx.find_values
    text = 'make [14|0:0x2a] runic, and ["x"] too'
    end, value = lcbtext.parse_value(text, 5, 0, False)
    assert text[5:end] == "[14|0:0x2a]" and hlx.equal(value, C(14, ((0, 42),)))
    end, value = lcbtext.parse_value(text, 28, 0, False)
    assert text[28:end] == '["x"]' and value == "x"
    with pytest.raises(hlx.HLXError, match="unexpected end of input"):
        lcbtext.parse_value("see [0x01", 4, 0, False)


# ---------------------------------------------------------------- lc-b-hex


@pytest.mark.parametrize("text", ["122A000000", "12 2a 00 00 00", "0x122a000000", "0X12\n2a\t00 00 00"])
def test_hex_lenient_forms(text: str) -> None:
    assert hlx.loads(text, "lc-b-hex") == 42
    with pytest.raises(hlx.HLXError, match="strict mode"):
        hlx.loads(text, "lc-b-hex", strict=True)


@pytest.mark.parametrize(
    ("text", "match", "column", "strict"),
    [
        ("12 2a 00 00", r"unexpected end of input", 12, False),
        ("122a00000", r"lone hex digit", 9, False),
        ("12 2 a000000", r"lone hex digit", 4, False),
        ("12zz", r"invalid character 'z' in hex text", 3, False),
        ("   ", r"empty input", 4, False),
        ("7002 0161 00 0161 01", r"duplicate object key 'a'", 16, False),
        ("7002016100016101", r"duplicate object key 'a'", 13, False),
        ("  600001ff", r"unknown tag 0xff", 9, True),
        ("122A000000", r"upper-case hex digit 'A'", 4, True),
        ("12 2a000000", r"whitespace between hex digits", 3, True),
        ("0x122a000000", r"'0x' prefix", 1, True),
    ],
)
def test_hex_errors_point_at_characters(text: str, match: str, column: int, strict: bool) -> None:
    err = _raises(text, "lc-b-hex", match, strict=strict)
    assert err.line == 1 and err.column == column
    assert "line 1, column" in str(err)


# ---------------------------------------------------------------- round trips and fuzz


def _random_value(rng: random.Random, depth: int = 0) -> Any:
    scalars = [
        None,
        True,
        False,
        rng.choice([0, 1, -1, 127, 128, 255, 256, 32767, 32768, -32768, -32769, 2**31, INT64_MIN, INT64_MAX]),
        rng.randrange(INT64_MIN, INT64_MAX),
        rng.choice([0.0, -0.0, 1.5, 1e-10, 1e16, 5e-324, 1.7976931348623157e308, -2.5]),
        rng.uniform(-1e6, 1e6),
        "".join(
            rng.choice(["a", "\n", "\x7f", '"', "\\", "é", "\u2205", "\U0001f70a", "\x00"]) for _ in range(5)
        ),
        bytes(rng.randrange(256) for _ in range(rng.randrange(4))),
        H(rng.choice(["a", "_", "x9", "documents"])),
    ]
    if depth >= 4 or rng.random() < 0.6:
        return rng.choice(scalars)
    kind = rng.randrange(3)
    if kind == 0:
        return [_random_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    if kind == 1:
        return {f"k{i}": _random_value(rng, depth + 1) for i in range(rng.randrange(4))}
    indices = sorted(rng.sample(range(256), rng.randrange(4)))
    return C(rng.randrange(65536), tuple((i, _random_value(rng, depth + 1)) for i in indices))


@pytest.mark.parametrize("notation", ["lc-b", "lc-b-text", "lc-b-hex"])
def test_random_values_round_trip(notation: str) -> None:  # spec §8.2
    rng = random.Random(1234)
    for _ in range(300):
        value = _random_value(rng)
        out = hlx.dumps(value, notation)
        back = hlx.loads(out, notation, strict=True)
        assert hlx.equal(back, value) or (value == 0.0 and back == 0.0), (value, out)
        assert hlx.dumps(back, notation) == out


def _mutations(rng: random.Random, data: bytes) -> bytes:
    buf = bytearray(data)
    for _ in range(rng.randrange(1, 4)):
        op = rng.randrange(3)
        if op == 0 and buf:
            buf[rng.randrange(len(buf))] = rng.randrange(256)
        elif op == 1 and buf:
            del buf[rng.randrange(len(buf)) :]
        else:
            buf.insert(rng.randrange(len(buf) + 1), rng.randrange(256))
    return bytes(buf)


@pytest.mark.timeout(60)
def test_fuzz_lcb_bytes_only_raises_hlxerror() -> None:  # spec §8.4
    rng = random.Random(7)
    seeds = [bytes.fromhex(hex_) for _, _, hex_ in SPEC_BYTES]
    seeds += [hlx.dumps(_random_value(rng), "lc-b") for _ in range(50)]
    inputs = [bytes(rng.randrange(256) for _ in range(rng.randrange(40))) for _ in range(2000)]
    tag_heavy = [
        0x00,
        0x01,
        0x02,
        0x10,
        0x12,
        0x17,
        0x20,
        0x21,
        0x30,
        0x31,
        0x40,
        0x50,
        0x60,
        0x70,
        0x61,
        0x43,
        0xFF,
    ]
    inputs += [bytes(rng.choice(tag_heavy) for _ in range(rng.randrange(40))) for _ in range(2000)]
    inputs += [_mutations(rng, rng.choice(seeds)) for _ in range(3000)]
    decoded = 0
    for data in inputs:
        try:
            value = hlx.loads(data, "lc-b")
        except hlx.HLXError as err:
            assert err.notation == "lc-b" and err.offset is not None and 0 <= err.offset <= len(data)
            continue
        decoded += 1
        hlx.validate(value)
    assert 0 < decoded < len(inputs)


@pytest.mark.timeout(60)
def test_fuzz_text_and_hex_only_raise_hlxerror() -> None:  # spec §8.4
    rng = random.Random(11)
    alphabet = '[]{}|:,_TF&#"0x19af.e-\\ \n'
    texts = ["".join(rng.choice(alphabet) for _ in range(rng.randrange(1, 30))) for _ in range(2000)]
    seeds = [text for text, _ in SPEC_TEXT]
    for _ in range(1500):
        seed = list(rng.choice(seeds))
        seed.insert(rng.randrange(len(seed) + 1), rng.choice(alphabet))
        del seed[rng.randrange(len(seed))]
        texts.append("".join(seed))
    for text in texts:
        for notation in ("lc-b-text", "lc-b-hex"):
            try:
                hlx.loads(text, notation)
            except hlx.HLXError as err:
                assert err.notation == notation
