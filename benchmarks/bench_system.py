"""End-to-end system benchmark: query latency, mixed-expert batching, constrained decoding cost.

On one trained system directory (default: the built-in system), side by side in one run:

* ``query`` latency p50/p95 for short conversions, one request at a time (target p50 < 50 ms on CPU);
* 16 mixed-expert requests as one ``batch`` vs 16 sequential ``query`` calls (target ≥ 3× throughput);
* the same batch with grammar-constrained decoding vs without (cost ratio).

    python benchmarks/bench_system.py [--system DIR] [--n 48] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from helixmoe import tasks

SHORT = [
    "Convert to LC-R: [1, 2, 3]",
    "Convert to LC-T: {a: 1}",
    "Convert to LC-R: null",
    "Convert to LC-T: [true, false]",
    "What is 15 + 27?",
    "Convert to LC-R: {14: {@0: 42}}",
]


def _time(fn, repeats: int = 3) -> float:  # type: ignore[no-untyped-def]
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--system", type=Path, default=None, help="system directory (default: built-in)")
    parser.add_argument("--n", type=int, default=48, help="single queries timed for the latency percentiles")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()

    import torch

    from helixmoe.system import HelixMoE

    if args.threads:
        torch.set_num_threads(args.threads)
    moe = HelixMoE.load(args.system, verify="flag", cache_size=0)
    moe.query(SHORT[0])  # warm-up

    latencies = []
    for i in range(args.n):
        start = time.perf_counter()
        moe.query(SHORT[i % len(SHORT)])
        latencies.append((time.perf_counter() - start) * 1000)
    latencies.sort()
    p50 = statistics.median(latencies)
    p95 = latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))]

    prompts = [e.prompt for e in tasks.generate(16, seed=7, split="test")]
    experts = sorted({moe.route(p).expert for p in prompts})
    sequential = _time(lambda: [moe.query(p) for p in prompts])
    batched = _time(lambda: moe.batch(prompts, batch_size=16))
    constrained = _time(lambda: moe.batch(prompts, batch_size=16, constrained=True))
    figures = {
        "query_p50_ms": p50,
        "query_p95_ms": p95,
        "sequential_16_s": sequential,
        "batch_16_s": batched,
        "batch_speedup": sequential / batched,
        "constrained_batch_16_s": constrained,
        "constrained_cost": constrained / batched,
        "experts_in_batch": experts,
        "threads": torch.get_num_threads(),
    }
    print(f"system: {moe.root}  (torch threads: {torch.get_num_threads()})")
    print(f"query latency, short conversions: p50 {p50:.1f} ms, p95 {p95:.1f} ms   (target p50 < 50 ms)")
    print(
        f"16 mixed requests ({', '.join(experts)}): sequential {sequential:.2f} s, one batch {batched:.2f} s "
        f"-> {sequential / batched:.2f}x throughput   (target >= 3x)"
    )
    print(
        f"same batch, grammar-constrained: {constrained:.2f} s -> {constrained / batched:.2f}x the unconstrained time"
    )
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
