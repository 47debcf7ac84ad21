"""End-to-end system benchmark: query latency, mixed-expert batching, constrained decoding cost.

On one trained system directory (default: the built-in system), side by side in one run:

* ``query`` latency p50/p95 for short conversions, one request at a time (target p50 < 50 ms on CPU);
* 16 mixed-expert requests as one ``batch`` vs 16 sequential ``query`` calls (target >= 3x throughput), for
  ``--batches`` batches of test requests (one long answer sets a batch's length, so one batch is a noisy figure),
  with the generation engine of :mod:`helixmoe.models.decoding` (rows leave the batch when they stop) and,
  for comparison, HF ``generate`` (every row steps until the last one stops);
* the bound on that ratio for these 16 requests: decoding steps of all rows / steps of the longest row
  (a batch cannot take fewer steps than its longest row), and the same bound weighted by what one decoding
  step costs at each batch size, measured here (``step_costs``): the step's cost grows with the rows still
  in the batch, so the step-count bound holds only where a step costs the same whatever the batch;
* the same batch with grammar-constrained decoding vs without (cost ratio).

    python benchmarks/bench_system.py [--system DIR] [--n 48] [--threads N] [--batches 4] [--json out.json]
"""

from __future__ import annotations

import argparse
import contextlib
import inspect
import json
import statistics
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from helixmoe import tasks

SHORT = [
    "Convert to LC-R: [1, 2, 3]",
    "Convert to LC-T: {a: 1}",
    "Convert to LC-R: null",
    "Convert to LC-T: [true, false]",
    "What is 15 + 27?",
    "Convert to LC-R: {14: {@0: 42}}",
]


def _time(fn: Callable[[], Any], repeats: int = 3) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


@contextlib.contextmanager
def hf_generate(pool: Any) -> Iterator[None]:
    """Run the pool's generation through HF ``generate`` (the engine before ``greedy_decode``).

    ``ExpertPool.generate_ids`` hands any extra HF ``generate`` argument to HF ``generate``; ``use_cache=True``
    is its default there, so it only selects the engine.
    """
    plain = pool.generate_ids

    def generate_ids(rows: Any, experts: Any, max_new_tokens: Any = 128, **kwargs: Any) -> Any:
        return plain(rows, experts, max_new_tokens, use_cache=True, **kwargs)

    pool.generate_ids = generate_ids
    try:
        yield
    finally:
        del pool.generate_ids


def step_costs(moe: Any, sizes: tuple[int, ...] = (1, 2, 4, 8, 16), steps: int = 60) -> dict[int, float]:
    """Seconds per decoding step (one new token per row, a 48-token cache, mixed experts) per batch size."""
    import torch

    from helixmoe.models.decoding import _cache_argument, _inner
    from helixmoe.models.kv_cache import new_cache
    from helixmoe.models.row_adapters import StackedLoRA, row_adapters

    model = moe.pool.model
    inner = _inner(model)
    names = list(moe.pool.names)
    arg = _cache_argument(inspect.signature(inner.forward).parameters)
    costs = {}
    with torch.inference_mode():
        for b in sizes:
            rows = [names[i % len(names)] for i in range(b)]
            with row_adapters(model, rows, StackedLoRA.of(model)):
                cache = new_cache(inner.config)  # the engine's own cache (its layers grow in place)
                inner(input_ids=torch.full((b, 48), 5), use_cache=True, **{arg: cache})
                token, position = torch.full((b, 1), 5), torch.full((b, 1), 48)
                start = time.perf_counter()
                for i in range(steps):
                    inner(input_ids=token, position_ids=position + i, use_cache=True, **{arg: cache})
                costs[b] = (time.perf_counter() - start) / steps
    return costs


def cost_bound(row_steps: list[int], costs: dict[int, float]) -> float:
    """Sequential cost / batch cost when every step costs ``costs`` at its number of live rows (interpolated)."""
    sizes = sorted(costs)

    def cost(b: int) -> float:
        above = next((s for s in sizes if s >= b), sizes[-1])
        below = max((s for s in sizes if s <= b), default=sizes[0])
        if above == below:
            return costs[above]
        return costs[below] + (costs[above] - costs[below]) * (b - below) / (above - below)

    batch = sum(cost(sum(1 for n in row_steps if n > t)) for t in range(max(row_steps)))
    return sum(row_steps) * cost(1) / batch


def step_bound(moe: Any, prompts: list[str]) -> list[int]:
    """Decoding steps of each row as ``batch`` runs them, unconstrained."""
    from helixmoe.models.template import encode_prompt

    tok = moe.pool.tokenizer
    rows = [encode_prompt(tok, moe.model_prompt(p)) for p in prompts]
    experts = [moe.route(p).expert for p in prompts]
    caps = [moe.token_limit(len(r), e) for r, e in zip(rows, experts)]
    out = moe.pool.generate_ids(rows, experts, caps)
    return [len(o) + (len(o) < cap) for o, cap in zip(out, caps)]  # + the EOS step of rows that stopped


def batch_ratio(moe: Any, prompts: list[str]) -> dict[str, float]:
    sequential = _time(lambda: [moe.query(p) for p in prompts])
    batched = _time(lambda: moe.batch(prompts, batch_size=len(prompts)))
    return {"sequential_s": sequential, "batch_s": batched, "speedup": sequential / batched}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--system", type=Path, default=None, help="system directory (default: built-in)")
    parser.add_argument("--n", type=int, default=48, help="single queries timed for the latency percentiles")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument(
        "--batches", type=int, default=4, help="batches of 16 test requests timed (seeds 7, 8, ...)"
    )
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()

    import torch

    from helixmoe.system import HelixMoE

    if args.threads:
        torch.set_num_threads(args.threads)
    # free decoding as the baseline whatever the system's serving.constrained: the grammar's cost is measured apart
    moe = HelixMoE.load(args.system, verify="flag", cache_size=0, constrained=False)
    moe.query(SHORT[0])  # warm-up

    latencies = []
    for i in range(args.n):
        start = time.perf_counter()
        moe.query(SHORT[i % len(SHORT)])
        latencies.append((time.perf_counter() - start) * 1000)
    latencies.sort()
    p50 = statistics.median(latencies)
    p95 = latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))]

    costs = step_costs(moe)
    batches = []  # one dict per batch of 16 test prompts (seeds 7, 8, ...)
    for seed in range(7, 7 + args.batches):
        prompts = [e.prompt for e in tasks.generate(16, seed=seed, split="test")]
        row_steps = step_bound(moe, prompts)
        batches.append(
            {
                "seed": seed,
                "prompts": prompts,
                "experts": sorted({moe.route(p).expert for p in prompts}),
                "row_steps": row_steps,
                "weighted": cost_bound(row_steps, costs),
                "decode": batch_ratio(moe, prompts),
            }
        )
    first = batches[0]
    prompts, experts, row_steps = first["prompts"], first["experts"], first["row_steps"]
    total_steps, longest = sum(row_steps), max(row_steps)
    weighted, decode = first["weighted"], first["decode"]
    with hf_generate(moe.pool):
        hf = batch_ratio(moe, prompts)
    constrained = _time(lambda: moe.batch(prompts, batch_size=16, constrained=True))
    sequential_all = sum(b["decode"]["sequential_s"] for b in batches)
    batch_all = sum(b["decode"]["batch_s"] for b in batches)
    steps_all = sum(sum(b["row_steps"]) for b in batches)
    longest_all = sum(max(b["row_steps"]) for b in batches)
    figures = {
        "query_p50_ms": p50,
        "query_p95_ms": p95,
        "sequential_16_s": decode["sequential_s"],
        "batch_16_s": decode["batch_s"],
        "batch_speedup": decode["speedup"],
        "hf_generate_sequential_16_s": hf["sequential_s"],
        "hf_generate_batch_16_s": hf["batch_s"],
        "hf_generate_batch_speedup": hf["speedup"],
        "decoding_steps_all_rows": total_steps,
        "decoding_steps_longest_row": longest,
        "speedup_bound": total_steps / longest,
        "step_ms_by_batch_size": {b: c * 1000 for b, c in costs.items()},
        "speedup_bound_cost_weighted": weighted,
        "batches": [
            {
                "seed": b["seed"],
                "sequential_s": b["decode"]["sequential_s"],
                "batch_s": b["decode"]["batch_s"],
                "speedup": b["decode"]["speedup"],
                "decoding_steps_all_rows": sum(b["row_steps"]),
                "decoding_steps_longest_row": max(b["row_steps"]),
                "speedup_bound_cost_weighted": b["weighted"],
            }
            for b in batches
        ],
        "all_batches_speedup": sequential_all / batch_all,
        "all_batches_speedup_bound": steps_all / longest_all,
        "constrained_batch_16_s": constrained,
        "constrained_cost": constrained / decode["batch_s"],
        "experts_in_batch": experts,
        "threads": torch.get_num_threads(),
    }
    print(f"system: {moe.root}  (torch threads: {torch.get_num_threads()})")
    print(f"query latency, short conversions: p50 {p50:.1f} ms, p95 {p95:.1f} ms   (target p50 < 50 ms)")
    print(f"16 mixed requests ({', '.join(experts)}), sequential query calls vs one batch:   (target >= 3x)")
    for name, r in (("greedy_decode (rows leave when done)", decode), ("HF generate (before)", hf)):
        print(
            f"  {name:38s} sequential {r['sequential_s']:.2f} s, batch {r['batch_s']:.2f} s "
            f"-> {r['speedup']:.2f}x throughput"
        )
    print(
        f"  bound for these requests: {total_steps} decoding steps in all / {longest} in the longest row "
        f"= {total_steps / longest:.2f}x"
    )
    per_size = ", ".join(f"{b}: {c * 1000:.2f}" for b, c in costs.items())
    print(f"  one decoding step (ms) by rows in the batch: {per_size}")
    print(f"  bound weighted by those step costs: {weighted:.2f}x")
    if len(batches) > 1:
        print(
            f"{len(batches)} batches of 16 test requests (seeds {batches[0]['seed']}-{batches[-1]['seed']}):"
        )
        for b in batches:
            print(
                f"  seed {b['seed']}: sequential {b['decode']['sequential_s']:.2f} s, batch "
                f"{b['decode']['batch_s']:.2f} s -> {b['decode']['speedup']:.2f}x "
                f"(bound {sum(b['row_steps']) / max(b['row_steps']):.2f}x by steps, {b['weighted']:.2f}x by cost)"
            )
        print(
            f"  all together: {sequential_all / batch_all:.2f}x throughput "
            f"(bound {steps_all / longest_all:.2f}x by steps)"
        )
    print(
        f"same batch, grammar-constrained: {constrained:.2f} s -> "
        f"{constrained / decode['batch_s']:.2f}x the unconstrained time"
    )
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
