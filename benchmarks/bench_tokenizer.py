"""Tokenizer schemes side by side on the generated corpus: sequence length, speed, coverage.

Trains each scheme (``char``; byte-level ``bpe`` and HLX-aware ``hlx`` at several vocabulary sizes) on the train split of
``helixmoe.tasks`` and measures, on the test and ood splits, tokens per templated example (prompt +
response + EOS), response tokens, characters per token, <unk> rate, lossless round trips, encode speed
(batch and one-by-one) and the embedding parameters the vocabulary costs a ``tiny`` base. Exact-match
accuracy needs trained models: ``--probe-seconds S`` trains a seeded ``tiny`` base from scratch for S
seconds per candidate scheme (``char``, ``bpe-1024``, ``hlx-1024``) on the ``convert`` family (a plain AdamW loop with loss on the response only: a
fixed-time probe, not the training pipeline) and reports greedy exact match on test examples graded by
the task oracle.

Run: ``.venv/bin/python benchmarks/bench_tokenizer.py [--train 3000] [--eval 1000] [--probe-seconds 0]``
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable
from typing import Any

from helixmoe import tasks
from helixmoe.models.base import BASE_SIZES, build_base
from helixmoe.models.experts import ExpertPool
from helixmoe.models.template import IGNORE_INDEX, encode_example
from helixmoe.models.tokenizer import train_tokenizer

SCHEMES: list[tuple[str, int]] = [
    ("char", 0),
    ("bpe", 512),
    ("bpe", 1024),
    ("bpe", 4096),
    ("hlx", 1024),
    ("hlx", 2048),
]
#: The candidate defaults that get the (costly) accuracy probe.
PROBED = ("char", "bpe-1024", "hlx-1024")


def _best_of(fn: Callable[[], Any], repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def measure(tokenizer: Any, examples: list[tasks.Example]) -> dict[str, float]:
    """Length, coverage and speed figures of one tokenizer on one split."""
    encoded = [encode_example(tokenizer, e.prompt, e.response) for e in examples]
    totals = [len(x.input_ids) for x in encoded]
    responses = [len(x.input_ids) - x.prompt_length for x in encoded]
    texts = [e.prompt + e.response for e in examples]
    all_ids = [i for x in encoded for i in x.input_ids]
    lossless = sum(tokenizer.decode(tokenizer.encode(t, add_special_tokens=False)) == t for t in texts)
    batch_s = _best_of(lambda: tokenizer(texts, add_special_tokens=False))
    single_s = _best_of(lambda: [tokenizer.encode(t, add_special_tokens=False) for t in texts])
    return {
        "mean_tokens": statistics.fmean(totals),
        "p95_tokens": sorted(totals)[int(0.95 * (len(totals) - 1))],
        "max_tokens": max(totals),
        "mean_response": statistics.fmean(responses),
        # three template tokens (user, assistant, eos) carry no text
        "chars_per_token": sum(map(len, texts)) / sum(len(x.input_ids) - 3 for x in encoded),
        "unk_rate": all_ids.count(tokenizer.unk_token_id) / len(all_ids),
        "lossless": lossless / len(texts),
        "batch_ex_per_s": len(texts) / batch_s,
        "single_ex_per_s": len(texts) / single_s,
    }


def probe_accuracy(tokenizer: Any, seconds: float, seed: int, n_test: int = 100) -> dict[str, float]:
    """Train a tiny base for ``seconds`` on ``convert`` examples, then greedy exact match on the test split."""
    import torch

    torch.set_num_threads(1)
    train = tasks.generate(20_000, seed, families=["convert"], split="train")
    encoded = [encode_example(tokenizer, e.prompt, e.response) for e in train]
    encoded = [x for x in encoded if len(x.input_ids) <= 160]
    model = build_base("tiny", tokenizer, max_seq_len=512, seed=seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=0.0)
    rng, pad = random.Random(seed), tokenizer.pad_token_id
    model.train()
    steps, tokens, start = 0, 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        batch = rng.sample(encoded, 16)
        width = max(len(x.input_ids) for x in batch)
        ids = torch.tensor([x.input_ids + [pad] * (width - len(x.input_ids)) for x in batch])  # (B, T)
        labels = torch.tensor([x.labels + [IGNORE_INDEX] * (width - len(x.labels)) for x in batch])  # (B, T)
        loss = model(
            input_ids=ids, attention_mask=(labels != IGNORE_INDEX) | (ids != pad), labels=labels
        ).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        steps, tokens = steps + 1, tokens + int(ids.numel())
    test = tasks.generate(n_test, seed + 7, families=["convert"], split="test")
    nats_per_char = _response_nats_per_char(model, tokenizer, test)
    pool = ExpertPool(model, tokenizer)
    answers = pool.generate([e.prompt for e in test], [None] * len(test), max_new_tokens=160, batch_size=25)
    exact = sum(tasks.grade(e, a).exact for e, a in zip(test, answers, strict=True))
    return {
        "steps": steps,
        "tokens_per_s": tokens / seconds,
        "nats_per_char": nats_per_char,
        "exact": exact / len(test),
    }


def _response_nats_per_char(model: Any, tokenizer: Any, examples: list[tasks.Example]) -> float:
    """Held-out response NLL per character (+1 for EOS): comparable across tokenizers, unlike per-token loss."""
    import torch

    model.eval()
    total, chars = 0.0, 0
    with torch.no_grad():
        for e in examples:
            x = encode_example(tokenizer, e.prompt, e.response)
            n = sum(label != IGNORE_INDEX for label in x.labels)  # the loss is the mean over these tokens
            loss = model(input_ids=torch.tensor([x.input_ids]), labels=torch.tensor([x.labels])).loss
            total += loss.item() * max(n, 1)
            chars += len(e.response) + 1
    return total / chars


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=int, default=3000, help="training examples for the tokenizers")
    parser.add_argument("--eval", type=int, default=1000, help="examples per evaluation split")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--probe-seconds", type=float, default=0.0, help="accuracy probe budget per scheme")
    args = parser.parse_args()
    train = tasks.generate(args.train, args.seed, split="train")
    corpus = [t for e in train for t in (e.prompt, e.response)]
    splits = {s: tasks.generate(args.eval, args.seed + 1, split=s) for s in ("test", "ood")}
    hidden = BASE_SIZES["tiny"]["hidden_size"]
    print(
        f"corpus: {args.train} train examples ({sum(map(len, corpus))} chars), {args.eval} per eval split\n"
    )
    print(
        "| scheme | vocab | train s | split | mean tok | p95 | max | resp tok | chars/tok | unk | lossless "
        "| batch ex/s | single ex/s | tiny emb params |"
    )
    print("|" + " --- |" * 14)
    probes: dict[str, dict[str, float]] = {}
    for scheme, vocab in SCHEMES:
        start = time.perf_counter()
        tok = train_tokenizer(corpus, scheme, vocab_size=vocab or 1024, min_frequency=2)
        train_s = time.perf_counter() - start
        name = scheme if scheme == "char" else f"{scheme}-{vocab}"
        for split, examples in splits.items():
            m = measure(tok, examples)
            print(
                f"| {name} | {len(tok)} | {train_s:.2f} | {split} | {m['mean_tokens']:.1f} | {m['p95_tokens']} "
                f"| {m['max_tokens']} | {m['mean_response']:.1f} | {m['chars_per_token']:.2f} "
                f"| {m['unk_rate']:.4f} | {m['lossless']:.3f} | {m['batch_ex_per_s']:.0f} "
                f"| {m['single_ex_per_s']:.0f} | {len(tok) * hidden} |"
            )
        if args.probe_seconds > 0 and name in PROBED:
            probes[name] = probe_accuracy(tok, args.probe_seconds, args.seed)
    if probes:
        print(
            f"\naccuracy probe: tiny base, {args.probe_seconds:.0f} s of training per scheme, convert family"
        )
        print("| scheme | steps | train tokens/s | test response nats/char | test exact match |")
        print("| --- | --- | --- | --- | --- |")
        for name, p in probes.items():
            print(
                f"| {name} | {p['steps']} | {p['tokens_per_s']:.0f} | {p['nats_per_char']:.3f} | {p['exact']:.2%} |"
            )


if __name__ == "__main__":
    main()
