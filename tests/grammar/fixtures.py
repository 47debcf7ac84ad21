"""Test helpers: a character-level tokenizer over ASCII + LC-R glyphs and a tiny random Qwen3 model."""

from __future__ import annotations

import torch
from tokenizers import Tokenizer, decoders, models
from transformers import PreTrainedTokenizerFast, Qwen3Config, Qwen3ForCausalLM

SPECIALS = ("<|pad|>", "<|eos|>", "<|unk|>", "<|user|>", "<|assistant|>")
GLYPHS = "∅⊤⊥⟁⊠🜊🜁🜂🜃🜄◇◆"


def char_tokenizer() -> PreTrainedTokenizerFast:
    """One token per character (specials, printable ASCII, LC-R glyphs) with UTF-8 byte fallback, like the
    ``char`` scheme of :mod:`helixmoe.models.tokenizer`."""
    chars = [chr(c) for c in range(0x20, 0x7F)] + ["\n", "\t"] + list(GLYPHS) + list("éü€😀")
    byte_tokens = [f"<0x{b:02X}>" for b in range(256)]
    vocab = {tok: i for i, tok in enumerate([*SPECIALS, *byte_tokens, *chars])}
    core = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token="<|unk|>", byte_fallback=True))
    core.decoder = decoders.Sequence([decoders.ByteFallback(), decoders.Fuse()])
    core.add_special_tokens(list(SPECIALS))
    return PreTrainedTokenizerFast(
        tokenizer_object=core,
        pad_token="<|pad|>",
        eos_token="<|eos|>",
        unk_token="<|unk|>",
        clean_up_tokenization_spaces=False,
    )


def tiny_model(vocab_size: int, seed: int = 0) -> Qwen3ForCausalLM:
    torch.manual_seed(seed)
    config = Qwen3Config(
        vocab_size=vocab_size,
        hidden_size=48,
        intermediate_size=96,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=12,
        max_position_embeddings=512,
        pad_token_id=0,
        eos_token_id=1,
        bos_token_id=None,
        tie_word_embeddings=True,
    )
    return Qwen3ForCausalLM(config).eval()
