"""Base models: named sizes, device/dtype selection, local HF directories, the QLoRA path."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest
import torch

from helixmoe.config import BaseModelConfig, LoRAConfig
from helixmoe.errors import ConfigError, SystemLoadError
from helixmoe.models.base import (
    base_config,
    base_from_config,
    build_base,
    count_parameters,
    is_quantized,
    load_base,
    select_device_dtype,
)

#: Design bands for the named sizes (issue 7): tiny ≈ 1–3M, small ≈ 10–20M parameters.
BANDS = {
    "tiny": (1_000_000, 3_000_000),
    "small": (10_000_000, 20_000_000),
    "medium": (50_000_000, 100_000_000),
}


@pytest.mark.parametrize("size", list(BANDS))
def test_named_sizes_are_in_their_bands(size: str, char_tokenizer) -> None:
    config = base_config(size, vocab_size=len(char_tokenizer))
    with torch.device("meta"):
        from transformers import Qwen3ForCausalLM

        n = count_parameters(Qwen3ForCausalLM(config))
    low, high = BANDS[size]
    assert low <= n <= high, n


def test_every_named_size_sets_exactly_the_overridable_shape_fields() -> None:
    from helixmoe.config.model import SHAPE_FIELDS
    from helixmoe.models.base import BASE_SIZES

    assert all(set(dims) == set(SHAPE_FIELDS) for dims in BASE_SIZES.values())
    with pytest.raises(ConfigError, match=r"unknown shape field\(s\) \['width'\]"):
        base_config("tiny", 100, shape={"width": 64})


def test_unknown_size() -> None:
    with pytest.raises(ConfigError, match="unknown base size 'huge'"):
        base_config("huge", vocab_size=100)


def test_build_base_is_seeded_and_sized_for_the_tokenizer(char_tokenizer) -> None:
    a, b = build_base("tiny", char_tokenizer, seed=3), build_base("tiny", char_tokenizer, seed=3)
    assert a.config.vocab_size == len(char_tokenizer)
    assert a.config.eos_token_id == char_tokenizer.eos_token_id
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))


def test_shape_overrides_a_named_size(char_tokenizer) -> None:
    shape = {"hidden_size": 64, "num_hidden_layers": 2, "head_dim": 16}
    model = build_base("tiny", char_tokenizer, shape=shape)
    assert (model.config.hidden_size, model.config.num_hidden_layers, model.config.head_dim) == (64, 2, 16)
    assert model.config.intermediate_size == base_config("tiny", 100).intermediate_size  # not overridden
    assert count_parameters(model) < count_parameters(build_base("tiny", char_tokenizer))
    config = BaseModelConfig(size="tiny", shape=shape, device="cpu")
    assert base_from_config(config, char_tokenizer).config.hidden_size == 64
    with pytest.raises(ConfigError, match="multiple of num_key_value_heads"):
        base_config("tiny", 100, shape={"num_attention_heads": 3})


def test_select_device_dtype() -> None:
    assert select_device_dtype("cpu", "auto") == (torch.device("cpu"), torch.float32)
    assert select_device_dtype("cpu", "bfloat16") == (torch.device("cpu"), torch.bfloat16)
    if torch.cuda.is_available():
        assert select_device_dtype("auto", "auto")[1] in (torch.bfloat16, torch.float16)
    else:
        assert select_device_dtype("auto", "auto") == (torch.device("cpu"), torch.float32)
        with pytest.raises(ConfigError, match="CUDA is not available"):
            select_device_dtype("cuda", "auto")


def _logits(model, ids: list[int]) -> torch.Tensor:
    with torch.no_grad():
        return model(input_ids=torch.tensor([ids])).logits


def test_save_and_load_a_local_hf_dir(tiny_base_dir: Path, char_tokenizer) -> None:
    assert (tiny_base_dir / "config.json").is_file() and (tiny_base_dir / "model.safetensors").is_file()
    ids = char_tokenizer.encode("🜃1, 2🜄", add_special_tokens=False)
    loaded = load_base(tiny_base_dir, device="cpu")
    expected = build_base("tiny", char_tokenizer, max_seq_len=128, seed=0).eval()
    assert torch.equal(_logits(loaded.eval(), ids), _logits(expected, ids))
    via_config = base_from_config(BaseModelConfig(path=str(tiny_base_dir), device="cpu"), char_tokenizer)
    assert torch.equal(_logits(via_config.eval(), ids), _logits(expected, ids))


def test_loads_never_swap_in_hub_kernels(tiny_base_dir: Path) -> None:
    """transformers >= 5 kernelizes a loaded model whenever `kernels` is installed (code from the Hub; on CUDA
    offline, every load and train()/eval() then failed). load_base keeps the model's own torch code."""
    model = load_base(tiny_base_dir, device="cpu")
    assert getattr(model, "use_kernels", False) is False
    model.train()
    model.eval()
    assert getattr(model, "use_kernels", False) is False and getattr(model, "kernels_mode", None) is None


def test_missing_and_invalid_base_dirs(tmp_path: Path, tiny_base_dir: Path) -> None:
    with pytest.raises(SystemLoadError, match="base model directory not found"):
        load_base(tmp_path / "absent")
    (tmp_path / "empty").mkdir()
    with pytest.raises(SystemLoadError, match=r"no readable config\.json"):
        load_base(tmp_path / "empty")
    pickled = tmp_path / "pickled"
    pickled.mkdir()
    shutil.copy(tiny_base_dir / "config.json", pickled / "config.json")
    (pickled / "pytorch_model.bin").write_bytes(b"not loaded")
    with pytest.raises(SystemLoadError, match="pickle weights"):
        load_base(pickled)
    broken = tmp_path / "broken"
    shutil.copytree(tiny_base_dir, broken)
    (broken / "config.json").write_text(json.dumps({"model_type": "no_such_arch"}))
    with pytest.raises(SystemLoadError, match="cannot load the base model"):
        load_base(broken)


def test_quantization_without_bitsandbytes_is_a_clear_error(tiny_base_dir: Path, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "bitsandbytes", None)  # makes `import bitsandbytes` fail
    with pytest.raises(ConfigError, match="needs bitsandbytes"):
        load_base(tiny_base_dir, quantization="4bit")


def test_4bit_qlora_path_trains_lora_only(tiny_base_dir: Path, char_tokenizer) -> None:
    pytest.importorskip(
        "bitsandbytes", reason="bitsandbytes is not installed (pip install 'helixmoe[quant]')"
    )
    from helixmoe.models.experts import ExpertPool

    try:
        base = load_base(tiny_base_dir, quantization="4bit", device="cpu", for_training=True)
    except SystemLoadError as err:  # bitsandbytes builds without a CPU backend cannot quantise here
        pytest.skip(f"bitsandbytes cannot quantise on this CPU: {err}")
    assert is_quantized(base)
    assert type(base.model.layers[0].mlp.down_proj).__name__ == "Linear4bit"
    pool = ExpertPool(base, char_tokenizer)
    pool.add("runic", LoRAConfig(r=4, alpha=8, dropout=0.0))
    trainable = [n for n, p in pool.model.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in n for n in trainable)
    ids = torch.tensor([char_tokenizer.encode("🜃1, 2, 3🜄 ◇a: 1◆", add_special_tokens=False)])
    optimizer = torch.optim.AdamW([p for p in pool.model.parameters() if p.requires_grad], lr=1e-2)
    pool.model.train()
    losses = []
    for _ in range(6):
        loss = pool.model(input_ids=ids, labels=ids).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        losses.append(loss.item())
    assert losses[-1] < losses[0]
    with pytest.raises(ConfigError, match="cannot merge into a 4-/8-bit base"):
        pool.merge("runic", tiny_base_dir.parent / "merged")


@pytest.mark.gpu
def test_cuda_defaults_to_bf16_and_runs_qlora(tiny_base_dir: Path, char_tokenizer) -> None:
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA device")
    from helixmoe.models.experts import ExpertPool

    assert select_device_dtype("auto", "auto") == (torch.device("cuda"), torch.bfloat16)
    base = load_base(tiny_base_dir, quantization="4bit", for_training=True)
    pool = ExpertPool(base, char_tokenizer)
    pool.add("runic", LoRAConfig(r=4, alpha=8))
    ids = torch.tensor([char_tokenizer.encode("🜃1, 2🜄", add_special_tokens=False)], device="cuda")
    pool.model(input_ids=ids, labels=ids).loss.backward()
    assert all(p.grad is not None for p in pool.model.parameters() if p.requires_grad)
