"""The shared base causal LM: tiny from-scratch Qwen3 configs, or any local HF model directory.

Device and dtype are chosen in exactly one place, :func:`select_device_dtype` (bfloat16 on CUDA, float32
on CPU). Bases are read from local directories only (``local_files_only=True``), from safetensors only
(pickle checkpoints are refused), and never with ``trust_remote_code``. Quantised loading (bitsandbytes
NF4 with double quantisation, or 8-bit) followed by ``peft.prepare_model_for_kbit_training`` is the QLoRA
path of Dettmers et al. 2023 (arXiv:2305.14314).

Public API::

    BASE_SIZES                                   base_config(size, vocab_size, ...) -> Qwen3Config
    build_base(size, tokenizer, max_seq_len=512, seed=0, shape=None) -> Qwen3ForCausalLM
    load_base(path, quantization="none", dtype="auto", device="auto", for_training=False) -> PreTrainedModel
    base_from_config(cfg: BaseModelConfig, tokenizer, seed=0, for_training=False) -> PreTrainedModel
    save_base(model, directory) -> Path          count_parameters(model, trainable_only=False) -> int
    grow_layers(model, num_layers) -> PreTrainedModel     (block expansion, exact: same outputs, more layers)
    select_device_dtype(device="auto", dtype="auto") -> (torch.device, torch.dtype)
    is_quantized(model) -> bool
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

import torch
from safetensors import SafetensorError
from transformers import AutoModelForCausalLM, PreTrainedModel, Qwen3Config, Qwen3ForCausalLM

from helixmoe.atomic import read_json
from helixmoe.config.model import SIZE_SHAPES, BaseModelConfig, shape_problem
from helixmoe.errors import ConfigError, SystemLoadError
from helixmoe.models.layout import atomic_dir

__all__ = [
    "BASE_SIZES",
    "base_config",
    "base_from_config",
    "build_base",
    "context_tokens",
    "count_parameters",
    "grow_layers",
    "is_quantized",
    "load_base",
    "save_base",
    "select_device_dtype",
]

logger = logging.getLogger(__name__)

#: Named from-scratch sizes -> Qwen3Config shape; the data lives in :mod:`helixmoe.config.model` (torch-free, so
#: a config is checked against it when it loads). Measured parameter counts (tied embeddings) with the
#: 1024-token BPE / 384-token char tokenizer: tiny 1.82M / 1.70M, small 12.98M / 12.74M, medium 76.3M / 75.8M
#: (``tests/models/test_base_model.py`` checks the bands).
BASE_SIZES = SIZE_SHAPES
_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def select_device_dtype(device: str = "auto", dtype: str = "auto") -> tuple[torch.device, torch.dtype]:
    """The one place that decides where and in what precision models run.

    ``device="auto"`` is CUDA when available, else CPU. ``dtype="auto"`` is bfloat16 on CUDA (float16 on
    GPUs without bf16), float32 elsewhere (CPU bf16 matmuls are slow and lossy for tiny models).

    Raises:
        ConfigError: CUDA/MPS requested but not available, or an unknown dtype.
    """
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        dev = torch.device(device)
    except RuntimeError:
        raise ConfigError(f"unknown device {device!r}; use auto, cpu, cuda, cuda:N or mps") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {device!r} requested but CUDA is not available (use device: cpu or auto)")
    if dev.type == "mps" and not torch.backends.mps.is_available():
        raise ConfigError(f"device {device!r} requested but MPS is not available")
    if dtype == "auto":
        if dev.type == "cuda":
            return dev, torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return dev, torch.float32
    if dtype not in _DTYPES:
        raise ConfigError(f"unknown dtype {dtype!r}; choose auto, {', '.join(_DTYPES)}")
    return dev, _DTYPES[dtype]


def base_config(
    size: str,
    vocab_size: int,
    max_seq_len: int = 512,
    pad_token_id: int | None = 0,
    eos_token_id: int | None = 1,
    shape: Mapping[str, int] | None = None,
) -> Qwen3Config:
    """The Qwen3Config of a named size (tied embeddings; the vocabulary comes from the tokenizer).

    ``shape`` overrides fields of the size's shape (``model.shape`` in the config).

    Raises:
        ConfigError: unknown size, unknown shape field, or query heads not a multiple of key/value heads.
    """
    if size not in BASE_SIZES:
        raise ConfigError(f"unknown base size {size!r}; choose one of {', '.join(BASE_SIZES)}")
    problem = shape_problem(size, shape)
    if problem:
        raise ConfigError(f"model.shape: {problem}")
    dims: dict[str, Any] = {**BASE_SIZES[size], **(shape or {})}
    return Qwen3Config(
        vocab_size=vocab_size,
        max_position_embeddings=max_seq_len,
        tie_word_embeddings=True,
        pad_token_id=pad_token_id,
        eos_token_id=eos_token_id,
        bos_token_id=None,
        **dims,
    )


def build_base(
    size: str,
    tokenizer: Any,
    max_seq_len: int = 512,
    seed: int = 0,
    shape: Mapping[str, int] | None = None,
) -> Qwen3ForCausalLM:
    """A randomly initialised (seeded) from-scratch base sized for ``tokenizer``, in float32 on CPU."""
    config = base_config(
        size, len(tokenizer), max_seq_len, tokenizer.pad_token_id, tokenizer.eos_token_id, shape
    )
    torch.manual_seed(seed)
    model = Qwen3ForCausalLM(config)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    logger.info("built %s base: %d parameters", size, count_parameters(model))
    return model


#: The projections that write a decoder layer's attention and MLP results into the residual stream
#: (Llama-family names: Llama, Mistral, Qwen2, Qwen3); zeroing both makes a layer the identity.
_OUTPUT_PROJECTIONS = ("self_attn.o_proj", "mlp.down_proj")


def grow_layers(model: PreTrainedModel, num_layers: int) -> PreTrainedModel:
    """A deeper copy of ``model`` that computes exactly the same outputs: block expansion.

    The ``num_layers - n`` new decoder layers are spread evenly over the ``n`` old ones, each placed after
    the layer it copies with its output projections (``o_proj``, ``down_proj``) and their biases zeroed, so
    it adds nothing to the residual stream until training moves those projections (Wu et al. 2024, LLaMA
    Pro, arXiv:2401.02415). A trained base grows deeper and goes on training from where it stopped, instead
    of a deeper base starting again from random weights. Written here because neither transformers nor PEFT
    grows a model's depth. The grown model is in the input's dtype, on the CPU, in eval mode.

    Raises:
        ConfigError: ``num_layers`` not above the model's layer count, or layers without Llama-family
            output projections.
    """
    config = model.config.__class__.from_dict(model.config.to_dict())
    old = int(model.config.num_hidden_layers)
    if num_layers <= old:
        raise ConfigError(f"model.grow_layers ({num_layers}) must be more than the base's {old} layers")
    state = {name: tensor.detach().cpu() for name, tensor in model.state_dict().items()}
    if not any(f".{module}." in name for name in state for module in _OUTPUT_PROJECTIONS):
        raise ConfigError(
            f"model.grow_layers needs Llama-family layers (self_attn.o_proj, mlp.down_proj); "
            f"{type(model).__name__} has none"
        )
    added = num_layers - old
    # copies after old layer i: spread evenly, the last old layer always gets one
    copies = [(i + 1) * added // old - i * added // old for i in range(old)]
    sources = [i for i in range(old) for _ in range(1 + copies[i])]
    fresh = [j > 0 and sources[j] == sources[j - 1] for j in range(num_layers)]
    grown: dict[str, torch.Tensor] = {}
    prefix = ".layers."
    for name, tensor in state.items():
        head, found, tail = name.partition(prefix)
        index, _, rest = tail.partition(".")
        if not found or not index.isdigit():
            grown[name] = tensor.clone()
            continue
        for new_index, source in enumerate(sources):
            if source != int(index):
                continue
            value = tensor.clone()
            if fresh[new_index] and any(rest.startswith(f"{module}.") for module in _OUTPUT_PROJECTIONS):
                value.zero_()  # weight and bias
            grown[f"{head}{prefix}{new_index}.{rest}"] = value
    config.num_hidden_layers = num_layers
    layer_types = getattr(model.config, "layer_types", None)
    if layer_types:
        config.layer_types = [layer_types[i] for i in sources]
    bigger: Any = type(model)(config)
    bigger.to(model.dtype)
    bigger.load_state_dict(grown, strict=True)
    bigger.generation_config = model.generation_config
    logger.info(
        "grew the base from %d to %d layers: %d parameters", old, num_layers, count_parameters(bigger)
    )
    return cast(PreTrainedModel, bigger.eval())


def context_tokens(model: Any) -> int | None:
    """The most tokens ``model`` reads (its config's ``max_position_embeddings``), if it says."""
    return getattr(getattr(model, "config", None), "max_position_embeddings", None)


def count_parameters(model: torch.nn.Module, trainable_only: bool = False) -> int:
    """Number of (unique) parameters; tied embeddings count once."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def is_quantized(model: torch.nn.Module) -> bool:
    """True if the model was loaded 4-/8-bit through bitsandbytes."""
    return bool(getattr(model, "is_loaded_in_4bit", False) or getattr(model, "is_loaded_in_8bit", False))


def save_base(model: PreTrainedModel, directory: str | os.PathLike[str]) -> Path:
    """Save a base (or merged) model as an HF directory (``config.json`` + safetensors), atomically."""
    with atomic_dir(directory) as tmp:
        model.save_pretrained(str(tmp), safe_serialization=True)
    return Path(directory)


def _check_model_dir(path: Path) -> None:
    if not path.is_dir():
        raise SystemLoadError(f"{path}: base model directory not found")
    try:
        read_json(path / "config.json")
    except (OSError, ValueError) as err:
        raise SystemLoadError(f"{path}: no readable config.json in the base model directory ({err})") from err
    if not any(path.glob("*.safetensors")) and not (path / "model.safetensors.index.json").is_file():
        pickled = [p.name for p in path.glob("*.bin")] + [p.name for p in path.glob("*.pt*")]
        detail = f" (found pickle weights {pickled}; convert them to safetensors)" if pickled else ""
        raise SystemLoadError(f"{path}: no safetensors weights in the base model directory{detail}")


def _quantization_config(quantization: str, compute_dtype: torch.dtype) -> Any:
    if quantization == "none":
        return None
    if quantization not in ("4bit", "8bit"):
        raise ConfigError(f"unknown quantization {quantization!r}; choose none, 8bit or 4bit")
    try:
        import bitsandbytes  # noqa: F401
    except ImportError as err:
        raise ConfigError(
            f"quantization {quantization!r} needs bitsandbytes: pip install 'helixmoe[quant]'"
        ) from err
    from transformers import BitsAndBytesConfig

    if quantization == "8bit":
        return BitsAndBytesConfig(load_in_8bit=True)  # type: ignore[no-untyped-call]
    return BitsAndBytesConfig(  # type: ignore[no-untyped-call]
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=compute_dtype,
    )


def load_base(
    path: str | os.PathLike[str],
    quantization: str = "none",
    dtype: str = "auto",
    device: str = "auto",
    for_training: bool = False,
) -> PreTrainedModel:
    """Load a causal LM from a local HF directory (a saved tiny base or e.g. a Qwen3-1.7B checkout).

    Args:
        path: Local directory with ``config.json`` and safetensors weights.
        quantization: ``none``, ``8bit`` or ``4bit`` (NF4 + double quantisation; needs bitsandbytes).
        dtype: ``auto`` or a dtype name, resolved by :func:`select_device_dtype`.
        device: ``auto``, ``cpu``, ``cuda``, ``cuda:N``, ``mps``.
        for_training: With quantisation, run ``peft.prepare_model_for_kbit_training`` (fp32 norms, input
            grads, gradient checkpointing) so LoRA adapters can be trained on top (QLoRA).

    Raises:
        SystemLoadError: missing directory, unreadable config, no safetensors weights, or a load failure.
        ConfigError: bad quantization/device/dtype, or bitsandbytes missing.
    """
    model_dir = Path(path).expanduser()
    _check_model_dir(model_dir)
    dev, torch_dtype = select_device_dtype(device, dtype)
    quant = _quantization_config(quantization, torch_dtype)
    kwargs: dict[str, Any] = dict(local_files_only=True, trust_remote_code=False, use_safetensors=True)
    if hasattr(PreTrainedModel, "use_kernels"):
        # transformers >= 5 swaps layers for Hub kernels whenever the `kernels` package is installed: code
        # fetched from the Hub (remote code, like trust_remote_code), which fails offline on CUDA
        # ("'kernels-community/rotary' is not available in the local cache") when a model is loaded or
        # switched to train()/eval(). Loads stay local and run the model's own torch code.
        kwargs["use_kernels"] = False
    if quant is not None:
        kwargs.update(quantization_config=quant, device_map={"": str(dev)})
    try:
        model = AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=torch_dtype, **kwargs)
    except (OSError, ValueError, KeyError, RuntimeError, SafetensorError) as err:
        raise SystemLoadError(f"{model_dir}: cannot load the base model: {err}") from err
    if quant is None:
        cast(Any, model).to(dev)
    elif for_training:
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(  # type: ignore[no-untyped-call]
            model, use_gradient_checkpointing=True, gradient_checkpointing_kwargs={"use_reentrant": False}
        )
    logger.info("loaded base %s (%s, %s, quantization=%s)", model_dir, dev, torch_dtype, quantization)
    return model


def base_from_config(
    config: BaseModelConfig, tokenizer: Any, seed: int = 0, for_training: bool = False
) -> PreTrainedModel:
    """The base a :class:`~helixmoe.config.BaseModelConfig` describes: built from scratch or loaded.

    A from-scratch base is built in float32 and moved to the selected device; it is cast to the selected
    dtype only for inference (``for_training=False``): training keeps float32 master weights and lets the
    trainer autocast (bf16 mixed precision on CUDA).
    """
    if config.path is not None:
        return load_base(config.path, config.quantization, config.dtype, config.device, for_training)
    assert config.size is not None  # guaranteed by BaseModelConfig validation
    dev, torch_dtype = select_device_dtype(config.device, config.dtype)
    model: Any = build_base(config.size, tokenizer, config.max_seq_len, seed, config.shape)
    model.to(dev)
    if not for_training:
        model.to(torch_dtype)
    return cast(PreTrainedModel, model)
