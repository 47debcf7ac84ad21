"""How fast does a from-scratch base learn one slice of the HLX tasks? (a diagnostic, not in ``make bench``)

Trains a fresh base (``--size``, tokenizer ``--scheme``) on one slice of generated examples for a fixed
CPU-time budget, then grades greedy answers on the test and ood splits by exact match, per family and
target notation. ``--framed`` replaces each prompt by the compact ``<src> -> <dst>`` frame plus the value's
canonical text, to separate "understand the English request" from "transduce the value".

    python benchmarks/bench_learnability.py --families convert --dst lc-r --expert runic --seconds 600
    python benchmarks/bench_learnability.py --families convert,parse,translate --expert ascii --framed
    python benchmarks/bench_learnability.py --families convert --dst lc-r --framed --copy-warmup 600
    python benchmarks/bench_learnability.py --families convert --dst lc-r --framed --aligned

``--aligned`` (with ``--framed``) gives each answer the position ids of the framed value
(``training.aligned_positions``, :func:`helixmoe.models.template.encode_request`) and decodes with the
system's decoder, which honours them.

A plain torch loop rather than HF ``Trainer``: the budget is CPU seconds (``time.process_time``, so a
shared machine's load does not change how much the model sees) and nothing is checkpointed. The failing
answers go to ``--failures FILE`` (JSON) for inspection.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import time
from collections import Counter
from pathlib import Path
from typing import Any


def frame(example: Any, framed: bool) -> str:
    """The prompt the model reads: the user's text, or the compact frame of a value task."""
    from helixmoe import hlx

    meta = example.meta
    if not framed or meta.get("src") is None or meta.get("value") is None:
        return str(example.prompt)
    value = hlx.loads(meta["value"], "hlxl")
    out = hlx.dumps(value, meta["src"])
    text = out.hex() if isinstance(out, bytes) else out
    return f"{meta['kind']} {meta['src']} -> {meta['dst']}\n{text}"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--families", default="convert", help="comma-separated task families")
    parser.add_argument("--expert", default="runic", help="the expert whose examples to draw")
    parser.add_argument("--dst", default="", help="keep only these target notations (comma-separated)")
    parser.add_argument("--framed", action="store_true", help="compact frames instead of English prompts")
    parser.add_argument("--scheme", default="bpe", choices=["bpe", "char"])
    parser.add_argument("--size", default="tiny")
    parser.add_argument(
        "--shape",
        type=json.loads,
        default=None,
        help="shape overrides as JSON, e.g. '{\"num_hidden_layers\": 2}'",
    )
    parser.add_argument("--seconds", type=float, default=240.0, help="CPU seconds of training")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--examples", type=int, default=20000)
    parser.add_argument(
        "--batches", default="sorted", choices=["sorted", "random"], help="similar-length or mixed batches"
    )
    parser.add_argument(
        "--copy-warmup", type=int, default=0, help="first train this many steps on random-string copying"
    )
    parser.add_argument("--aligned", action="store_true", help="answers take the framed value's positions")
    parser.add_argument("--failures", type=Path, help="write the wrong answers here (JSON)")
    args = parser.parse_args()
    if args.aligned and not args.framed:
        parser.error("--aligned needs --framed (positions align to the framed value)")

    import torch

    from helixmoe.models.base import build_base
    from helixmoe.models.decoding import greedy_decode
    from helixmoe.models.template import encode_example, encode_request
    from helixmoe.models.tokenizer import train_tokenizer
    from helixmoe.tasks import generate

    torch.set_num_threads(1)
    torch.manual_seed(0)
    families = args.families.split(",")
    wanted = set(args.dst.split(",")) if args.dst else None

    def draw(n: int, seed: int, split: str) -> list[Any]:
        examples = generate(n, seed=seed, families=families, split=split, experts=[args.expert])
        return [e for e in examples if wanted is None or e.meta.get("dst") in wanted]

    train = draw(args.examples, 1, "train")
    pairs = [(frame(e, args.framed), e.response) for e in train]
    tok = train_tokenizer([t for p in pairs[:5000] for t in p], scheme=args.scheme, vocab_size=1024)
    model = build_base(args.size, tok, max_seq_len=1024, shape=args.shape)

    def value_at(prompt: str, aligned: bool = args.aligned) -> int | None:
        return prompt.index("\n") + 1 if aligned and "\n" in prompt else None

    def positions(enc: Any) -> list[int]:
        return enc.position_ids or list(range(len(enc.input_ids)))

    rows = []
    for prompt, response in pairs:
        enc = encode_example(tok, prompt, response, max_length=1024, value_at=value_at(prompt))
        rows.append((enc.input_ids, enc.labels, positions(enc)))
    if args.batches == "sorted":
        rows.sort(key=lambda r: len(r[0]))  # batches of similar length (little padding)
    else:
        random.Random(5).shuffle(rows)
    copy_rows = []
    if args.copy_warmup:
        from helixmoe.training.copy_warmup import copy_pairs

        for pair in copy_pairs(tok, 20000, seed=0):
            at = 0 if args.aligned else None
            enc = encode_example(tok, pair.prompt, pair.response, max_length=1024, value_at=at)
            copy_rows.append((enc.input_ids, enc.labels, positions(enc)))
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.0)
    rng = random.Random(0)
    start, steps = time.process_time(), 0
    model.train()
    while (used := time.process_time() - start) < args.seconds:
        lr = args.lr * min(1.0, (steps + 1) / 100) * 0.5 * (1 + math.cos(math.pi * used / args.seconds))
        for group in opt.param_groups:
            group["lr"] = lr
        source = copy_rows if steps < args.copy_warmup else rows
        first = rng.randrange(0, max(1, len(source) - args.batch_size))
        batch = source[first : first + args.batch_size]
        width = max(len(r[0]) for r in batch)
        ids = torch.tensor([r[0] + [tok.pad_token_id] * (width - len(r[0])) for r in batch])
        labels = torch.tensor([r[1] + [-100] * (width - len(r[1])) for r in batch])
        mask = torch.tensor([[1] * len(r[0]) + [0] * (width - len(r[0])) for r in batch])
        pos = torch.tensor(
            [r[2] + list(range(r[2][-1] + 1, r[2][-1] + 1 + width - len(r[2]))) for r in batch]
        )
        loss = model(input_ids=ids, attention_mask=mask, labels=labels, position_ids=pos).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad()
        steps += 1

    model.eval()
    failures: list[dict[str, str]] = []
    results: dict[str, Any] = {}
    for split, seed in (("test", 2), ("ood", 3)):
        examples = draw(300, seed, split)[:200]
        hits: Counter[str] = Counter()
        totals: Counter[str] = Counter()
        for i in range(0, len(examples), 32):
            chunk = examples[i : i + 32]
            requests = [encode_request(tok, p, value_at(p)) for p in (frame(e, args.framed) for e in chunk)]
            new = greedy_decode(
                model,
                [r.ids for r in requests],
                [256] * len(requests),
                eos_token_id=tok.eos_token_id,
                pad_token_id=tok.pad_token_id,
                first_positions=[r.answer_position for r in requests],
            )
            answers = [tok.decode(row, skip_special_tokens=True) for row in new]
            for e, answer in zip(chunk, answers):
                key = f"{e.family}:{e.meta.get('dst')}"
                totals[key] += 1
                if answer.strip() == e.response.strip():
                    hits[key] += 1
                else:
                    failures.append(
                        {"split": split, "prompt": frame(e, args.framed), "ref": e.response, "got": answer}
                    )
        total = sum(totals.values())
        results[split] = {
            "exact_match": round(sum(hits.values()) / max(1, total), 4),
            "n": total,
            "per_slice": {k: f"{hits[k]}/{totals[k]}" for k in sorted(totals)},
        }
    if args.failures:
        args.failures.write_text(json.dumps(failures, ensure_ascii=False, indent=1), encoding="utf-8")
    print(
        json.dumps(
            {"settings": vars(args) | {"failures": str(args.failures)}, "steps": steps, **results}, indent=2
        )
    )


if __name__ == "__main__":
    main()
