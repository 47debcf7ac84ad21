"""benchmarks/bench_qlora.py: the Qwen3-1.7B-shaped QLoRA benchmark's path, run at a tiny shape on CPU."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest
import torch


def test_the_real_size_shape_is_qwen3_1_7b(benchmark_script: Callable[[str], ModuleType]) -> None:
    from transformers import Qwen3Config, Qwen3ForCausalLM

    bench = benchmark_script("bench_qlora")
    with torch.device("meta"):
        n = sum(p.numel() for p in Qwen3ForCausalLM(Qwen3Config(**bench.QWEN3_1_7B)).parameters())
    assert 1.6e9 < n < 2.1e9, n  # Qwen3-1.7B: 1.7B parameters with tied embeddings


def test_without_cuda_it_says_so_and_measures_nothing(
    monkeypatch, capsys, benchmark_script: Callable[[str], ModuleType]
) -> None:
    bench = benchmark_script("bench_qlora")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert bench.main([]) == 0
    assert "no CUDA device" in capsys.readouterr().out


def test_tiny_shape_trains_through_the_4bit_path_on_cpu(
    tmp_path: Path, capsys, benchmark_script: Callable[[str], ModuleType]
) -> None:
    pytest.importorskip("bitsandbytes", reason="bitsandbytes is not installed")
    bench = benchmark_script("bench_qlora")
    out = tmp_path / "q.json"
    try:
        code = bench.main(
            ["--shape", "tiny", "--device", "cpu", "--steps", "2", "--seq-len", "32", "--json", str(out)]
        )
    except Exception as err:  # bitsandbytes builds without a CPU backend cannot quantise here
        if "bitsandbytes" in str(err) or "quantis" in str(err):
            pytest.skip(f"bitsandbytes cannot quantise on this CPU: {err}")
        raise
    assert code == 0
    figures = json.loads(out.read_text())
    assert figures["step_s"] > 0 and figures["tokens_per_s"] == pytest.approx(4 * 32 / figures["step_s"])
    assert 0 < figures["trainable_params"] < figures["base_params"]
    assert figures["gradient_checkpointing"] is True  # prepare_model_for_kbit_training ran
    assert "tokens/s" in capsys.readouterr().out
