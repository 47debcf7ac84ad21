"""Tokenizers: glyphs and structural symbols are single tokens, decoding round-trips, HF save/load."""

from __future__ import annotations

from pathlib import Path

import pytest

from helixmoe.errors import ConfigError, SystemLoadError
from helixmoe.models.template import ASSISTANT, EOS, PAD, UNK, USER, render_example
from helixmoe.models.tokenizer import (
    LCR_GLYPHS,
    LENIENT_LCR_GLYPHS,
    load_tokenizer,
    save_tokenizer,
    single_token_symbols,
    train_tokenizer,
)

SCHEMES = ["char", "bpe", "hlx", "spelled"]
ROUND_TRIP = [
    '🜊902🜁0 "render_pipeline"🜁1 🜃⟁vs, ⟁fs🜄🜂',
    "🐊14🐁0 42🐂 🐃1, 2🐄",
    '{C:1000,0="dispatch",1={C:902,0=@pipeline,1=64}}',
    '[902|0:"render_pipeline"|1:[&vs,&fs]]',
    "unseen: 日本語 ünïcödé ✓ \\u00e9 \n\ttabs  double  spaces",
    render_example("Convert to LC-R: [1, 2]", "🜃1, 2🜄"),
]


@pytest.fixture(scope="module", params=SCHEMES)
def tokenizer(request: pytest.FixtureRequest, corpus: list[str]):
    return train_tokenizer(corpus, request.param, vocab_size=320, min_frequency=2)


def test_glyph_constants_match_the_codec() -> None:
    from helixmoe.hlx import lcr

    assert set(LCR_GLYPHS) == set(lcr.GLYPHS.values())
    assert set(LENIENT_LCR_GLYPHS) == {g for g in lcr.LENIENT_GLYPHS if len(g) == 1 and ord(g) > 0x7F}


def test_special_tokens_come_first(tokenizer) -> None:
    assert [tokenizer.convert_tokens_to_ids(t) for t in (PAD, EOS, UNK)] == [0, 1, 2]
    assert (tokenizer.pad_token_id, tokenizer.eos_token_id) == (0, 1)
    for marker in (USER, ASSISTANT, EOS):
        assert len(tokenizer.encode(marker, add_special_tokens=False)) == 1


@pytest.mark.parametrize("symbol", single_token_symbols())
def test_every_glyph_and_symbol_is_one_token_alone_and_in_context(tokenizer, symbol: str) -> None:
    assert len(tokenizer.encode(symbol, add_special_tokens=False)) == 1
    tokens = tokenizer.convert_ids_to_tokens(
        tokenizer.encode(f"ab{symbol}12{symbol}x", add_special_tokens=False)
    )
    pieces = [tokenizer.convert_tokens_to_string([t]) for t in tokens]
    assert pieces.count(symbol) == 2, pieces


@pytest.mark.parametrize("text", ROUND_TRIP)
def test_decode_round_trips(tokenizer, text: str) -> None:
    ids = tokenizer.encode(text, add_special_tokens=False)
    assert tokenizer.decode(ids) == text
    assert tokenizer.unk_token_id not in ids  # byte fallback / byte-level: nothing is lost


def test_char_scheme_is_one_token_per_character(corpus: list[str]) -> None:
    tok = train_tokenizer(corpus, "char")
    text = '◇name: "Alice"◆'
    assert len(tok.encode(text, add_special_tokens=False)) == len(text)


def test_bpe_scheme_learns_merges(corpus: list[str]) -> None:
    tok = train_tokenizer(corpus, "bpe", vocab_size=320, min_frequency=2)
    text = "Convert to LC-R"
    assert len(tok.encode(text, add_special_tokens=False)) < len(text)


def test_hlx_scheme_tokenizes_a_key_or_a_byte_the_same_everywhere(corpus: list[str]) -> None:
    tok = train_tokenizer([*corpus, *["hex: 1293ffffff 70020568656c6c6f"] * 20], "hlx", vocab_size=600)

    def pieces(text: str) -> list[str]:
        ids = tok.encode(text, add_special_tokens=False)
        return [tok.decode([i]) for i in ids]

    # LC-B hex: no token crosses a byte boundary (never "696" or "c6"); common bytes are one token
    hexed = pieces("70020568656c6c6f1293ffffff")
    starts = [sum(map(len, hexed[:i])) for i in range(len(hexed))]
    assert "".join(hexed) == "70020568656c6c6f1293ffffff"
    assert all(len(p) == 1 or (len(p) == 2 and at % 2 == 0) for p, at in zip(hexed, starts, strict=True))
    assert hexed.count("ff") == 3
    # a key reads the same after "{" and after ", " (GPT-2 pre-tokenization glues the space to it)
    key = tok.encode("label", add_special_tokens=False)
    ids = tok.encode("{label: 1, label: 2}", add_special_tokens=False)
    at = [i for i in range(len(ids)) if ids[i : i + len(key)] == key]
    assert len(at) == 2, pieces("{label: 1, label: 2}")


def test_spelled_scheme_spells_letters_and_keeps_hex_bytes_and_numbers_whole(corpus: list[str]) -> None:
    text = '{velocity: "yes", timeout_ms: 1000} 0876656c6f63697479'
    tok = train_tokenizer([*corpus, *[text] * 20], "spelled", vocab_size=600)
    pieces = [tok.decode([i]) for i in tok.encode(text, add_special_tokens=False)]
    assert "".join(pieces) == text
    letters = [p for p in pieces if p.isalpha()]
    assert letters and all(len(p) == 1 for p in letters), pieces
    assert pieces[:9] == ["{", *"velocity"]
    assert "1000" in pieces or "10" in pieces  # digit runs still merge
    tail = pieces[pieces.index(" ", len(pieces) - 11) + 1 :]
    assert tail == ["08", "76", "65", "6c", "6f", "63", "69", "74", "79"], tail  # one token per hex byte
    hlx = train_tokenizer([*corpus, *[text] * 20], "hlx", vocab_size=600)
    # the scheme it differs from merges letters
    assert len(hlx.encode("velocity", add_special_tokens=False)) < 8


def test_save_and_load_in_hf_format(tokenizer, tmp_path: Path) -> None:
    target = save_tokenizer(tokenizer, tmp_path / "tokenizer")
    assert (target / "tokenizer.json").is_file() and (target / "tokenizer_config.json").is_file()
    loaded = load_tokenizer(target)
    for text in ROUND_TRIP:
        assert loaded.encode(text, add_special_tokens=False) == tokenizer.encode(
            text, add_special_tokens=False
        )
    assert (loaded.pad_token, loaded.eos_token, loaded.unk_token) == (PAD, EOS, UNK)


def test_unknown_scheme() -> None:
    with pytest.raises(ConfigError, match="unknown tokenizer scheme 'words'"):
        train_tokenizer(["x"], "words")


def test_missing_tokenizer_dir(tmp_path: Path) -> None:
    with pytest.raises(SystemLoadError, match="no tokenizer here"):
        load_tokenizer(tmp_path / "nothing")
