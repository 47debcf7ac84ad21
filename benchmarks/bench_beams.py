"""Greedy decoding vs beam search: model-only exact match of a system's experts, side by side in one run.

Every item is answered by its own expert with its own task hint (oracle routing and intent, as
``reports/exact_match.json``), decoded freely (no grammar: HF beam search reorders its rows every step, which the
grammar processors cannot follow), three ways:

* ``greedy``: the system's decoder (:func:`helixmoe.models.decoding.greedy_decode`);
* ``hf-greedy``: HF ``generate`` with one beam (checks that the two engines give the same answers);
* ``beams-N``: HF ``generate`` beam search with ``N`` beams (length-normalised scores, HF's defaults).

Items: the system's committed report items (``reports/eval-test`` and ``reports/eval-ood``), or ``--items FILE``
(corpus JSONL, repeatable; ``--limit N`` takes the first ``N`` of each expert). Prints exact matches per split and
expert, and each way's time relative to greedy.

    python benchmarks/bench_beams.py [--system DIR] [--items FILE ...] [--limit N] [--expert NAME ...]
                                     [--beams 4] [--threads 2] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from helixmoe.tasks import Example, grade


def _items(paths: list[Path]) -> dict[str, list[Example]]:
    out: dict[str, list[Example]] = {}
    for path in paths:
        rows = [Example.from_dict(json.loads(line)) for line in path.read_text().splitlines() if line.strip()]
        out[path.parent.name if path.name == "examples.jsonl" else path.stem] = rows
    return out


def _ways(pool: Any, beams: int) -> dict[str, Callable[[list[list[int]], str, int], list[list[int]]]]:
    def greedy(ids: list[list[int]], expert: str, cap: int) -> list[list[int]]:
        return pool.generate_ids(ids, [expert] * len(ids), cap, batch_size=32)  # type: ignore[no-any-return]

    def hf(n: int) -> Callable[[list[list[int]], str, int], list[list[int]]]:
        def run(ids: list[list[int]], expert: str, cap: int) -> list[list[int]]:
            options = {"num_beams": n} if n > 1 else {"use_cache": True}  # any HF option selects HF generate
            return pool.generate_ids(ids, [expert] * len(ids), cap, batch_size=16, **options)  # type: ignore[no-any-return]

        return run

    return {"greedy": greedy, "hf-greedy": hf(1), f"beams-{beams}": hf(beams)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--system", type=Path, default=None, help="system directory (default: built-in)")
    parser.add_argument(
        "--items", type=Path, action="append", help="corpus JSONL (default: the report items)"
    )
    parser.add_argument("--limit", type=int, default=None, help="at most this many items per expert and file")
    parser.add_argument("--expert", action="append", help="only these experts (repeatable; default: all)")
    parser.add_argument("--beams", type=int, default=4, help="beams of the beam search (default 4)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()

    import torch

    from helixmoe.models.layout import load_system
    from helixmoe.models.template import encode_request
    from helixmoe.system import default_system_path
    from helixmoe.training.stages import model_prompt

    if args.threads:
        torch.set_num_threads(args.threads)
    root = args.system or default_system_path()
    paths = args.items or [root / "reports" / f"eval-{s}" / "examples.jsonl" for s in ("test", "ood")]
    loaded = load_system(root)
    pool, style = loaded.pool, loaded.config.training.prompt_style
    ways = _ways(pool, args.beams)
    figures: dict[str, Any] = {}
    print(f"system {root}; free decoding, each item's own expert and task hint")
    for split, examples in _items(paths).items():
        for expert in sorted({e.expert for e in examples} & set(args.expert or pool.names)):
            mine = [e for e in examples if e.expert == expert][: args.limit]
            ids = [encode_request(pool.tokenizer, model_prompt(e, style), None).ids for e in mine]
            cap = 16 + max(
                len(pool.tokenizer(e.response, add_special_tokens=False)["input_ids"]) for e in mine
            )
            row: dict[str, Any] = {"n": len(mine)}
            for way, decode in ways.items():
                start = time.perf_counter()
                out = decode(ids, expert, cap)
                seconds = time.perf_counter() - start
                answers = [pool.tokenizer.decode(r, skip_special_tokens=True) for r in out]
                row[way] = {
                    "exact": sum(grade(e, a).exact for e, a in zip(mine, answers, strict=True)),
                    "seconds": round(seconds, 2),
                }
            figures[f"{split}/{expert}"] = row
            cells = "  ".join(
                f"{w} {row[w]['exact']}/{row['n']} ({row[w]['seconds'] / row['greedy']['seconds']:.1f}x)"
                for w in ways
            )
            print(f"{split:>10} {expert:<12} {cells}")
    totals = {w: sum(r[w]["exact"] for r in figures.values()) for w in ways}
    n = sum(r["n"] for r in figures.values())
    print("all: " + "  ".join(f"{w} {totals[w]}/{n} ({totals[w] / n:.1%})" for w in ways))
    if args.json:
        args.json.write_text(
            json.dumps({"system": str(root), "beams": args.beams, "rows": figures}, indent=2)
        )


if __name__ == "__main__":
    main()
