"""Corpus generation speed: examples per second of ``build_corpus`` (what ``helixmoe corpus build`` runs).

    .venv/bin/python benchmarks/bench_corpus.py --size 1000000
    .venv/bin/python benchmarks/bench_corpus.py --size 100000 --families convert,parse --per-family

Prints the total rate, the output size, and (``--per-family``) the generation rate of each family alone.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from helixmoe import tasks


def _dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.glob("*.jsonl"))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", type=int, default=100_000, help="examples in the corpus (all splits)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--families", default=None, help="comma-separated family names (default: all)")
    parser.add_argument("--out", type=Path, default=None, help="keep the corpus here (default: a temp dir)")
    parser.add_argument("--per-family", action="store_true", help="also time 5000 train examples per family")
    args = parser.parse_args()
    families = args.families.split(",") if args.families else None

    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or Path(tmp)
        start = time.perf_counter()
        tasks.build_corpus(out, args.size, args.seed, families)
        elapsed = time.perf_counter() - start
        mib = _dir_size(out) / 2**20
        print(
            f"corpus build: {args.size} examples in {elapsed:.1f} s = {args.size / elapsed:,.0f} examples/s "
            f"({mib:.1f} MiB of JSONL)"
        )
    if args.per_family:
        for name in families or [n for n in tasks.list_families() if tasks.get_family(n).weight > 0]:
            start = time.perf_counter()
            tasks.generate(5000, args.seed, [name], "train")
            rate = 5000 / (time.perf_counter() - start)
            print(f"  {name:<13} {rate:>9,.0f} examples/s (train split, generation only)")


if __name__ == "__main__":
    main()
