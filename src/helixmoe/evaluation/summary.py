"""Turn the raw results of the harness passes (:class:`~helixmoe.evaluation.harness.RunData`) into a
:class:`~helixmoe.evaluation.report.Report`: grades, tallies per expert and family, routing, attribution,
verification, latency, throughput, memory, sizes and training figures."""

from __future__ import annotations

import datetime as _dt
import json
import logging
import platform
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from helixmoe.atomic import read_json
from helixmoe.evaluation.metrics import Tally, accuracy, attribute_errors, confusion_matrix, latency_summary
from helixmoe.evaluation.report import Report
from helixmoe.evaluation.resources import system_sizes, token_counter
from helixmoe.tasks import Grade, grade

if TYPE_CHECKING:
    from helixmoe.evaluation.harness import RunData

__all__ = ["build_report", "training_figures"]

logger = logging.getLogger(__name__)
_STAGES = ("route", "generate", "verify", "total")


def _model_text(answer: Any) -> str:
    return getattr(answer, "model_text", "") or answer.text


def build_report(run: RunData, predictor: Any, meta: dict[str, Any]) -> Report:
    """Grade every answer and summarise the run."""
    model = [grade(ex, _model_text(a)) for ex, a in zip(run.examples, run.answers)]
    final = [grade(ex, a.text) for ex, a in zip(run.examples, run.answers)]
    oracle = [None if a is None else grade(ex, _model_text(a)) for ex, a in zip(run.examples, run.oracle)]
    true = [ex.expert for ex in run.examples]
    routed = [a.expert for a in run.answers]
    total, by_expert = Tally(), {e: Tally() for e in predictor.experts}
    by_family: dict[str, Tally] = {}
    for i, ex in enumerate(run.examples):
        for tally in (
            total,
            by_expert.setdefault(ex.expert, Tally()),
            by_family.setdefault(ex.family, Tally()),
        ):
            tally.add(
                model[i],
                final[i],
                fallback=run.answers[i].fallback_used is not None,
                routed_right=routed[i] == true[i],
                oracle=oracle[i],
            )
    measured = any(o is not None for o in oracle)
    attribution = attribute_errors(
        true, routed, [g.exact for g in model], [None if o is None else o.exact for o in oracle]
    )
    routing = _routing(run, predictor, true)
    report = Report(
        meta=_meta(run, predictor, meta),
        summary={},
        by_expert={k: v.to_dict() for k, v in by_expert.items() if v.n},
        by_family={k: v.to_dict() for k, v in sorted(by_family.items())},
        routing=routing,
        perfect_router=_perfect_router(run, total, measured),
        attribution=attribution.to_dict(),
        verification=_verification(run, model, final),
        latency=_latency(run),
        throughput=_throughput(run, predictor),
        memory=dict(run.memory),
        sizes=_sizes(predictor),
        training=training_figures(getattr(predictor, "root", None)),
        rows=_rows(run, model, final, oracle),
    )
    report.summary = _summary(report, total)
    for name, group in report.by_expert.items():  # single queries answered by this expert (few: see ``n``)
        times = [a.timings["total"] for a in run.single if a.expert == name and "total" in a.timings]
        group["latency_p50_ms"] = latency_summary(times)["p50"]
        group["latency_n"] = len(times)
    return report


def _meta(run: RunData, predictor: Any, extra: dict[str, Any]) -> dict[str, Any]:
    routers = Counter(str(getattr(r, "router", "") or type(r).__name__) for r in run.routes)
    root = getattr(predictor, "root", None)
    return {
        **run.options,
        "experts": list(predictor.experts),
        "router": routers.most_common(1)[0][0] if routers else None,
        "router_stages": dict(routers),
        "system": str(root) if root is not None else None,
        "system_name": getattr(getattr(predictor, "config", None), "name", None),
        "device": _device(predictor),
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "platform": platform.platform(),
        "python": platform.python_version(),
        **extra,
    }


def _device(predictor: Any) -> str | None:
    device = getattr(predictor, "device", None)
    if device is not None:
        return str(device)
    model = getattr(getattr(predictor, "pool", None), "model", None)
    try:
        return str(next(model.parameters()).device) if model is not None else None
    except (StopIteration, AttributeError, TypeError):
        return None


def _routing(run: RunData, predictor: Any, true: list[str]) -> dict[str, Any]:
    labels = list(predictor.experts)
    decided = [r.expert for r in run.routes]
    names, matrix = confusion_matrix(true, decided, labels)
    out: dict[str, Any] = {
        "accuracy": accuracy(true, decided),
        "labels": names,
        "matrix": matrix,
        "abstained": sum(bool(getattr(r, "abstained", False)) for r in run.routes),
        "agrees_with_e2e": sum(r.expert == a.route.expert for r, a in zip(run.routes, run.answers)),
        "latency_ms": latency_summary(run.route_ms),
        "keyword": None,
    }
    if run.keyword:
        kw = [r.expert for r in run.keyword]
        kw_names, kw_matrix = confusion_matrix(true, kw, labels)
        out["keyword"] = {
            "accuracy": accuracy(true, kw),
            "labels": kw_names,
            "matrix": kw_matrix,
            "abstained": sum(bool(r.abstained) for r in run.keyword),
            "latency_ms": latency_summary(run.keyword_ms),
        }
    return out


def _perfect_router(run: RunData, total: Tally, measured: bool) -> dict[str, Any]:
    n = total.n or 1
    reanswered = (
        len(run.examples)
        if run.options["oracle_route"] == "full"
        else sum(a.expert != ex.expert for ex, a in zip(run.examples, run.answers))
    )
    return {
        "mode": run.options["oracle_route"],
        "reanswered": reanswered if measured else 0,
        "end_to_end_exact": total.exact / n,
        "oracle_route_exact": total.oracle_exact / total.oracle_n if total.oracle_n else None,
        "seconds": round(run.oracle_seconds, 3),
    }


def _verification(run: RunData, model: list[Grade], final: list[Grade]) -> dict[str, Any]:
    answers = run.answers
    verdicts = Counter(
        {True: "verified", False: "rejected", None: "unverifiable"}[a.verified] for a in answers
    )
    fallbacks = Counter(a.fallback_used for a in answers if a.fallback_used is not None)
    return {
        "policy": run.options["verify"],
        "verified": verdicts["verified"],
        "rejected": verdicts["rejected"],
        "unverifiable": verdicts["unverifiable"],
        "fallbacks": dict(fallbacks),
        "fallback_rate": sum(fallbacks.values()) / len(answers),
        # wrong final answers handed back without a failed check: what verification must drive to 0
        "silent_errors": sum(not f.exact and a.verified is not False for a, f in zip(answers, final)),
        "verified_but_wrong": sum(bool(a.verified) and not f.exact for a, f in zip(answers, final)),
        "false_alarms": sum(a.verified is False and m.exact for a, m in zip(answers, model)),
    }


def _latency(run: RunData) -> dict[str, Any]:
    batched = {s: latency_summary([a.timings[s] for a in run.answers if s in a.timings]) for s in _STAGES}
    single = {s: latency_summary([a.timings[s] for a in run.single if s in a.timings]) for s in _STAGES}
    single["wall"] = latency_summary(run.single_ms)
    samples = {
        "single_total_ms": [round(a.timings.get("total", 0.0), 3) for a in run.single],
        "route_ms": [round(x, 4) for x in run.route_ms],
    }
    return {
        "batched_per_row": batched,
        "single_query": single,
        "route_decision": latency_summary(run.route_ms),
        "samples": samples,
    }


def _throughput(run: RunData, predictor: Any) -> dict[str, Any]:
    count, unit = token_counter(predictor)
    generated = sum(count(_model_text(a)) for a in run.answers)
    gen_seconds = sum(a.timings.get("generate", 0.0) for a in run.answers) / 1000.0
    return {
        "unit": unit,
        "generated": generated,
        "generate_seconds": round(gen_seconds, 4),
        "per_second": round(generated / gen_seconds, 2) if gen_seconds > 0 else None,
        "end_to_end_seconds": round(run.e2e_seconds, 4),
        "requests_per_second": round(len(run.answers) / run.e2e_seconds, 3) if run.e2e_seconds > 0 else None,
    }


def _sizes(predictor: Any) -> dict[str, Any]:
    root = getattr(predictor, "root", None)
    if root is None:
        return {}
    root = Path(root)
    base_dir = None
    config = getattr(predictor, "config", None)
    if config is not None and not (root / "base" / "config.json").is_file() and config.model.path:
        base_dir = Path(config.model.path).expanduser()
    try:
        return system_sizes(root, base_dir)
    except (OSError, ValueError) as err:  # unreadable weights: report, never fail the whole evaluation
        logger.warning("could not measure sizes under %s: %s", root, err)
        return {"error": str(err)}


def training_figures(root: Any) -> dict[str, Any]:
    """Training wall time and examples per expert, read from a system directory (empty if unknown)."""
    if root is None:
        return {}
    root = Path(root)
    out: dict[str, Any] = {}
    summary = root / "reports" / "training_summary.json"
    if summary.is_file():
        try:
            data = read_json(summary)
            out["wall_time_s"] = data.get("wall_time_s")
            out["time_budget_s"] = data.get("time_budget_s")
        except (OSError, ValueError) as err:
            logger.warning("unreadable %s: %s", summary, err)
    train = root / ".train" / "corpus" / "train.jsonl"
    if train.is_file():
        counts: Counter[str] = Counter()
        with train.open(encoding="utf-8") as handle:
            for line in handle:
                if line.strip():
                    counts[json.loads(line).get("expert", "?")] += 1
        out["train_examples_per_expert"] = dict(sorted(counts.items()))
    metrics = root / "reports" / "training_metrics.jsonl"
    out["metrics_file"] = str(metrics) if metrics.is_file() else None
    return out


def _rows(
    run: RunData, model: list[Grade], final: list[Grade], oracle: list[Grade | None]
) -> list[dict[str, Any]]:
    rows = []
    for i, (ex, a) in enumerate(zip(run.examples, run.answers)):
        pinned = oracle[i]
        rows.append(
            {
                **ex.to_dict(),
                "routed": a.expert,
                "confidence": getattr(a.route, "confidence", None),
                "task_hint": getattr(a, "task", None),
                "answer": a.text,
                "model_answer": _model_text(a),
                "exact": model[i].exact,
                "equivalent": model[i].equivalent,
                "valid": model[i].valid,
                "final_exact": final[i].exact,
                "verified": a.verified,
                "fallback": a.fallback_used,
                "oracle_route_exact": None if pinned is None else pinned.exact,
            }
        )
    return rows


def _summary(report: Report, total: Tally) -> dict[str, Any]:
    t = total.to_dict()
    single = report.latency["single_query"]["total"]
    mem = report.memory
    return {
        "n": t["n"],
        "exact": t["exact"],
        "equivalent": t["equivalent"],
        "valid": t["valid"],
        "verified_accuracy": t["verified_accuracy"],
        "fallback_rate": t["fallback_rate"],
        "routing_accuracy": report.routing["accuracy"],
        "keyword_routing_accuracy": (report.routing["keyword"] or {}).get("accuracy"),
        "oracle_route_exact": report.perfect_router["oracle_route_exact"],
        "routing_errors": report.attribution["routing"],
        "expert_errors": report.attribution["expert"],
        "both_errors": report.attribution["both"],
        "single_query_p50_ms": single["p50"],
        "single_query_p95_ms": single["p95"],
        "batched_per_row_p50_ms": report.latency["batched_per_row"]["total"]["p50"],
        "generated_per_second": report.throughput["per_second"],
        "throughput_unit": report.throughput["unit"],
        "rss_peak_bytes": mem.get("rss_peak_bytes"),
        "cuda_peak_bytes": mem.get("cuda_peak_bytes"),
    }
