"""Benchmark of the token-level MoE-LoRA (issue 6); prints tables and writes JSON.

Two parts:

``kernels`` — forward+backward time of the routed low-rank update (router included, base excluded) for the
three implementations of :mod:`helixmoe.moe.layer`: the ``loop`` reference, ``sorted`` (sort by expert,
bmm, index_add) and ``dense`` (combine-weight matmuls), and the speed ratios loop/sorted and loop/dense.

``compare`` — on one pretrained tiny base and the same mixed-domain corpus, with the same wall-clock
training budget and the same trainable size:

* ``moe``    token-level MoE-LoRA (N experts, top-k, rank r) in the MLPs of the last L layers;
* ``routed`` one PEFT LoRA per domain (rank N·r/D, the budget split across domains), each request sent to
  its own domain's adapter (oracle routing: an upper bound for a request router);
* ``dense``  one PEFT LoRA of rank N·r on the same projections.

It reports exact match per domain (graded by the task oracle on the corpus test split), the held-out
response loss, training tokens/s (non-padding tokens through forward+backward+step) and greedy inference
tokens/s (generated tokens over ``generate`` time). The base comes from ``--system`` (a directory written by ``helixmoe train``
or ``helixmoe train-moe``: ``tokenizer/``, ``base/``, ``.train/corpus/``).

Usage::

    .venv/bin/python benchmarks/bench_moe.py kernels
    .venv/bin/python benchmarks/bench_moe.py compare --system systems/moe-tiny --budget 120
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from pathlib import Path
from typing import Any

import torch
from torch import nn

from helixmoe.moe import (
    IMPLEMENTATIONS,
    LoRAExpertBank,
    MoEConfig,
    TopKRouter,
    calibrate_routers,
    collect_aux_losses,
    inject_moe_lora,
    moe_parameters,
)
from helixmoe.training.moe_data import DomainDataset, DomainExample, corpus_examples, domain_collator
from helixmoe.training.moe_report import grade_example

TARGETS = ["gate_proj", "up_proj", "down_proj"]


# --------------------------------------------------------------------------- kernels
def time_kernel(impl: str, tokens: int, din: int, dout: int, n: int, k: int, r: int, reps: int) -> float:
    """Median seconds of router + routed update, forward and backward."""
    torch.manual_seed(0)
    router = TopKRouter(dim=din, num_experts=n, top_k=k)
    bank = LoRAExpertBank(in_features=din, out_features=dout, num_experts=n, rank=r)
    nn.init.normal_(bank.B)
    x = torch.randn(tokens, din, requires_grad=True)
    fn = IMPLEMENTATIONS[impl]
    times = []
    for _ in range(reps + 1):
        start = time.perf_counter()
        fn(x, router(x), bank).sum().backward()
        times.append(time.perf_counter() - start)
    return statistics.median(times[1:])


def kernels(args: argparse.Namespace) -> dict[str, Any]:
    shapes = [
        (512, 256, 688, 4, 2, 16),
        (2048, 256, 688, 4, 2, 16),
        (2048, 256, 688, 8, 2, 16),
        (2048, 1024, 2752, 4, 2, 16),
        (2048, 1024, 2752, 16, 2, 16),
    ]
    rows = []
    print(f"threads={torch.get_num_threads()} reps={args.reps} (median of forward+backward, ms)")
    print("| tokens | in→out | N | k | r | loop | sorted | dense | loop/sorted | loop/dense |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for t, din, dout, n, k, r in shapes:
        ms = {
            impl: 1e3 * time_kernel(impl, t, din, dout, n, k, r, args.reps)
            for impl in ("loop", "sorted", "dense")
        }
        row = {
            "tokens": t,
            "in": din,
            "out": dout,
            "N": n,
            "k": k,
            "r": r,
            **ms,
            "loop/sorted": ms["loop"] / ms["sorted"],
            "loop/dense": ms["loop"] / ms["dense"],
        }
        rows.append(row)
        print(
            f"| {t} | {din}→{dout} | {n} | {k} | {r} | {ms['loop']:.1f} | {ms['sorted']:.1f} | {ms['dense']:.1f} "
            f"| {row['loop/sorted']:.2f} | {row['loop/dense']:.2f} |"
        )
    return {"threads": torch.get_num_threads(), "reps": args.reps, "rows": rows}


# --------------------------------------------------------------------------- compare
def load_system(system: Path) -> tuple[Any, list[DomainExample], list[DomainExample], list[str]]:
    from helixmoe.models.tokenizer import load_tokenizer
    from helixmoe.tasks import load_corpus

    tokenizer = load_tokenizer(system / "tokenizer")
    train = corpus_examples(load_corpus(system / ".train" / "corpus" / "train.jsonl"))
    test = corpus_examples(load_corpus(system / ".train" / "corpus" / "test.jsonl"))
    return tokenizer, train, test, sorted({e.domain for e in train})


def fresh_base(system: Path) -> Any:
    from helixmoe.models.base import load_base

    torch.manual_seed(0)
    return load_base(system / "base")


def batches(dataset: DomainDataset, collate: Any, batch_size: int, seed: int):
    """Endless shuffled batches."""
    rng = random.Random(seed)
    order = list(range(len(dataset)))
    while True:
        rng.shuffle(order)
        for i in range(0, len(order) - batch_size + 1, batch_size):
            yield collate([dataset[j] for j in order[i : i + batch_size]])


def train_for(
    model: Any,
    params: list[nn.Parameter],
    stream: Any,
    budget_s: float,
    lr: float,
    aux: MoEConfig | None = None,
) -> dict[str, float]:
    """Train until ``budget_s`` wall-clock seconds; returns steps, non-pad tokens, seconds, last loss."""
    opt = torch.optim.AdamW(params, lr=lr)
    model.train()
    steps, tokens, losses, start = 0, 0, [], time.perf_counter()
    while time.perf_counter() - start < budget_s:
        batch = next(stream)
        domains = batch.pop("domain")
        loss = model(**batch).loss
        losses.append(loss.item())
        if aux is not None:
            loss = (
                loss
                + collect_aux_losses(
                    model,
                    balance_coef=aux.balance_coef,
                    z_coef=aux.z_coef,
                    attention_mask=batch["attention_mask"],
                ).total
            )
        del domains
        loss.backward()
        opt.step()
        opt.zero_grad()
        steps += 1
        tokens += int(batch["attention_mask"].sum())
    seconds = time.perf_counter() - start
    return {"steps": steps, "tokens": tokens, "seconds": seconds, "last_loss": statistics.mean(losses[-10:])}


@torch.no_grad()
def generate(
    model: Any, tokenizer: Any, examples: list[DomainExample], batch_size: int
) -> tuple[list[bool], int, float]:
    """Greedy answers graded by the oracle; returns (hits, generated non-pad tokens, seconds)."""
    from helixmoe.models.template import render_prompt

    model.eval()
    hits, new_tokens, seconds = [], 0, 0.0
    max_new = max(len(tokenizer(e.response, add_special_tokens=False)["input_ids"]) for e in examples) + 8
    tokenizer.padding_side = "left"
    for i in range(0, len(examples), batch_size):
        chunk = examples[i : i + batch_size]
        enc = tokenizer(
            [render_prompt(e.prompt) for e in chunk],
            return_tensors="pt",
            padding=True,
            add_special_tokens=False,
        )
        start = time.perf_counter()
        out = model.generate(
            **enc,
            max_new_tokens=max_new,
            do_sample=False,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
        )
        seconds += time.perf_counter() - start
        new = out[:, enc["input_ids"].shape[1] :]  # (B, T_new)
        new_tokens += int((new != tokenizer.pad_token_id).sum())
        preds = tokenizer.batch_decode(new, skip_special_tokens=True)
        hits += [grade_example(e, p) for e, p in zip(chunk, preds)]
    tokenizer.padding_side = "right"
    return hits, new_tokens, seconds


def peft_lora(model: Any, rank: int, layers: list[int], names: list[str]) -> Any:
    from peft import LoraConfig, get_peft_model

    cfg = LoraConfig(
        r=rank, lora_alpha=2 * rank, lora_dropout=0.0, target_modules=TARGETS, layers_to_transform=layers
    )
    model = get_peft_model(model, cfg, adapter_name=names[0])
    for name in names[1:]:
        model.add_adapter(name, cfg)
    return model


@torch.no_grad()
def heldout_loss(
    model: Any, tokenizer: Any, items: list[DomainExample], domains: list[str], batch_size: int
) -> float:
    """Mean response-only cross-entropy (nats/token) of ``items``, teacher-forced."""
    model.eval()
    ds = DomainDataset(tokenizer, items, domains, max_len=10_000)
    collate = domain_collator(tokenizer)
    total, count = 0.0, 0
    for i in range(0, len(ds), batch_size):
        batch = collate([ds[j] for j in range(i, min(i + batch_size, len(ds)))])
        batch.pop("domain")
        n = int((batch["labels"][:, 1:] != -100).sum())
        total += float(model(**batch).loss) * n
        count += n
    return total / max(count, 1)


def evaluate(
    model: Any,
    tokenizer: Any,
    test: list[DomainExample],
    domains: list[str],
    per_domain: int,
    batch_size: int,
    select: Any = None,
) -> dict[str, Any]:
    result: dict[str, Any] = {"exact_match": {}, "heldout_loss": {}, "gen_tokens": 0, "gen_seconds": 0.0}
    for d in domains:
        if select is not None:
            select(d)
        items = [e for e in test if e.domain == d][:per_domain]
        result["heldout_loss"][d] = heldout_loss(model, tokenizer, items, domains, batch_size)
        hits, toks, secs = generate(model, tokenizer, items, batch_size)
        result["exact_match"][d] = sum(hits) / len(hits)
        result["gen_tokens"] += toks
        result["gen_seconds"] += secs
    for key in ("exact_match", "heldout_loss"):
        result[key]["all"] = statistics.mean(result[key][d] for d in domains)
    return result


def compare(args: argparse.Namespace) -> dict[str, Any]:
    from helixmoe import hlx

    for notation in hlx.NOTATIONS:  # load every codec now, so grading cannot fail after minutes of training
        hlx.api.module_for(notation)
    system = Path(args.system)
    tokenizer, train, test, domains = load_system(system)
    collate = domain_collator(tokenizer)
    n_layers = len(fresh_base(system).model.layers)
    layers = list(range(n_layers - args.layers, n_layers))
    moe = MoEConfig(
        num_experts=args.experts,
        top_k=args.top_k,
        layers=args.layers,
        r=args.rank,
        alpha=2 * args.rank,
        balance_coef=args.balance_coef,
    )
    full = DomainDataset(tokenizer, train, domains, max_len=args.max_len)
    results: dict[str, Any] = {}

    model = fresh_base(system)
    inject_moe_lora(model, moe)
    calibrate_routers(
        model,
        **{
            k: v
            for k, v in collate([full[i] for i in range(16)]).items()
            if k in ("input_ids", "attention_mask")
        },
    )
    params = list(moe_parameters(model))
    fit = train_for(model, params, batches(full, collate, args.batch_size, 0), args.budget, args.lr, moe)
    results["moe"] = {
        "trainable": sum(p.numel() for p in params),
        **fit,
        **evaluate(model, tokenizer, test, domains, args.eval_per_domain, args.batch_size),
    }

    rank_routed = max(1, round(args.experts * args.rank / len(domains)))
    model = peft_lora(fresh_base(system), rank_routed, layers, domains)
    fits = []
    for d in domains:
        model.set_adapter(d)
        params = [p for n, p in model.named_parameters() if f".{d}." in n]
        part = DomainDataset(tokenizer, [e for e in train if e.domain == d], domains, max_len=args.max_len)
        fits.append(
            train_for(
                model, params, batches(part, collate, args.batch_size, 0), args.budget / len(domains), args.lr
            )
        )
    trainable = sum(p.numel() for n, p in model.named_parameters() if "lora_" in n)
    results["routed"] = {
        "trainable": trainable,
        "rank": rank_routed,
        "steps": sum(f["steps"] for f in fits),
        "tokens": sum(f["tokens"] for f in fits),
        "seconds": sum(f["seconds"] for f in fits),
        "last_loss": statistics.mean(f["last_loss"] for f in fits),
        **evaluate(
            model, tokenizer, test, domains, args.eval_per_domain, args.batch_size, select=model.set_adapter
        ),
    }

    model = peft_lora(fresh_base(system), args.experts * args.rank, layers, ["dense"])
    params = [p for p in model.parameters() if p.requires_grad]
    fit = train_for(model, params, batches(full, collate, args.batch_size, 0), args.budget, args.lr)
    results["dense"] = {
        "trainable": sum(p.numel() for p in params),
        "rank": args.experts * args.rank,
        **fit,
        **evaluate(model, tokenizer, test, domains, args.eval_per_domain, args.batch_size),
    }
    print_table(results, domains, args)
    return {"config": vars(args), "domains": domains, "results": results}


def print_table(results: dict[str, Any], domains: list[str], args: argparse.Namespace) -> None:
    print(
        f"budget {args.budget:.0f}s per variant, threads={torch.get_num_threads()}, "
        f"{args.eval_per_domain} test examples per domain"
    )
    head = " | ".join(f"EM {d}" for d in domains)
    print(f"| variant | trainable | steps | {head} | EM mean | held-out loss | train tok/s | infer tok/s |")
    print("|---|---|---|" + "---|" * len(domains) + "---|---|---|---|")
    for name, r in results.items():
        em = " | ".join(f"{r['exact_match'][d]:.2f}" for d in domains)
        print(
            f"| {name} | {r['trainable']:,} | {r['steps']} | {em} | {r['exact_match']['all']:.2f} | "
            f"{r['heldout_loss']['all']:.3f} | {r['tokens'] / r['seconds']:.0f} | "
            f"{r['gen_tokens'] / max(r['gen_seconds'], 1e-9):.0f} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("part", choices=["kernels", "compare"])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--reps", type=int, default=9)
    parser.add_argument("--system", default="systems/moe-tiny")
    parser.add_argument("--budget", type=float, default=120.0, help="training seconds per variant")
    parser.add_argument("--experts", type=int, default=4)
    parser.add_argument("--top-k", type=int, default=2)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--rank", type=int, default=8)
    parser.add_argument("--balance-coef", type=float, default=0.1)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-len", type=int, default=256)
    parser.add_argument("--eval-per-domain", type=int, default=30)
    parser.add_argument("--out", default=None, help="JSON output path")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    result = kernels(args) if args.part == "kernels" else compare(args)
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
