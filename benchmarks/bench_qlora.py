"""QLoRA training benchmark: a Qwen3-1.7B-shaped base (random weights, built here) trained through the GPU path.

The real-size path of the training issue, measured without downloading anything: the script builds a base with
the shape of Qwen3-1.7B (28 layers, hidden 2048, MLP 6144, 16 query / 8 key-value heads of 128, vocabulary
151 936, tied embeddings) from random weights, saves it as a local HF directory (safetensors), then loads it the
way a ``model: {path: ..., quantization: 4bit}`` config does (:func:`helixmoe.models.base.load_base`: NF4 +
double quantisation, ``prepare_model_for_kbit_training``), adds a LoRA adapter with the built-in defaults
(r=16, alpha=32, the seven projections) and trains it with the project's Trainer (:class:`HelixTrainer`,
:func:`build_training_arguments`: bf16 on CUDA). It prints, side by side with the published HLX MoE figures
(6.2 GB peak memory, 4.8k tokens/s on an 8 GB consumer GPU):

* seconds per optimizer step and training tokens/s (every token of every row counts: rows are full length);
* peak GPU memory (``torch.cuda.max_memory_allocated`` and ``max_memory_reserved``) over the training steps;
* the base's 4-bit footprint and the adapter's trainable parameters.

Weights are random, so the loss is meaningless; only time and memory are measured. Rows are random token ids
of ``--seq-len`` tokens (the throughput of a real corpus batch of that length).

    python benchmarks/bench_qlora.py                      # needs CUDA + bitsandbytes; ~2 min on one H200
    python benchmarks/bench_qlora.py --shape tiny --device cpu --steps 3   # the same path on CPU (wiring check)
    python benchmarks/bench_qlora.py --json out.json --batch-size 8 --seq-len 512

Without CUDA the 1.7B shape is not attempted: the script says so and exits 0 (``make bench`` runs it).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

#: Qwen3-1.7B's published architecture (its ``config.json``), built here with random weights.
QWEN3_1_7B: dict[str, Any] = dict(
    vocab_size=151_936,
    hidden_size=2048,
    intermediate_size=6144,
    num_hidden_layers=28,
    num_attention_heads=16,
    num_key_value_heads=8,
    head_dim=128,
    max_position_embeddings=40_960,
    rope_parameters={"rope_theta": 1_000_000.0, "rope_type": "default"},
    tie_word_embeddings=True,
    rms_norm_eps=1e-6,
)
#: The same architecture at a size a CPU runs in seconds (the wiring check and the test).
TINY: dict[str, Any] = QWEN3_1_7B | {
    "vocab_size": 1024,
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "head_dim": 16,
    "max_position_embeddings": 512,
}
SHAPES = {"qwen3-1.7b": QWEN3_1_7B, "tiny": TINY}
#: Published HLX MoE training figures (Qwen3-1.7B QLoRA on an 8 GB consumer GPU).
PUBLISHED = {"peak_memory_gb": 6.2, "tokens_per_s": 4800.0}


class _RandomRows:
    """``n`` rows of ``length`` random token ids, labels = inputs (every position trains)."""

    def __init__(self, n: int, length: int, vocab: int, seed: int = 0) -> None:
        import torch

        generator = torch.Generator().manual_seed(seed)
        self.ids = torch.randint(3, vocab, (n, length), generator=generator)

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    def __getitem__(self, i: int) -> dict[str, Any]:
        row = self.ids[i]
        return {"input_ids": row, "attention_mask": row.new_ones(row.shape), "labels": row.clone()}


def build_random_base(shape: dict[str, Any], directory: Path, device: str) -> int:
    """Save a randomly initialised Qwen3 causal LM of ``shape`` (bf16 on CUDA) to ``directory``; its parameters."""
    import torch
    from transformers import Qwen3Config, Qwen3ForCausalLM

    config = Qwen3Config(pad_token_id=0, eos_token_id=1, bos_token_id=None, **shape)
    dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
    torch.manual_seed(0)
    with torch.device(device):
        model = Qwen3ForCausalLM(config).to(dtype)
    n = sum(p.numel() for p in model.parameters())
    model.save_pretrained(str(directory), safe_serialization=True)
    del model
    if device.startswith("cuda"):
        torch.cuda.empty_cache()
    return n


def run(shape_name: str, device: str, steps: int, batch_size: int, seq_len: int) -> dict[str, Any]:
    """Build, quantise, add LoRA, train ``steps`` steps; the measured figures."""
    import torch
    from peft import get_peft_model

    from helixmoe.config import LoRAConfig, load_config
    from helixmoe.config.training import PhaseConfig
    from helixmoe.models.base import load_base
    from helixmoe.models.experts import lora_to_peft, wrapping_quietly
    from helixmoe.training.arguments import build_training_arguments
    from helixmoe.training.harness import HelixTrainer

    shape = SHAPES[shape_name]
    cuda = device.startswith("cuda")
    figures: dict[str, Any] = {"shape": shape_name, "device": device, "batch_size": batch_size}
    figures["seq_len"] = seq_len
    with tempfile.TemporaryDirectory() as tmp:
        base_dir = Path(tmp) / "base"
        started = time.perf_counter()
        figures["base_params"] = build_random_base(shape, base_dir, device)
        figures["build_and_save_s"] = time.perf_counter() - started
        started = time.perf_counter()
        base = load_base(base_dir, quantization="4bit", device=device, for_training=True)
        figures["load_4bit_s"] = time.perf_counter() - started
        figures["base_4bit_gb"] = base.get_memory_footprint() / 1e9
        with wrapping_quietly():
            model = get_peft_model(base, lora_to_peft(LoRAConfig()))
        figures["trainable_params"] = sum(p.numel() for p in model.parameters() if p.requires_grad)
        cfg = load_config(Path(__file__).resolve().parents[1] / "configs" / "hlx-tiny.yaml")
        training = cfg.training.model_copy(update={"progress_bars": False, "report_to": []})
        warmup = 2
        phase = PhaseConfig(  # rows are all one length: nothing to group
            max_steps=steps + warmup, batch_size=batch_size, lr=1e-4, warmup_ratio=0.0, group_by_length=False
        )
        data = _RandomRows((steps + warmup) * batch_size, seq_len, shape["vocab_size"])
        args = build_training_arguments(training, phase, Path(tmp) / "run", has_eval=False, exact_match=False)
        args.save_strategy = "no"
        step_times: list[float] = []

        from transformers import TrainerCallback

        class _Clock(TrainerCallback):  # type: ignore[misc]
            def on_step_begin(self, *a: Any, **k: Any) -> None:
                if cuda:
                    torch.cuda.synchronize()
                self.start = time.perf_counter()

            def on_step_end(self, *a: Any, **k: Any) -> None:
                if cuda:
                    torch.cuda.synchronize()
                step_times.append(time.perf_counter() - self.start)
                if len(step_times) == warmup and cuda:
                    torch.cuda.reset_peak_memory_stats()

        trainer = HelixTrainer(model=model, args=args, train_dataset=data, callbacks=[_Clock()])
        if cuda:
            torch.cuda.reset_peak_memory_stats()
        trainer.train()
        timed = step_times[warmup:]
        figures["step_s"] = sum(timed) / len(timed)
        figures["tokens_per_s"] = batch_size * seq_len / figures["step_s"]
        figures["bf16"] = bool(args.bf16)
        # transformers 5.25 renamed is_gradient_checkpointing (now deprecated) to is_activation_checkpointing
        renamed = hasattr(type(base), "is_activation_checkpointing")
        checked = "is_activation_checkpointing" if renamed else "is_gradient_checkpointing"
        figures["gradient_checkpointing"] = bool(getattr(base, checked, False))
        if cuda:
            figures["peak_allocated_gb"] = torch.cuda.max_memory_allocated() / 1e9
            figures["peak_reserved_gb"] = torch.cuda.max_memory_reserved() / 1e9
            figures["gpu"] = torch.cuda.get_device_name()
    return figures


def report(figures: dict[str, Any]) -> str:
    """The printed table: measured figures beside the published ones."""
    lines = [
        f"QLoRA, {figures['shape']} shape ({figures['base_params'] / 1e6:.1f}M parameters, random weights), "
        f"{figures['device']}{' (' + figures['gpu'] + ')' if 'gpu' in figures else ''}, "
        f"batch {figures['batch_size']} x {figures['seq_len']} tokens, bf16 {figures['bf16']}, "
        f"gradient checkpointing {figures['gradient_checkpointing']}",
        f"  base in 4 bit: {figures['base_4bit_gb']:.2f} GB; LoRA trainable parameters "
        f"{figures['trainable_params'] / 1e6:.2f}M; build+save {figures['build_and_save_s']:.1f} s, "
        f"4-bit load {figures['load_4bit_s']:.1f} s",
        f"  step {figures['step_s'] * 1000:.1f} ms -> {figures['tokens_per_s']:,.0f} tokens/s "
        f"(published: {PUBLISHED['tokens_per_s']:,.0f} tokens/s on an 8 GB consumer GPU)",
    ]
    if "peak_allocated_gb" in figures:
        lines.append(
            f"  peak GPU memory: {figures['peak_allocated_gb']:.2f} GB allocated, "
            f"{figures['peak_reserved_gb']:.2f} GB reserved (published: {PUBLISHED['peak_memory_gb']} GB)"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--shape", choices=sorted(SHAPES), default="qwen3-1.7b")
    parser.add_argument("--device", default="cuda", help="cuda, cuda:N or cpu (default: cuda)")
    parser.add_argument("--steps", type=int, default=10, help="timed optimizer steps (after 2 warm-up steps)")
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--seq-len", type=int, default=512)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)

    import torch

    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print(
            "bench_qlora: no CUDA device here, so the Qwen3-1.7B-shaped QLoRA benchmark was not run "
            "(`--shape tiny --device cpu` runs the same path on CPU)."
        )
        return 0
    try:
        import bitsandbytes  # noqa: F401
    except ImportError:
        print("bench_qlora: bitsandbytes is not installed (pip install 'helixmoe[quant]'); nothing measured.")
        return 0
    figures = run(args.shape, args.device, args.steps, args.batch_size, args.seq_len)
    print(report(figures))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
