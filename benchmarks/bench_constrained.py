"""Cost of grammar-constrained decoding: greedy ``generate`` with no constraint vs each design (issue 4, item 6).

Same tiny random Qwen3 model, same ``char`` tokenizer (:mod:`helixmoe.models.tokenizer`), same prompts, same
``max_new_tokens``; one CPU thread; each figure is the best (least disturbed) of N runs. For each notation and
design it reports decode steps, time per decode step, tokens per second (batch x steps / time), the ratio of
the time per step to unconstrained decoding, the time spent inside the logits processor per step, and the
share of rows that end as a value ``hlx.loads(..., strict=True)`` accepts. ``automaton cold`` clears the
per-state cache before every run (the first requests of a process); ``automaton`` reuses it (steady state).
Constrained runs that stop early (EOS) spread the prompt's prefill over fewer steps, so their ms/step reads
a little high and the machine's load adds noise; ``proc ms/step`` is the direct cost of the constraint.

Usage::

    .venv/bin/python benchmarks/bench_constrained.py [--batch 1 8] [--max-new 48] [--repeats 3] [--quick]
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

import torch
from transformers import LogitsProcessorList, Qwen3Config, Qwen3ForCausalLM

from helixmoe import hlx
from helixmoe.grammar import constrained_processor
from helixmoe.grammar.processor import state_table
from helixmoe.models.template import render_prompt
from helixmoe.models.tokenizer import train_tokenizer

NOTATIONS = ("lc-r", "lc-t", "hlxl", "lc-b-text", "lc-b-hex")
DESIGNS = ("none", "automaton cold", "automaton", "llguidance")
PROMPTS = [
    "Convert to LC-R: [1, 2, 3]",
    'Write {name: "Alice", age: 30} in LC-T',
    "LC-B for {14: {@0: 42}}",
    'What is 🜊1000🜁0 "search"🜁1 ⟁documents🜂 in HLXL?',
    "Convert #64617461 to LC-R",
    '[1000|0:"search"|1:&query] as LC-T please',
    "hello there",
    'Encode {902: {@0: "render_pipeline", @1: [&h_vs, &h_fs]}} as LC-B bytes',
]


class Timed:
    """Wraps a logits processor and adds up the seconds spent in it."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.seconds = inner, 0.0

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        start = time.perf_counter()
        out = self.inner(input_ids, scores)
        self.seconds += time.perf_counter() - start
        return out  # type: ignore[no-any-return]


def build(seed: int = 0) -> tuple[Any, Any]:
    """The char tokenizer trained on canonical spec examples, and a tiny random model over it."""
    samples = [
        hlx.dumps(v, n)
        for v in ([1, 2, 3], {"name": "Alice", "age": 30}, hlx.Contract(14, ((0, 42),)))
        for n in ("hlxl", "lc-t", "lc-r", "lc-b-text", "lc-b-hex")
    ]
    tok = train_tokenizer(samples + PROMPTS, scheme="char", min_frequency=1)
    torch.manual_seed(seed)
    config = Qwen3Config(
        vocab_size=len(tok),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=16,
        max_position_embeddings=512,
        pad_token_id=tok.pad_token_id,
        eos_token_id=tok.eos_token_id,
        tie_word_embeddings=True,
    )
    return tok, Qwen3ForCausalLM(config).eval()


def run(model: Any, tok: Any, design: str, notation: str, batch: int, max_new: int) -> dict[str, float]:
    prompts = [render_prompt(PROMPTS[i % len(PROMPTS)]) for i in range(batch)]
    enc = tok(prompts, return_tensors="pt", padding=True, padding_side="left", add_special_tokens=False)
    procs = LogitsProcessorList()
    timed = None
    if design != "none":
        kind = "automaton" if design.startswith("automaton") else design
        if design == "automaton cold":
            state_table(tok, notation).clear()
        timed = Timed(constrained_processor(tok, notation, max_new, design=kind)[0])
        procs.append(timed)
    start = time.perf_counter()
    with torch.no_grad():
        out = model.generate(
            **enc,
            max_new_tokens=max_new,
            do_sample=False,
            logits_processor=procs,
            pad_token_id=tok.pad_token_id,
            eos_token_id=tok.eos_token_id,
        )
    seconds = time.perf_counter() - start
    steps = out.shape[1] - enc["input_ids"].shape[1]
    valid = 0
    for row in out[:, enc["input_ids"].shape[1] :]:
        try:
            hlx.loads(tok.decode(row, skip_special_tokens=True), notation, strict=True)
            valid += 1
        except hlx.HLXError:
            pass
    return {
        "seconds": seconds,
        "steps": steps,
        "proc": timed.seconds if timed else 0.0,
        "valid": valid / batch,
    }


def measure(
    model: Any, tok: Any, notation: str, batch: int, max_new: int, repeats: int
) -> dict[str, dict[str, float]]:
    """Every design on one notation, interleaved run by run so all see the same machine load."""
    designs = [d for d in DESIGNS if not (d == "llguidance" and notation == "lc-b-hex")]
    runs: dict[str, list[dict[str, float]]] = {d: [] for d in designs}
    for _ in range(repeats):
        for design in designs:
            runs[design].append(run(model, tok, design, notation, batch, max_new))
    out = {}
    for design, rs in runs.items():
        per_step = min(r["seconds"] / max(r["steps"], 1) for r in rs)  # least disturbed run
        out[design] = {
            "ms_step": 1000 * per_step,
            "steps_s": 1 / per_step,
            "proc_ms_step": 1000 * min(r["proc"] / max(r["steps"], 1) for r in rs),
            "steps": statistics.median(r["steps"] for r in rs),
            "valid": min(r["valid"] for r in rs),
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--max-new", type=int, default=48)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--quick", action="store_true", help="lc-r and lc-b-hex only, batch 1 and 8, 1 repeat"
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    tok, model = build()
    notations = ("lc-r", "lc-b-hex") if args.quick else NOTATIONS
    repeats = 1 if args.quick else args.repeats
    run(model, tok, "none", "lc-r", 1, 8)  # warm-up
    print(
        f"tiny Qwen3 (hidden 64, 2 layers, vocab {len(tok)}), char tokenizer, greedy, max_new_tokens="
        f"{args.max_new}, 1 thread, best of {repeats}"
    )
    print(
        f"{'notation':10} {'batch':>5} {'design':15} {'steps':>5} {'ms/step':>8} {'tok/s':>8} "
        f"{'x none':>7} {'proc ms/step':>12} {'valid':>6}"
    )
    for batch in args.batch:
        for notation in notations:
            results = measure(model, tok, notation, batch, args.max_new, repeats)
            base = results["none"]["ms_step"]
            for design, m in results.items():
                valid = "-" if design == "none" else f"{100 * m['valid']:.0f}%"
                print(
                    f"{notation:10} {batch:>5} {design:15} {m['steps']:>5.0f} {m['ms_step']:>8.2f} "
                    f"{batch * m['steps_s']:>8.0f} {m['ms_step'] / base:>7.2f} {m['proc_ms_step']:>12.3f} {valid:>6}"
                )


if __name__ == "__main__":
    main()
