"""``report.md``: the evaluation :class:`~helixmoe.evaluation.report.Report` as Markdown tables.

Sections: summary, beside the published HLX MoE, per expert, per family, routing (confusion matrices,
keyword baseline), perfect router and error attribution, verification, latency, throughput and memory,
sizes, and the plots.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from helixmoe.evaluation.published import comparison_rows, fmt_bytes, fmt_ms, fmt_params, fmt_pct

if TYPE_CHECKING:
    from helixmoe.evaluation.report import Report

__all__ = ["GROUP_RATES", "render_markdown", "table"]

#: The rates every group (per expert, per family, the whole run) reports, in table order.
GROUP_RATES = (
    "exact",
    "equivalent",
    "valid",
    "verified_accuracy",
    "fallback_rate",
    "routing_accuracy",
    "oracle_route_exact",
)
_GROUP_COLS = ("n", *GROUP_RATES)
_GROUP_HEAD = (
    "n",
    "exact",
    "value-equiv.",
    "valid",
    "verified acc.",
    "fallback",
    "routed right",
    "perfect-router exact",
)


def table(head: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub-flavoured Markdown table (``|`` in cells escaped)."""

    def cell(x: Any) -> str:
        return str(x).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(cell(h) for h in head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def render_markdown(report: Report, images: dict[str, str] | None = None) -> str:
    """The whole ``report.md`` text; ``images`` maps plot names to file names beside it."""
    images = images or {}
    parts = [
        _header(report),
        _summary(report),
        _published(report),
        _groups("Per expert", report.by_expert),
        _groups("Per task family", report.by_family),
        _routing(report, images),
        _attribution(report),
        _verification(report),
        _latency(report, images),
        _costs(report),
        _sizes(report),
        _plots(images),
    ]
    return "\n\n".join(p for p in parts if p) + "\n"


def _header(r: Report) -> str:
    m = r.meta
    name = m.get("system_name") or m.get("system") or "predictor"
    return (
        f"# Evaluation report: {name}\n\n"
        f"split `{m.get('split', '?')}` · n = {m['n']} · verify `{m['verify']}` · router `{m.get('router')}` · "
        f"batch {m['batch_size']} · decoding `{'grammar-constrained' if m.get('constrained') else 'free'}` · "
        f"device `{m.get('device')}` · {m.get('created')}\n\n"
        "Model-only figures grade what the model itself wrote; *verified accuracy* grades the final answer "
        "after the verification policy. Grading is exact, by the HLX oracle (task families)."
    )


def _summary(r: Report) -> str:
    s = r.summary
    rows = [
        ("exact match (model only)", fmt_pct(s["exact"])),
        ("value-equivalent (model only)", fmt_pct(s["equivalent"])),
        ("valid output (model only)", fmt_pct(s["valid"])),
        ("verified accuracy (final answer)", fmt_pct(s["verified_accuracy"])),
        ("fallback rate", fmt_pct(s["fallback_rate"])),
        ("routing accuracy", fmt_pct(s["routing_accuracy"])),
        ("keyword-rules routing accuracy", fmt_pct(s["keyword_routing_accuracy"])),
        ("exact match with a perfect router", fmt_pct(s["oracle_route_exact"])),
        (
            "errors from routing / experts / both",
            f"{s['routing_errors']} / {s['expert_errors']} / {s['both_errors']}",
        ),
        (
            "single-query latency p50 / p95",
            f"{fmt_ms(s['single_query_p50_ms'])} / {fmt_ms(s['single_query_p95_ms'])}",
        ),
        ("batched latency per request p50", fmt_ms(s["batched_per_row_p50_ms"])),
        (
            f"generated {s['throughput_unit']}/s",
            "—" if s["generated_per_second"] is None else f"{s['generated_per_second']:.0f}",
        ),
        ("peak RSS", fmt_bytes(s["rss_peak_bytes"])),
    ]
    if s.get("cuda_peak_bytes") is not None:
        rows.append(("peak CUDA memory", fmt_bytes(s["cuda_peak_bytes"])))
    return "## Summary\n\n" + table(("metric", "value"), rows)


def _published(r: Report) -> str:
    return "## Beside the published HLX MoE\n\n" + table(
        ("", "published HLX MoE", "this run"), comparison_rows(r)
    )


def _groups(title: str, groups: dict[str, Any]) -> str:
    rows = []
    for name, g in groups.items():
        rows.append([name] + [g[c] if c == "n" else fmt_pct(g[c]) for c in _GROUP_COLS])
    return f"## {title}\n\n" + table(("", *_GROUP_HEAD), rows)


def _matrix(labels: list[str], matrix: list[list[int]]) -> str:
    rows = [[f"**{t}**", *row, sum(row)] for t, row in zip(labels, matrix)]
    return table(("true \\ routed", *labels, "total"), rows)


def _routing(r: Report, images: dict[str, str]) -> str:
    g = r.routing
    out = [
        f"## Routing\n\nRouter `{r.meta.get('router')}`: accuracy **{fmt_pct(g['accuracy'])}**, "
        f"{g['abstained']} abstentions, decision latency p50 {fmt_ms(g['latency_ms']['p50'])}, "
        f"p99 {fmt_ms(g['latency_ms']['p99'])} (one call at a time).",
        _matrix(g["labels"], g["matrix"]),
    ]
    kw = g.get("keyword")
    if kw:
        out += [
            f"Published keyword rules on the same prompts: accuracy **{fmt_pct(kw['accuracy'])}**, "
            f"{kw['abstained']} fell through to the default expert, p50 {fmt_ms(kw['latency_ms']['p50'])}.",
            _matrix(kw["labels"], kw["matrix"]),
        ]
    if "confusion" in images:
        out.append(f"![routing confusion matrix]({images['confusion']})")
    return "\n\n".join(out)


def _attribution(r: Report) -> str:
    p, a = r.perfect_router, r.attribution
    rows = [
        ("end to end (routed)", fmt_pct(p["end_to_end_exact"])),
        ("perfect router (true expert pinned)", fmt_pct(p["oracle_route_exact"])),
    ]
    attr = [
        ("end-to-end errors", a["errors"]),
        ("routing errors (true expert would be right)", a["routing"]),
        ("expert errors (routed right, still wrong)", a["expert"]),
        ("both (misrouted, true expert wrong too)", a["both"]),
        ("misrouted, not re-answered", a["unknown"]),
        ("misrouted but right anyway", a["rescued"]),
    ]
    return (
        "## Perfect router vs end to end\n\n"
        f"Perfect-router pass `{p['mode']}`: {p['reanswered']} requests re-answered with their true expert.\n\n"
        + table(("exact match (model only)", "value"), rows)
        + "\n\n"
        + table(("error attribution", "count"), attr)
    )


def _verification(r: Report) -> str:
    v = r.verification
    fallbacks = ", ".join(f"{k} {n}" for k, n in sorted(v["fallbacks"].items())) or "none"
    rows = [
        ("verified (passed the check)", v["verified"]),
        ("rejected (failed the check)", v["rejected"]),
        ("unverifiable (no value to check)", v["unverifiable"]),
        ("fallbacks used", fallbacks),
        ("silent errors (wrong, not flagged)", v["silent_errors"]),
        ("verified but wrong", v["verified_but_wrong"]),
        ("false alarms (right, flagged)", v["false_alarms"]),
    ]
    return f"## Verification (policy `{v['policy']}`)\n\n" + table(("", "count"), rows)


def _latency(r: Report, images: dict[str, str]) -> str:
    lat = r.latency
    rows = []
    for stage in ("route", "generate", "verify", "total"):
        b, s = lat["batched_per_row"][stage], lat["single_query"][stage]
        rows.append(
            [
                stage,
                *(fmt_ms(b[k]) for k in ("p50", "p95", "p99")),
                *(fmt_ms(s[k]) for k in ("p50", "p95", "p99")),
            ]
        )
    w = lat["single_query"]["wall"]
    rows.append(["wall (single call)", "", "", "", *(fmt_ms(w[k]) for k in ("p50", "p95", "p99"))])
    text = (
        "## Latency\n\nBatched: each request's share of the end-to-end `batch` call (what a server's "
        "throughput gives; flat percentiles when the predictor times whole calls, as `HelixMoE` does; its "
        "routing hits the decision cache warmed by the routing pass). Single query: "
        f"{lat['single_query']['total']['n']} requests answered one at a time.\n\n"
        + table(("stage", "batched p50", "p95", "p99", "single p50", "p95", "p99"), rows)
    )
    if "latency" in images:
        text += f"\n\n![latency histogram]({images['latency']})"
    return text


def _costs(r: Report) -> str:
    t, m = r.throughput, r.memory
    rows = [
        (f"generated {t['unit']}", t["generated"]),
        (f"{t['unit']} per second of generation", t["per_second"] if t["per_second"] is not None else "—"),
        ("end-to-end pass", f"{t['end_to_end_seconds']:.2f} s"),
        ("requests per second (batched)", t["requests_per_second"] or "—"),
        ("peak RSS (process lifetime)", fmt_bytes(m.get("rss_peak_bytes"))),
        ("peak CUDA allocated", fmt_bytes(m.get("cuda_peak_bytes"))),
        ("peak Python heap (tracemalloc)", fmt_bytes(m.get("python_peak_bytes"))),
    ]
    return "## Throughput and memory\n\n" + table(("", "value"), rows)


def _sizes(r: Report) -> str:
    sizes = r.sizes
    if not sizes or "error" in sizes:
        return "## Sizes\n\n" + (f"not measured: {sizes['error']}" if sizes else "no system directory")
    rows = []
    if sizes.get("base"):
        b = sizes["base"]
        rows.append(
            ["base", fmt_params(b["params"]), b["params"], fmt_bytes(b["weights_bytes"]), b["weights_bytes"]]
        )
    for name, e in sizes.get("experts", {}).items():
        rows.append(
            [
                f"expert `{name}`",
                fmt_params(e["params"]),
                e["params"],
                fmt_bytes(e["weights_bytes"]),
                e["weights_bytes"],
            ]
        )
    text = "## Sizes\n\n" + table(("part", "params", "count", "weights on disk", "bytes"), rows)
    if "adapter_share" in sizes:
        text += f"\n\nAdapters are {fmt_pct(sizes['adapter_share'])} of all {fmt_params(sizes['total_params'])} parameters."
    return text


def _plots(images: dict[str, str]) -> str:
    extra = [(k, v) for k, v in images.items() if k not in ("confusion", "latency")]
    if not extra:
        return ""
    return "## Plots\n\n" + "\n\n".join(f"![{k}]({v})" for k, v in extra)
