"""Tokenizers trained on the corpus with the ``tokenizers`` library, saved and loaded in HF format.

Four schemes (registry :data:`SCHEMES`), compared by ``benchmarks/bench_tokenizer.py`` and by whole demo
runs (README, "Tokenizers"):

* ``char`` — one token per character (every printable ASCII character, every LC-R glyph including the
  lenient animal glyphs, and every character seen ``min_frequency`` times in the corpus), with UTF-8
  byte fallback (``<0xNN>`` tokens) so any text round-trips losslessly. A BPE model with no merges.
* ``bpe`` — byte-level BPE (GPT-2 style) with a small learned vocabulary; structural symbols are split off
  before BPE and every LC-R glyph is an added token, so neither is ever merged with its neighbours.
* ``hlx`` — the same BPE over HLX-aware pieces (:data:`HLX_PIECES`): LC-B hex is cut into its bytes and
  spaces stand alone, so a key or a byte is the same tokens wherever it appears (GPT-2's pre-tokenizer
  glues the leading space to a word and cuts hex at letter/digit changes, e.g. ``696`` + ``c``).
* ``spelled`` — ``hlx`` with every letter its own piece (:data:`SPELLED_PIECES`): names and strings are spelled
  one letter per token, so writing them in LC-B hex is one byte token per letter token and a name's length
  prefix is a count of its tokens (with ``hlx``, ``velocity`` is ``vel`` ``o`` ``c`` ``ity``: the model has to
  know how each piece is spelled). Sequences are longer (about 1.5x on the training split).

In every scheme, each LC-R glyph (spec §5, canonical and lenient) and each structural symbol is exactly one token,
and the special tokens of :mod:`helixmoe.models.template` come first (pad = 0, eos = 1, unk = 2).

Public API::

    train_tokenizer(texts, scheme="bpe", vocab_size=1024, min_frequency=2) -> PreTrainedTokenizerFast
    save_tokenizer(tokenizer, directory) -> Path       load_tokenizer(directory) -> PreTrainedTokenizerFast
    SCHEMES   LCR_GLYPHS   LENIENT_LCR_GLYPHS   STRUCTURAL_SYMBOLS   single_token_symbols()
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path

from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import AutoTokenizer, PreTrainedTokenizerBase, PreTrainedTokenizerFast

from helixmoe.atomic import read_json
from helixmoe.errors import ConfigError, SystemLoadError
from helixmoe.models.layout import atomic_dir
from helixmoe.models.template import ASSISTANT, EOS, PAD, SPECIAL_TOKENS, UNK, USER

__all__ = [
    "LCR_GLYPHS",
    "LENIENT_LCR_GLYPHS",
    "SCHEMES",
    "STRUCTURAL_SYMBOLS",
    "load_tokenizer",
    "save_tokenizer",
    "single_token_symbols",
    "train_tokenizer",
]

logger = logging.getLogger(__name__)

#: Canonical LC-R glyphs (spec §5): ∅ ⊤ ⊥ ⟁ ⊠ 🜊 🜁 🜂 🜃 🜄 ◇ ◆.
LCR_GLYPHS: tuple[str, ...] = tuple(
    "\u2205\u22a4\u22a5\u27c1\u22a0\U0001f70a\U0001f701\U0001f702\U0001f703\U0001f704\u25c7\u25c6"
)
#: Lenient LC-R glyphs (spec §5): the animal emoji 🐊 🐁 🐂 🐃 🐄 (alchemical glyphs shifted by −0x300).
LENIENT_LCR_GLYPHS: tuple[str, ...] = tuple("\U0001f40a\U0001f401\U0001f402\U0001f403\U0001f404")
#: ASCII symbols that delimit HLX structure in HLXL, LC-T, LC-B text and LC-R.
STRUCTURAL_SYMBOLS: tuple[str, ...] = tuple('[]{}(),:=|"@#&\\')
_ASCII = (*(chr(c) for c in range(0x20, 0x7F)), "\n", "\t")
_BYTE_TOKENS = tuple(f"<0x{b:02X}>" for b in range(256))


def single_token_symbols() -> tuple[str, ...]:
    """Every string that must encode to exactly one token: glyphs, lenient glyphs, structural symbols."""
    return LCR_GLYPHS + LENIENT_LCR_GLYPHS + STRUCTURAL_SYMBOLS


def _char_tokenizer(texts: Iterable[str], vocab_size: int, min_frequency: int) -> Tokenizer:
    """Character-level: a BPE model with no merges, byte fallback for characters outside the alphabet."""
    del vocab_size  # the alphabet decides the size
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(text)
    alphabet = dict.fromkeys(_ASCII + LCR_GLYPHS + LENIENT_LCR_GLYPHS)
    alphabet.update(dict.fromkeys(sorted(c for c, n in counts.items() if n >= min_frequency)))
    vocab = {token: i for i, token in enumerate((*SPECIAL_TOKENS, *_BYTE_TOKENS, *alphabet))}
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token=UNK, byte_fallback=True))
    tok.decoder = decoders.Sequence([decoders.ByteFallback(), decoders.Fuse()])
    return tok


def _isolate_symbols() -> pre_tokenizers.PreTokenizer:
    symbols = "".join("\\" + s if s in "[]{}()|\\" else s for s in STRUCTURAL_SYMBOLS)
    return pre_tokenizers.Split(Regex(f"[{symbols}]"), behavior="isolated")


#: ``hlx`` pre-tokenization, tried left to right at each position: a hex byte (two lowercase hex digits that
#: start an even-length hex run ending the word, as in LC-B hex), a run of letters, a run of digits, a run of
#: other non-space characters, one whitespace character.
HLX_PIECES = (
    r"[0-9a-f]{2}(?=(?:[0-9a-f]{2})*(?![0-9A-Za-z_]))"
    r"|\p{L}+|\p{N}+|[^\s\p{L}\p{N}]+|\s"
)


#: ``spelled`` pre-tokenization: :data:`HLX_PIECES` with one letter per piece instead of a run of letters.
SPELLED_PIECES = HLX_PIECES.replace(r"|\p{L}+|", r"|\p{L}|", 1)


def _bpe_tokenizer(texts: Iterable[str], vocab_size: int, min_frequency: int) -> Tokenizer:
    """Byte-level BPE; structural symbols isolated before BPE, glyphs added as whole tokens."""
    pre = [_isolate_symbols(), pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)]
    return _train_bpe(texts, vocab_size, min_frequency, pre)


def _hlx_tokenizer(texts: Iterable[str], vocab_size: int, min_frequency: int) -> Tokenizer:
    """Byte-level BPE over HLX-aware pieces (:data:`HLX_PIECES`): LC-B hex in byte pairs, spaces apart.

    GPT-2's pre-tokenizer glues a leading space to words and numbers and cuts hex at letter/digit
    boundaries, so one key or byte gets different tokens in different places; here a key is the same tokens
    after ``{`` and after ``, `` and every byte of an LC-B hex string is one piece, aligned to the byte.
    """
    return _train_pieces(texts, vocab_size, min_frequency, HLX_PIECES)


def _spelled_tokenizer(texts: Iterable[str], vocab_size: int, min_frequency: int) -> Tokenizer:
    """``hlx`` with one letter per piece (:data:`SPELLED_PIECES`): names and strings are spelled out."""
    return _train_pieces(texts, vocab_size, min_frequency, SPELLED_PIECES)


def _train_pieces(texts: Iterable[str], vocab_size: int, min_frequency: int, pieces: str) -> Tokenizer:
    pre = [
        _isolate_symbols(),
        pre_tokenizers.Split(Regex(pieces), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ]
    return _train_bpe(texts, vocab_size, min_frequency, pre)


def _train_bpe(
    texts: Iterable[str], vocab_size: int, min_frequency: int, pre: list[pre_tokenizers.PreTokenizer]
) -> Tokenizer:
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence(pre)
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens(list(SPECIAL_TOKENS))
    tok.add_tokens([AddedToken(g, normalized=False) for g in LCR_GLYPHS + LENIENT_LCR_GLYPHS])
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    return tok


#: Tokenizer scheme name -> builder ``(texts, vocab_size, min_frequency) -> tokenizers.Tokenizer``.
SCHEMES: dict[str, Callable[[Iterable[str], int, int], Tokenizer]] = {
    "char": _char_tokenizer,
    "bpe": _bpe_tokenizer,
    "hlx": _hlx_tokenizer,
    "spelled": _spelled_tokenizer,
}


def train_tokenizer(
    texts: Iterable[str], scheme: str = "bpe", vocab_size: int = 1024, min_frequency: int = 2
) -> PreTrainedTokenizerFast:
    """Train a tokenizer on corpus texts (prompts and responses) and wrap it for transformers.

    Args:
        texts: The training texts; materialised once (the ``char`` scheme counts characters).
        scheme: A key of :data:`SCHEMES`.
        vocab_size: Target size for ``bpe`` (ignored by ``char``).
        min_frequency: ``char``: minimum count for a corpus character to join the alphabet;
            ``bpe``: minimum pair count for a merge.

    Raises:
        ConfigError: unknown scheme.
    """
    if scheme not in SCHEMES:
        raise ConfigError(f"unknown tokenizer scheme {scheme!r}; choose one of {', '.join(SCHEMES)}")
    core = SCHEMES[scheme](list(texts), vocab_size, min_frequency)
    core.add_special_tokens(list(SPECIAL_TOKENS))  # extracted whole from text, never split into characters
    tokenizer = PreTrainedTokenizerFast(  # type: ignore[no-untyped-call]
        tokenizer_object=core,
        pad_token=PAD,
        eos_token=EOS,
        unk_token=UNK,
        extra_special_tokens=[USER, ASSISTANT],
        clean_up_tokenization_spaces=False,
    )
    logger.info("trained %s tokenizer with %d tokens", scheme, len(tokenizer))
    return tokenizer


def save_tokenizer(tokenizer: PreTrainedTokenizerBase, directory: str | os.PathLike[str]) -> Path:
    """Save in HF format (``tokenizer.json`` + ``tokenizer_config.json``), atomically replacing ``directory``."""
    with atomic_dir(directory) as tmp:
        tokenizer.save_pretrained(str(tmp))
    return Path(directory)


_JSON_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json")


def load_tokenizer(directory: str | os.PathLike[str]) -> PreTrainedTokenizerBase:
    """Load a tokenizer from a local HF directory (ours or a base model's); never downloads.

    A tokenizer without a pad token gets its EOS as pad (generation pads on the left).

    Raises:
        SystemLoadError: the directory is missing or holds no loadable tokenizer.
    """
    path = Path(directory)
    if not (path / "tokenizer.json").is_file() and not (path / "tokenizer_config.json").is_file():
        raise SystemLoadError(f"{path}: no tokenizer here (expected tokenizer.json or tokenizer_config.json)")
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True, trust_remote_code=False)
    except (OSError, ValueError, KeyError, RecursionError) as err:
        # transformers does not say which file it failed on: name the one that is not readable JSON
        for name in _JSON_FILES:
            if (path / name).is_file():
                try:
                    read_json(path / name)
                except (OSError, ValueError) as bad:
                    raise SystemLoadError(f"{path / name}: cannot read the tokenizer file: {bad}") from None
        if isinstance(err, RecursionError):
            raise SystemLoadError(f"{path}: cannot load tokenizer: nested too deeply") from None
        raise SystemLoadError(f"{path}: cannot load tokenizer: {err}") from err
    if tokenizer.eos_token is None:
        # generation stops at EOS: without one every answer runs to the token cap (and pads with nothing)
        raise SystemLoadError(
            f"{path}: the tokenizer has no end-of-sequence token (is its tokenizer_config.json missing?)"
        )
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer
