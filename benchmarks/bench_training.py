"""Training benchmark: CPU tokens/s (tiny base, LoRA), whole tiny pipeline wall time, exact match per expert.

Usage::

    python benchmarks/bench_training.py                       # tokens/s of the tiny base and of LoRA, fp32 and
                                                              # bf16 autocast side by side, and with logits at
                                                              # every position vs labelled ones only (~2 min)
    python benchmarks/bench_training.py --full                # + the whole pipeline of configs/hlx-tiny.yaml
    python benchmarks/bench_training.py --system systems/hlx-tiny   # exact match of an existing system only
    python benchmarks/bench_training.py --system DIR --bare-base    # + the same slices answered by the bare base

Tokens/s counts real (non-padding) tokens of the training batches over the Trainer's ``train_runtime``.
Exact match is each expert on its own slice of the ``test`` and ``ood`` splits (oracle routing), graded by
the task families. Every figure printed is measured by this script on the machine it runs on.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def _throughput(threads: int, steps: int, batch_size: int) -> dict[str, dict[str, float]]:
    """Tokens/s of the configured base and of LoRA on it, in fp32 and in bf16 autocast (``"fp32"``, ``"bf16"``),
    and, with answer-only labels (the built-in config's base and experts), the loss's vocabulary projection
    over every position (HF's forward) vs the labelled positions only (``"labelled_logits"``); the optimizer step
    (``"optimizer_step"``). The corpus and tokenizer are built once and shared by all runs."""
    import torch
    from peft import get_peft_model

    from helixmoe.config import LoRAConfig, load_config
    from helixmoe.config.training import PhaseConfig
    from helixmoe.models.base import build_base
    from helixmoe.models.experts import lora_to_peft, wrapping_quietly
    from helixmoe.models.tokenizer import train_tokenizer
    from helixmoe.tasks import generate
    from helixmoe.training.arguments import build_training_arguments
    from helixmoe.training.data import EncodedDataset, TextPair, make_collator
    from helixmoe.training.harness import HelixTrainer

    torch.set_num_threads(threads)
    cfg = load_config(REPO / "configs" / "hlx-tiny.yaml")
    examples = generate(steps * batch_size, 0, None, "train", experts=list(cfg.experts))
    texts = [t for e in examples for t in (e.prompt, e.response)]
    tok = train_tokenizer(texts, cfg.tokenizer.scheme, cfg.tokenizer.vocab_size)
    pairs = [TextPair(e.prompt, e.response) for e in examples]
    phase = PhaseConfig(max_steps=steps, batch_size=batch_size, lr=1e-3)

    def run(kind: str, precision: str, response_only: bool, labelled_only: bool = True) -> dict[str, float]:
        training = cfg.training.model_copy(
            update={"progress_bars": False, "report_to": [], "bf16": "on" if precision == "bf16" else "off"}
        )
        model = build_base(cfg.model.size or "tiny", tok, cfg.model.max_seq_len, 0, cfg.model.shape)
        if kind == "lora":
            with wrapping_quietly():
                model = get_peft_model(model, lora_to_peft(cfg.lora if cfg.lora else LoRAConfig()))
        data = EncodedDataset(
            tok, pairs, max_len=cfg.model.max_seq_len, response_only=response_only, skip_long=True
        )
        with tempfile.TemporaryDirectory() as tmp:
            args = build_training_arguments(training, phase, tmp, has_eval=False, exact_match=False)
            args.save_strategy = "no"
            trainer = HelixTrainer(
                model=model, args=args, train_dataset=data, data_collator=make_collator(tok)
            )
            trainer.labelled_logits_only = labelled_only
            result = trainer.train()
        tokens = (
            data.num_tokens / len(data) * batch_size * steps
        )  # mean real tokens per example x examples seen
        return {
            "tokens_per_s": tokens / result.metrics["train_runtime"],
            "params_trainable": sum(p.numel() for p in model.parameters() if p.requires_grad),
        }

    results: dict[str, dict[str, float]] = {}
    for precision in ("fp32", "bf16"):
        out: dict[str, float] = {}
        for kind in ("base", "lora"):
            got = run(kind, precision, response_only=kind == "lora")
            out[f"{kind}_tokens_per_s"] = got["tokens_per_s"]
            out[f"{kind}_params_trainable"] = got["params_trainable"]
        results[precision] = out
    labelled: dict[str, float] = {}
    for kind in ("base", "lora"):
        runs: dict[bool, list[float]] = {False: [], True: []}
        for rep in range(3):  # alternating, median: drift on a shared machine falls on both
            for labelled_only in (False, True) if rep % 2 == 0 else (True, False):
                got = run(kind, "fp32", response_only=True, labelled_only=labelled_only)
                runs[labelled_only].append(got["tokens_per_s"])
        for labelled_only, rates in runs.items():
            labelled[f"{kind}_{'labelled' if labelled_only else 'all'}_tokens_per_s"] = statistics.median(
                rates
            )
    results["labelled_logits"] = labelled
    results["optimizer_step"] = _optimizer_step(cfg, tok)
    return results


def _optimizer_step(cfg: Any, tok: Any, repeats: int = 100) -> dict[str, float]:
    """Milliseconds per AdamW step on the configured base's parameters (random gradients): torch's per-tensor
    loop (``adamw_torch``) vs its fused kernel (``adamw_torch_fused``, the default ``training.fused_adamw``)."""
    import torch

    from helixmoe.models.base import build_base

    times: dict[str, list[float]] = {"loop": [], "fused": []}
    for rep in range(3):  # alternating
        for kind in ("loop", "fused") if rep % 2 == 0 else ("fused", "loop"):
            model = build_base(cfg.model.size or "tiny", tok, cfg.model.max_seq_len, 0, cfg.model.shape)
            fused = {"fused": True} if kind == "fused" else {"foreach": False}
            optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, **fused)  # type: ignore[arg-type]
            for p in model.parameters():
                p.grad = torch.randn_like(p)
            for _ in range(5):
                optimizer.step()
            start = time.perf_counter()
            for _ in range(repeats):
                optimizer.step()
            times[kind].append((time.perf_counter() - start) / repeats * 1000)
    return {f"{kind}_ms": statistics.median(t) for kind, t in times.items()}


def _full(config: Path, output: Path, overrides: list[str], eval_limit: int) -> dict[str, object]:
    from helixmoe.config import load_config
    from helixmoe.training.pipeline import train_system

    cfg = load_config(config, overrides)
    started = time.perf_counter()
    summary = train_system(cfg, output, final_eval_limit=eval_limit)
    return {
        "pipeline_wall_s": time.perf_counter() - started,
        "exact_match": summary.get("exact_match"),
        "stages": summary["stages"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads for the throughput runs")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--full", action="store_true", help="also train the whole tiny pipeline and grade it")
    parser.add_argument("--config", type=Path, default=REPO / "configs" / "hlx-tiny.yaml")
    parser.add_argument("--output", type=Path, default=REPO / "systems" / "bench-hlx-tiny")
    parser.add_argument("--system", type=Path, help="only grade this existing system directory")
    parser.add_argument("--eval-limit", type=int, default=200)
    parser.add_argument(
        "--bare-base", action="store_true", help="with --system: also grade the base without adapters"
    )
    parser.add_argument("overrides", nargs="*", help="dotted config overrides for --full")
    args = parser.parse_args(argv)

    from helixmoe.training.report import evaluate_experts, format_table

    results: dict[str, object] = {}
    if args.system is not None:
        corpus = args.system / ".train" / "corpus"
        results["exact_match"] = evaluate_experts(args.system, corpus, limit=args.eval_limit)
        if args.bare_base:
            bare = evaluate_experts(args.system, corpus, limit=args.eval_limit, bare_base=True)
            results["exact_match_bare_base"] = bare
            print("each expert's slice answered by its adapter vs by the bare base (no adapter)")
            print("| expert | split | adapter | bare base |")
            print("| --- | --- | --- | --- |")
            for name, per in results["exact_match"].items():  # type: ignore[union-attr]
                for split, got in per.items():
                    print(
                        f"| {name} | {split} | {got['exact_match']:.1%} "
                        f"| {bare[name][split]['exact_match']:.1%} |"
                    )
    else:
        measured = _throughput(args.threads, args.steps, args.batch_size)
        fp32, bf16 = measured["fp32"], measured["bf16"]
        results["throughput"] = fp32
        results["throughput_bf16_autocast"] = bf16
        print(
            f"training throughput, {args.threads} torch thread(s), batch {args.batch_size}, {args.steps} steps"
        )
        print("| model | fp32 tokens/s | bf16 autocast tokens/s | bf16 / fp32 |")
        print("| --- | --- | --- | --- |")
        for kind in ("base", "lora"):
            a, b = fp32[f"{kind}_tokens_per_s"], bf16[f"{kind}_tokens_per_s"]
            print(f"| {kind} | {a:.0f} | {b:.0f} | {b / a:.2f}x |")
        steps = measured["optimizer_step"]
        results["optimizer_step"] = steps
        print(
            f"\none AdamW step of the base (median of 3 alternating runs): per-tensor loop {steps['loop_ms']:.2f} ms, "
            f"fused {steps['fused_ms']:.2f} ms ({steps['fused_ms'] / steps['loop_ms']:.2f}x)"
        )
        labelled = measured["labelled_logits"]
        results["labelled_logits"] = labelled
        print(
            "\nanswer-only labels, fp32: the loss's vocabulary projection at every position vs labelled ones only"
        )
        print("| model | every position tokens/s | labelled logits only tokens/s | ratio |")
        print("| --- | --- | --- | --- |")
        for kind in ("base", "lora"):
            a, b = labelled[f"{kind}_all_tokens_per_s"], labelled[f"{kind}_labelled_tokens_per_s"]
            print(f"| {kind} | {a:.0f} | {b:.0f} | {b / a:.2f}x |")
        if args.full:
            results.update(_full(args.config, args.output, args.overrides, args.eval_limit))
            print(f"pipeline wall time: {results['pipeline_wall_s']:.0f} s")
    if results.get("exact_match"):
        print(format_table(results["exact_match"]))  # type: ignore[arg-type]
    print(json.dumps(results, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
