"""Does the copy warm-up learn inside the HF Trainer? Three batch orders, side by side.

A diagnostic (not in ``make bench``: about 8 minutes on one core). It trains the same fresh tiny base three
times on the same random-string copy examples (:func:`helixmoe.training.copy_warmup.copy_pairs`) with the
pipeline's own pieces (``EncodedDataset``, ``build_training_arguments``), and prints the training loss every
``--every`` steps, the first step whose logged loss reaches ``--target`` (copying has formed) and the time:

* ``hf-grouped``: plain ``transformers.Trainer`` with ``group_by_length`` (HF ``LengthGroupedSampler``: each
  mega-batch of 50 batches runs from the longest examples to the shortest);
* ``grouped``: ``HelixTrainer`` with ``group_by_length`` (the same groups, batches in random order);
* ``random``: ``HelixTrainer`` with randomly mixed batches (more padding).

    python benchmarks/bench_copy_warmup.py --steps 900 --max-tokens 32
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any


def run(variant: str, args: argparse.Namespace, tokenizer: Any, pairs: list[Any]) -> dict[str, Any]:
    from transformers import Trainer

    from helixmoe.config.training import PhaseConfig, TrainingConfig
    from helixmoe.models.base import build_base
    from helixmoe.training.arguments import build_training_arguments
    from helixmoe.training.data import EncodedDataset, make_collator
    from helixmoe.training.harness import HelixTrainer

    model = build_base("tiny", tokenizer, max_seq_len=512, seed=0)
    data = EncodedDataset(tokenizer, pairs, max_len=512, response_only=True)
    training = TrainingConfig(
        group_by_length=variant != "random", logging_steps=args.every, progress_bars=False
    )
    phase = PhaseConfig(
        max_steps=args.steps, batch_size=16, lr=args.lr, scheduler="constant_with_warmup", warmup_ratio=0.05
    )
    with tempfile.TemporaryDirectory() as tmp:
        targs = build_training_arguments(training, phase, Path(tmp), has_eval=False, exact_match=False)
        targs.save_strategy = "no"
        trainer_class = Trainer if variant == "hf-grouped" else HelixTrainer
        trainer = trainer_class(
            model=model, args=targs, train_dataset=data, data_collator=make_collator(tokenizer)
        )
        started = time.monotonic()
        trainer.train()
        seconds = time.monotonic() - started
    losses = {r["step"]: round(r["loss"], 3) for r in trainer.state.log_history if "loss" in r}
    reached = next((step for step, loss in losses.items() if loss <= args.target), None)
    return {"losses": losses, "reached_target_at": reached, "seconds": round(seconds, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--steps", type=int, default=900)
    parser.add_argument("--max-tokens", type=int, default=32, help="longest random string, in tokens")
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--every", type=int, default=50, help="log the loss every N steps")
    parser.add_argument(
        "--target", type=float, default=0.3, help="the loss at which copying counts as formed"
    )
    args = parser.parse_args()

    import torch

    from helixmoe.models.tokenizer import train_tokenizer
    from helixmoe.tasks import generate
    from helixmoe.training.copy_warmup import copy_pairs

    torch.set_num_threads(1)
    examples = generate(3000, seed=1, split="train")
    tokenizer = train_tokenizer([t for e in examples for t in (e.prompt, e.response)], "bpe", 1024)
    pairs = copy_pairs(tokenizer, 20000, 4, args.max_tokens, seed=0)
    variants = ("hf-grouped", "grouped", "random")
    results = {variant: run(variant, args, tokenizer, pairs) for variant in variants}
    print(f"{'step':>6}" + "".join(f"{v:>12}" for v in variants))
    for step in sorted(results["random"]["losses"]):
        print(
            f"{step:>6}" + "".join(f"{results[v]['losses'].get(step, float('nan')):>12.3f}" for v in variants)
        )
    print(json.dumps({"settings": vars(args)} | {k: {**v, "losses": None} for k, v in results.items()}))


if __name__ == "__main__":
    main()
