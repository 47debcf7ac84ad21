"""The QLoRA path: a local base loaded 4-bit (bitsandbytes NF4) trains LoRA experts on CPU."""

from __future__ import annotations

import importlib.util

import pytest
import yaml
from safetensors.torch import load_file
from training_helpers import make_model, make_tokenizer

from helixmoe.config import load_config
from helixmoe.training.pipeline import train_system

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("bitsandbytes") is None,
    reason="bitsandbytes is not installed (pip install helixmoe[quant])",
)


def test_a_4bit_local_base_trains_an_expert_on_cpu(tmp_path):
    base_dir = tmp_path / "base"
    tokenizer = make_tokenizer()
    # bitsandbytes' CPU inference kernels need in_features >= its 64-wide quantisation block
    make_model(vocab_size=len(tokenizer), hidden=64).save_pretrained(base_dir)
    tokenizer.save_pretrained(base_dir)
    config = {
        "name": "qlora-test",
        "experts": {"runic": {"description": "runic"}},
        "model": {
            "size": None,
            "path": str(base_dir),
            "quantization": "4bit",
            "device": "cpu",
            "max_seq_len": 512,
        },
        "lora": {"target_modules": ["q_proj", "v_proj", "up_proj"]},
        "training": {
            "checkpoint_every": None,
            "progress_bars": False,
            "num_threads": 1,
            "corpus": {
                "train_per_expert": 16,
                "val_per_expert": 4,
                "test_per_expert": 1,
                "ood_per_expert": 0,
            },
            "experts": {"max_steps": 3, "batch_size": 4, "lr": 1e-2, "eval_steps": 3, "eval_samples": 2},
        },
    }
    path = tmp_path / "qlora.yaml"
    path.write_text(yaml.safe_dump(config))
    out = tmp_path / "system"
    summary = train_system(load_config(path), out, final_eval_limit=0)
    assert summary["stages"]["tokenizer"]["skipped"].startswith("using the tokenizer")
    assert summary["stages"]["base"] == {"skipped": "pretrained base at model.path"}
    assert summary["stages"]["experts"]["runic"]["steps"] == 3
    weights = load_file(str(out / "experts" / "runic" / "adapter_model.safetensors"))
    lora_b = [t for name, t in weights.items() if "lora_B" in name]
    assert lora_b and any(float(t.abs().sum()) > 0 for t in lora_b)  # B starts at zero: it was trained
