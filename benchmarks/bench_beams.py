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

from helixmoe.tasks import grade, load_corpus

#: ``decode(prompts, expert, cap) -> answers``: one expert's answers to its model prompts.
Decode = Callable[[list[str], str, int], list[str]]


def _ways(pool: Any, beams: int) -> dict[str, Decode]:
    """The pool's own generation three ways: its greedy decoder, HF ``generate`` (any HF option selects it)
    with one beam, and with ``beams``."""

    def way(batch_size: int, **options: Any) -> Decode:
        def run(prompts: list[str], expert: str, cap: int) -> list[str]:
            experts = [expert] * len(prompts)
            return pool.generate(prompts, experts, cap, batch_size=batch_size, **options)  # type: ignore[no-any-return]

        return run

    return {
        "greedy": way(32),
        "hf-greedy": way(16, use_cache=True),
        f"beams-{beams}": way(16, num_beams=beams),
    }


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
    for path in paths:
        split = path.parent.name if path.name == "examples.jsonl" else path.stem
        examples = load_corpus(path)
        for expert in sorted({e.expert for e in examples} & set(args.expert or pool.names)):
            mine = [e for e in examples if e.expert == expert][: args.limit]
            prompts = [model_prompt(e, style) for e in mine]
            cap = 16 + max(
                len(pool.tokenizer(e.response, add_special_tokens=False)["input_ids"]) for e in mine
            )
            row: dict[str, Any] = {"n": len(mine)}
            for way, decode in ways.items():
                start = time.perf_counter()
                answers = decode(prompts, expert, cap)
                seconds = time.perf_counter() - start
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
