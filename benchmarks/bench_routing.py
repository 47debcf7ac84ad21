"""Routing benchmark: accuracy of each router on the test and ood phrasings, and decision latency.

Fits the classifier router (and its cascade threshold) on a generated corpus exactly as the ``router``
training stage does, then measures, side by side on the same prompts: the keyword baseline (the
published HLX MoE rules), the classifier, and the cascade — plus the coordinator stage when a trained
system is given (``--system DIR``, which routes with that system's own saved routers instead).

    python benchmarks/bench_routing.py                 # fit on 50k generated prompts, ~1-2 min on 2 cores
    python benchmarks/bench_routing.py --quick         # 10k prompts
    python benchmarks/bench_routing.py --system DIR    # a trained system's routers (coordinator included)
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from helixmoe import tasks
from helixmoe.routing import KeywordRouter, load_router
from helixmoe.routing.train import train_routers


def _latency_ms(router: Any, prompts: list[str]) -> tuple[float, float]:
    times = []
    for p in prompts:
        start = time.perf_counter()
        router.route(p)
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(0.99 * len(times)))]


def _accuracy(router: Any, examples: list[Any]) -> float:
    return sum(router.route(e.prompt).expert == e.expert for e in examples) / len(examples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fit on 10k prompts instead of 50k")
    parser.add_argument("--system", type=Path, help="use this trained system's routers")
    parser.add_argument("--n", type=int, default=2000, help="test and ood prompts each")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()

    test = tasks.generate(args.n, seed=1003, split="test")
    ood = tasks.generate(args.n, seed=1004, split="ood")
    routers: dict[str, Any] = {"keyword (published rules)": KeywordRouter(experts=list(tasks.EXPERTS))}
    fit_seconds = None
    if args.system is not None:
        from helixmoe.system import HelixMoE

        moe = HelixMoE.load(args.system, cache_size=0)
        saved = moe.router
        if getattr(saved, "first", None) is not None:
            routers["classifier"] = saved.first
        routers[f"{saved.kind} (system)"] = saved
    else:
        size = 10_000 if args.quick else 50_000
        train = tasks.generate(size, seed=1001, split="train")
        val = tasks.generate(max(1000, size // 10), seed=1002, split="val")
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            metrics = train_routers(train, val, tmp, coordinator=False)
            fit_seconds = time.perf_counter() - start
            cascade = load_router(tmp)
        routers["classifier"] = cascade.first
        routers["cascade (classifier → abstain)"] = cascade
        print(f"fitted on {size} prompts in {fit_seconds:.1f} s; cascade threshold {metrics['cascade_threshold']:.3f}")

    rows = []
    for name, router in routers.items():
        p50, p99 = _latency_ms(router, [e.prompt for e in test[:1000]])
        rows.append({"router": name, "test": _accuracy(router, test), "ood": _accuracy(router, ood),
                     "p50_ms": p50, "p99_ms": p99})
    print(f"\n{'router':<34} {'test acc':>9} {'ood acc':>9} {'p50 ms':>8} {'p99 ms':>8}")
    for r in rows:
        print(f"{r['router']:<34} {r['test']:>9.2%} {r['ood']:>9.2%} {r['p50_ms']:>8.3f} {r['p99_ms']:>8.3f}")
    print(f"\n{args.n} test and {args.n} ood prompts; targets: cascade ≥ 99% on both, classifier p99 < 1 ms.")
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "fit_seconds": fit_seconds}, indent=1))


if __name__ == "__main__":
    main()
