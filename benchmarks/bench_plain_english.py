"""Requests written by hand, not by the task generator: routing, intent and answers of a trained system.

The generated ``test`` and ``ood`` splits are phrased from the same template bank the routers were fitted on
(``ood`` with held-out templates and wrappers), so 100 % routing there says little about requests people write.
``benchmarks/data/plain_english.jsonl`` holds requests written independently of that bank (by someone who read
the HLX spec, not the templates): casual, terse and verbose, informal notation names ("runes", "the ascii wire
format", "hex bytes"), values first or last. Each is labelled with its expert and task
(:func:`helixmoe.tasks.task_label`), and value requests with the value (canonical HLXL) and notations, so the
reference answer is the oracle's. Half the lines are ``dev`` (read them when changing phrasings or features),
half ``test`` (the figures to report; do not tune on them).

Side by side on the same requests: the published keyword rules, the system's classifier stage and its router,
the intent model's task; for the value requests, exact match of the model's own answer as routed, with the right
expert pinned (a perfect router), and the final answer under ``--verify retry``.

    python benchmarks/bench_plain_english.py                     # the built-in system, test half
    python benchmarks/bench_plain_english.py --system DIR --split all --show
    python benchmarks/bench_plain_english.py --corpus out.jsonl  # the value requests as a corpus file, for
                                                                 # helixmoe eval --split out.jsonl
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path
from typing import Any

from helixmoe import hlx, tasks
from helixmoe.routing import KeywordRouter
from helixmoe.tasks.base import make_meta
from helixmoe.tasks.hlx_families import multi_response

DATA = Path(__file__).resolve().parent / "data" / "plain_english.jsonl"
#: kinds whose answer is a value (or several) the oracle writes
VALUE_KINDS = ("convert", "parse", "translate", "canonicalise", "multi")
#: the corpus split each half becomes in ``--corpus`` (corpus files use the task splits)
CORPUS_SPLIT = {"dev": "val", "test": "test"}


def load_requests(path: Path = DATA) -> list[dict[str, Any]]:
    """The hand-written requests, one JSON object per line (see the module docstring for the keys)."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def reference(item: dict[str, Any]) -> str:
    """The oracle's answer to a value request: one value in ``dst``, or ``NAME: text`` lines for ``multi``."""
    value = hlx.loads(item["value"], "hlxl")
    if item["kind"] == "multi":
        return multi_response(value, item["dst"].split(","))
    return str(hlx.dumps(value, item["dst"]))


def as_example(item: dict[str, Any], index: int) -> tasks.Example:
    """A value request as a corpus example, graded by its family (``helixmoe eval --split FILE`` reads these)."""
    meta = make_meta(
        kind=item["kind"],
        src=item["src"],
        dst=item["dst"],
        value=item["value"],
        template="hand",
        wrapper="plain",
    )
    return tasks.Example(
        id=f"plain-{index:03d}",
        family=item["kind"],
        expert=item["expert"],
        prompt=item["prompt"],
        response=reference(item),
        split=CORPUS_SPLIT[item["split"]],
        meta=meta,
    )


def _share(hits: list[bool]) -> str:
    return f"{sum(hits) / len(hits):7.1%} ({sum(hits)}/{len(hits)})" if hits else "      -"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--system", type=Path, default=None, help="a trained system (default: the built-in one)"
    )
    parser.add_argument("--split", choices=("test", "dev", "all"), default="test")
    parser.add_argument("--data", type=Path, default=DATA, help="the requests file")
    parser.add_argument("--show", action="store_true", help="print every misrouted or mislabelled request")
    parser.add_argument(
        "--corpus", type=Path, help="write the value requests as a corpus JSONL file and stop"
    )
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)

    items = [i for i in load_requests(args.data) if args.split == "all" or i["split"] == args.split]
    values = [(n, i) for n, i in enumerate(items) if i["kind"] in VALUE_KINDS]
    if args.corpus is not None:
        tasks.write_corpus(args.corpus, [as_example(i, n) for n, i in values])
        print(f"wrote {len(values)} value requests to {args.corpus}")
        return 0

    from helixmoe.cli.quiet import quiet_model_loading
    from helixmoe.system import HelixMoE

    quiet_model_loading()
    moe = HelixMoE.load(args.system, cache_size=0, verify="flag")
    items = [i for i in items if i["expert"] in moe.experts]
    values = [(n, i) for n, i in enumerate(items) if i["kind"] in VALUE_KINDS]
    routers: dict[str, Any] = {"keyword (published rules)": KeywordRouter(experts=moe.experts)}
    if getattr(moe.router, "first", None) is not None:
        routers["classifier"] = moe.router.first
    routers[f"{moe.router.kind} (system)"] = moe.router

    figures: dict[str, Any] = {"requests": len(items), "value_requests": len(values), "split": args.split}
    print(f"{len(items)} hand-written requests ({args.split}), {len(values)} with a value answer\n")
    print(f"{'':34} {'right':>18}")
    wrong: list[str] = []
    for name, router in routers.items():
        hits = []
        for item in items:
            got = router.route(item["prompt"]).expert
            hits.append(got == item["expert"])
            if got != item["expert"] and args.show and "system" in name:
                wrong.append(f"route  {got:<11} want {item['expert']:<11} {item['prompt'][:90]!r}")
        figures[name] = sum(hits) / len(hits)
        print(f"{name:<34} {_share(hits):>18}")
    if moe.verifier.intent is not None:
        hits = []
        for item in items:
            got = moe.verifier.task(item["prompt"]) or "none"
            hits.append(got == item["task"])
            if got != item["task"] and args.show:
                wrong.append(f"task   {got:<11} want {item['task']:<11} {item['prompt'][:90]!r}")
        figures["intent (task)"] = sum(hits) / len(hits)
        print(f"{'intent model (task)':<34} {_share(hits):>18}")

    prompts = [i["prompt"] for _, i in values]
    refs = [reference(i) for _, i in values]
    routed = moe.batch(prompts, verify="flag")
    pinned = moe.batch(prompts, experts=[i["expert"] for _, i in values], verify="off")
    retried = moe.batch(prompts, verify="retry")
    rows = {
        "model answer, as routed": [a.model_text == r for a, r in zip(routed, refs)],
        "model answer, right expert pinned": [a.model_text == r for a, r in zip(pinned, refs)],
        "final answer, --verify retry": [a.text == r for a, r in zip(retried, refs)],
    }
    print("\nvalue requests: exact match (oracle reference)")
    for name, hits in rows.items():
        figures[name] = sum(hits) / len(hits) if hits else None
        print(f"{name:<34} {_share(hits):>18}")
    kinds = Counter(i["kind"] for _, i in values)
    by_kind = {
        k: [h for (_, i), h in zip(values, rows["model answer, as routed"]) if i["kind"] == k] for k in kinds
    }
    print(
        "  per kind, as routed: " + ", ".join(f"{k} {_share(h).strip()}" for k, h in sorted(by_kind.items()))
    )
    if wrong:
        print("\n" + "\n".join(wrong))
    if args.json is not None:
        args.json.write_text(json.dumps(figures, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
