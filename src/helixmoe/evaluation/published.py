"""The published HLX MoE figures (design.md) and the side-by-side rows comparing them with a run.

The published system: a coordinator plus ASCII and Runic specialists, QLoRA on Qwen-class 1.5–1.7B bases.
Its report: 80% routing accuracy on 20 held-out prompts, outputs judged by loose pattern matching,
0.6–1.3 s per query, ~6.6 GB VRAM, hours of GPU training, 73–188 training examples per model.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from helixmoe.evaluation.report import Report

__all__ = ["PUBLISHED", "comparison_rows", "fmt_bytes", "fmt_ms", "fmt_pct"]

#: What the published HLX MoE reported, by row of the comparison table.
PUBLISHED: dict[str, str] = {
    "routing": "80% on 20 held-out prompts",
    "judging": "loose pattern matching",
    "attribution": "not separated (routing and expert errors mixed)",
    "verification": "none",
    "latency": "0.6–1.3 s per query (GPU)",
    "memory": "~6.6 GB VRAM",
    "model": "Qwen-class 1.5–1.7B base, QLoRA specialists",
    "training": "hours of GPU training",
    "examples": "73–188 examples per model",
}


def fmt_pct(x: Any) -> str:
    return "—" if x is None else f"{100 * float(x):.1f}%"


def fmt_ms(x: Any) -> str:
    if x is None:
        return "—"
    return f"{x / 1000:.2f} s" if x >= 1000 else f"{x:.1f} ms" if x >= 1 else f"{x * 1000:.0f} µs"


def fmt_bytes(x: Any) -> str:
    if x is None:
        return "—"
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if x >= size:
            return f"{x / size:.2f} {unit}"
    return f"{x} B"


def fmt_params(x: Any) -> str:
    if x is None:
        return "—"
    return f"{x / 1e9:.2f}B" if x >= 1e9 else f"{x / 1e6:.2f}M" if x >= 1e6 else f"{x / 1e3:.1f}k"


def comparison_rows(report: Report) -> list[tuple[str, str, str]]:
    """``(what, published, this run)`` rows, every figure of "this run" measured by the report."""
    s, m = report.summary, report.meta
    kw = s.get("keyword_routing_accuracy")
    routing = f"{fmt_pct(s['routing_accuracy'])} on {s['n']} {m.get('split', '')} prompts ({m.get('router')})"
    if kw is not None:
        routing += f"; published keyword rules on the same prompts: {fmt_pct(kw)}"
    a = report.attribution
    v = report.verification
    single = report.latency["single_query"]["total"]
    latency = (
        f"p50 {fmt_ms(single['p50'])}, p95 {fmt_ms(single['p95'])} single query; "
        f"{fmt_ms(s['batched_per_row_p50_ms'])} per request batched ({m.get('device') or 'device ?'})"
    )
    rows = [
        ("Routing accuracy", PUBLISHED["routing"], routing),
        (
            "Output judging",
            PUBLISHED["judging"],
            f"HLX oracle: exact {fmt_pct(s['exact'])}, value-equivalent {fmt_pct(s['equivalent'])}, "
            f"valid {fmt_pct(s['valid'])}",
        ),
        (
            "Error attribution",
            PUBLISHED["attribution"],
            f"{a['errors']} errors: {a['routing']} routing, {a['expert']} expert, {a['both']} both",
        ),
        (
            "Verification",
            PUBLISHED["verification"],
            f"policy {v['policy']}: verified accuracy {fmt_pct(s['verified_accuracy'])}, "
            f"{v['silent_errors']} silent errors, fallback rate {fmt_pct(v['fallback_rate'])}",
        ),
        ("Latency", PUBLISHED["latency"], latency),
        ("Memory", PUBLISHED["memory"], _memory(report)),
        ("Model", PUBLISHED["model"], _model(report)),
        ("Training", PUBLISHED["training"], _training(report)),
        ("Training data", PUBLISHED["examples"], _examples(report)),
    ]
    return rows


def _memory(report: Report) -> str:
    mem = report.memory
    text = f"peak RSS {fmt_bytes(mem.get('rss_peak_bytes'))}"
    if mem.get("cuda_peak_bytes") is not None:
        text += f", CUDA peak {fmt_bytes(mem['cuda_peak_bytes'])}"
    return text


def _model(report: Report) -> str:
    sizes = report.sizes
    base = sizes.get("base") or {}
    experts = sizes.get("experts") or {}
    if not base and not experts:
        return "not measured (no system directory)"
    adapters = [e["weights_bytes"] for e in experts.values()]
    text = f"base {fmt_params(base.get('params'))} params"
    if adapters:
        low, high = fmt_bytes(min(adapters)), fmt_bytes(max(adapters))
        text += f" + {len(adapters)} LoRA experts of {low if low == high else f'{low}–{high}'} on disk"
    return text


def _training(report: Report) -> str:
    wall = report.training.get("wall_time_s")
    if wall is None:
        return "not recorded in this system directory"
    return f"{wall / 60:.1f} min wall time (training_summary.json)"


def _examples(report: Report) -> str:
    counts = report.training.get("train_examples_per_expert") or {}
    if not counts:
        return "not recorded in this system directory"
    low, high = min(counts.values()), max(counts.values())
    span = str(low) if low == high else f"{low}–{high}"
    return f"{span} per expert (generated, oracle-checked)"
