"""Config of the tensors side of a system: tokenizer, base model and LoRA defaults (pure Python, layer 0).

The defaults reproduce the design's embedded system: a byte-level BPE tokenizer (1024 tokens) trained on
the corpus, a tiny from-scratch Qwen3-architecture base, and LoRA r=16, alpha=32, dropout 0.05 on the
seven attention/MLP projections (QLoRA paper defaults). BPE was chosen over character level by
``benchmarks/bench_tokenizer.py``: half the tokens per example and, in a 600 s tiny-base probe, 24% vs 1%
exact match. :mod:`helixmoe.models` turns these into objects.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from helixmoe.config.base import Section

__all__ = [
    "BASE_SIZE_NAMES",
    "DEFAULT_TARGET_MODULES",
    "SHAPE_FIELDS",
    "SIZE_SHAPES",
    "BaseModelConfig",
    "LoRAConfig",
    "TokenizerConfig",
    "shape_problem",
]

#: The seven attention and MLP projections of Qwen/Llama-style decoders.
DEFAULT_TARGET_MODULES: tuple[str, ...] = (
    "q_proj",
    "k_proj",
    "v_proj",
    "o_proj",
    "gate_proj",
    "up_proj",
    "down_proj",
)

#: The Qwen3Config fields ``model.shape`` may override in a named size.
SHAPE_FIELDS: tuple[str, ...] = (
    "hidden_size",
    "num_hidden_layers",
    "intermediate_size",
    "num_attention_heads",
    "num_key_value_heads",
    "head_dim",
)
#: Each named size's Qwen3Config shape (exactly the fields of :data:`SHAPE_FIELDS`); ``model.shape`` overrides
#: them and :mod:`helixmoe.models.base` builds from them.
SIZE_SHAPES: dict[str, dict[str, int]] = {
    "tiny": dict(
        hidden_size=192,
        num_hidden_layers=4,
        intermediate_size=512,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=48,
    ),
    "small": dict(
        hidden_size=384,
        num_hidden_layers=8,
        intermediate_size=1024,
        num_attention_heads=6,
        num_key_value_heads=2,
        head_dim=64,
    ),
    "medium": dict(
        hidden_size=768,
        num_hidden_layers=12,
        intermediate_size=2048,
        num_attention_heads=12,
        num_key_value_heads=4,
        head_dim=64,
    ),
}
#: Named from-scratch sizes.
BASE_SIZE_NAMES: tuple[str, ...] = tuple(SIZE_SHAPES)


def shape_problem(size: str, overrides: Mapping[str, int] | None = None) -> str | None:
    """What is wrong with the named size's shape once ``overrides`` (``model.shape``) apply, or ``None``:
    an unknown field, or query heads that are not a multiple of the key/value heads."""
    unknown = sorted(set(overrides or {}) - set(SHAPE_FIELDS))
    if unknown:
        return f"unknown shape field(s) {unknown}; choose from {', '.join(SHAPE_FIELDS)}"
    dims = {**SIZE_SHAPES[size], **(overrides or {})}
    heads, kv = dims["num_attention_heads"], dims["num_key_value_heads"]
    if heads % kv:
        return f"num_attention_heads ({heads}) must be a multiple of num_key_value_heads ({kv})"
    return None


class TokenizerConfig(Section):
    """How the tokenizer is obtained: trained on the corpus (``scheme``) or read from ``path``."""

    scheme: Literal["char", "bpe", "hlx", "spelled"] = "bpe"
    """``char``: one token per character with byte fallback; ``bpe``: byte-level BPE with glyphs kept whole;
    ``hlx``: the same BPE over HLX-aware pieces (LC-B hex cut into bytes, spaces apart from words);
    ``spelled``: ``hlx`` with one letter per token (names spelled out, as LC-B hex writes them)."""
    vocab_size: int = Field(default=1024, ge=300, le=262_144)
    """Target vocabulary size of the BPE schemes (ignored by ``char``: its alphabet decides; ``spelled`` may stop
    short of it when no more pairs repeat)."""
    min_frequency: int = Field(default=2, ge=1)
    """Minimum pair frequency for a BPE merge."""
    path: str | None = None
    """A local HF tokenizer directory to use instead of training one (default: the base's, if ``model.path``)."""


class BaseModelConfig(Section):
    """The shared base causal LM: a named from-scratch ``size`` or a local HF directory ``path``."""

    size: Literal["tiny", "small", "medium"] | None = "tiny"
    """Named from-scratch Qwen3-architecture size; defaults to unset when ``path`` is given."""
    shape: dict[str, int] = Field(default_factory=dict)
    """Overrides of the named size's shape (any of :data:`SHAPE_FIELDS`), e.g. ``{hidden_size: 128,
    head_dim: 32}``: from-scratch bases only; the shape is saved in the base's ``config.json``."""
    path: str | None = None
    """A local Hugging Face model directory (never downloaded; ``trust_remote_code`` is never enabled)."""
    quantization: Literal["none", "8bit", "4bit"] = "none"
    """bitsandbytes quantisation of a ``path`` base: ``4bit`` = NF4 + double quantisation (QLoRA)."""
    continue_pretraining: bool = False
    """Train the ``path`` base further on the corpus (the base stage, ``training.base``: a full fine-tune,
    so ``quantization: none``) before the experts, instead of using it as is: domain-adaptive pretraining of
    a local HF model, or more training for a system's own ``base/``. The result is saved in the system's
    ``base/`` with the path's tokenizer in ``tokenizer/``; ``path`` itself is only read."""
    grow_layers: int | None = Field(default=None, ge=2, le=1024)
    """With ``continue_pretraining``: first grow the ``path`` base to this many decoder layers (block
    expansion: each new layer is a copy of the one before it with its output projections zeroed, so the grown
    model computes exactly what the path base computes and training starts where that base stopped); must
    be more layers than the path base has."""
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    """Compute dtype; ``auto`` = bfloat16 on CUDA, float32 on CPU."""
    device: str = "auto"
    """``auto`` (CUDA if available, else CPU), ``cpu``, ``cuda``, ``cuda:N`` or ``mps``."""
    max_seq_len: int = Field(default=512, ge=16, le=131_072)
    """Longest sequence (prompt + response) the model is built for and trained on."""

    @field_validator("device")
    @classmethod
    def _check_device(cls, value: str) -> str:
        head, _, index = value.partition(":")
        if head not in ("auto", "cpu", "cuda", "mps") or (index and (head != "cuda" or not index.isdigit())):
            raise ValueError(f"device must be auto, cpu, cuda, cuda:N or mps, got {value!r}")
        return value

    @field_validator("shape")
    @classmethod
    def _check_shape(cls, value: dict[str, int]) -> dict[str, int]:
        # unknown fields and the heads are checked with the size (shape_problem, in _check_source)
        small = sorted(k for k, v in value.items() if v < 1)
        if small:
            raise ValueError(f"shape fields must be >= 1: {small}")
        return value

    @model_validator(mode="before")
    @classmethod
    def _path_implies_no_size(cls, data: Any) -> Any:
        # A path given without an explicit size means "not from scratch": the default size steps aside.
        if isinstance(data, dict) and data.get("path") is not None and "size" not in data:
            return {**data, "size": None}
        return data

    @model_validator(mode="after")
    def _check_source(self) -> BaseModelConfig:
        if self.path is not None and self.size is not None:
            raise ValueError(
                "give either 'size' (from scratch) or 'path' (local HF directory), not both (size: null to use path)"
            )
        if self.shape and self.size is None:
            raise ValueError("'shape' overrides a named from-scratch size; a 'path' base keeps its own shape")
        if self.size is not None and (problem := shape_problem(self.size, self.shape)):
            raise ValueError(f"shape: {problem}")
        if self.path is None and self.size is None:
            raise ValueError("give 'size' (tiny|small|medium) or 'path' (a local HF model directory)")
        if self.continue_pretraining and self.path is None:
            raise ValueError(
                "continue_pretraining trains a pretrained 'path' base further; a from-scratch base is pretrained anyway"
            )
        if self.grow_layers is not None and not self.continue_pretraining:
            raise ValueError(
                "grow_layers grows a 'path' base before training it further: it needs continue_pretraining: true"
            )
        if self.continue_pretraining and self.quantization != "none":
            raise ValueError(
                f"continue_pretraining is a full fine-tune and needs quantization: none, not {self.quantization!r} "
                "(a quantised base trains only LoRA adapters)"
            )
        if self.quantization != "none" and self.path is None:
            raise ValueError(
                f"quantization {self.quantization!r} needs a pretrained 'path' base; "
                "a from-scratch base trains in full precision"
            )
        return self


class LoRAConfig(Section):
    """LoRA hyper-parameters of one expert (PEFT ``LoraConfig`` fields of the same meaning)."""

    r: int = Field(default=16, ge=1, le=1024)
    """Rank of the update ``B @ A``."""
    alpha: int = Field(default=32, ge=1)
    """Scaling numerator: the update is scaled by ``alpha / r``."""
    dropout: float = Field(default=0.05, ge=0.0, lt=1.0)
    """Dropout on the LoRA input during training."""
    target_modules: list[str] = Field(default_factory=lambda: list(DEFAULT_TARGET_MODULES), min_length=1)
    """Names of the linear layers that get an adapter."""
