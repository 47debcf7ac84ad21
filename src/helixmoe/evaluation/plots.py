"""PNG plots of an evaluation report (matplotlib, Agg backend: no display needed).

``confusion.png`` (routing confusion matrices: the system's router and the keyword rules),
``families.png`` (per-family exact / verified accuracy bars), ``latency.png`` (histograms of single-query
totals and routing decisions) and ``training_curves.png`` (redrawn by
:func:`helixmoe.training.metrics.plot_curves` when the system recorded ``reports/training_metrics.jsonl``).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from helixmoe.atomic import atomic_path
from helixmoe.evaluation.metrics import percentile
from helixmoe.evaluation.published import fmt_ms

if TYPE_CHECKING:
    from helixmoe.evaluation.report import Report

__all__ = ["write_plots"]

logger = logging.getLogger(__name__)


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: Path) -> Path:
    """Save atomically (temp file in the same directory, then rename) and close the figure."""
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=110, format="png")
    finally:
        _pyplot().close(fig)
    return path


def write_plots(report: Report, out: Path) -> dict[str, Path]:
    """Draw every plot the report has data for; return name -> path."""
    written = {
        "confusion": _save(_confusion(report), out / "confusion.png"),
        "families": _save(_families(report), out / "families.png"),
        "latency": _save(_latency(report), out / "latency.png"),
    }
    metrics = report.training.get("metrics_file")
    if metrics and Path(metrics).is_file():
        target = out / "training_curves.png"
        curve: Path | None = target
        if not target.is_file() or target.stat().st_mtime < Path(metrics).stat().st_mtime:
            # training's own plotter (one look for every curve); already drawn when out is reports/ itself
            from helixmoe.training.metrics import plot_curves

            curve = plot_curves(
                metrics, target, title=f"{report.meta.get('system_name') or 'system'} training"
            )
        if curve is not None:
            written["training_curves"] = Path(curve)
    return written


def _confusion(report: Report) -> Any:
    plt = _pyplot()
    panels = [(f"router ({report.meta.get('router')})", report.routing)]
    if report.routing.get("keyword"):
        panels.append(("keyword rules (published)", report.routing["keyword"]))
    fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 4.6), squeeze=False)
    for ax, (title, data) in zip(axes[0], panels):
        labels, matrix = data["labels"], data["matrix"]
        ax.imshow(matrix, cmap="Blues")
        peak = max((max(row) for row in matrix), default=0) or 1
        for i, row in enumerate(matrix):
            for j, count in enumerate(row):
                ax.text(
                    j,
                    i,
                    str(count),
                    ha="center",
                    va="center",
                    color="white" if count > peak / 2 else "black",
                    fontsize=9,
                )
        ax.set_xticks(range(len(labels)), labels, rotation=30, ha="right")
        ax.set_yticks(range(len(labels)), labels)
        ax.set_xlabel("routed to")
        ax.set_ylabel("true expert")
        acc = data.get("accuracy")
        ax.set_title(f"{title}: {100 * acc:.1f}%" if acc is not None else title, fontsize=10)
    fig.tight_layout()
    return fig


def _families(report: Report) -> Any:
    plt = _pyplot()
    names = list(report.by_family)
    fig, ax = plt.subplots(figsize=(max(6.0, 0.9 * len(names) + 2), 4.4))
    width = 0.27
    series = (
        ("exact", "exact (model only)"),
        ("valid", "valid (model only)"),
        ("verified_accuracy", "verified accuracy"),
    )
    for k, (key, label) in enumerate(series):
        values = [report.by_family[n][key] or 0.0 for n in names]
        ax.bar([i + (k - 1) * width for i in range(len(names))], values, width, label=label)
    ax.set_xticks(range(len(names)), [f"{n}\n(n={report.by_family[n]['n']})" for n in names], fontsize=8)
    ax.set_ylim(0, 1.2)
    ax.set_yticks([0, 0.2, 0.4, 0.6, 0.8, 1.0])
    ax.set_ylabel("fraction of examples")
    ax.set_title(f"accuracy per task family ({report.meta.get('split', '')})")
    ax.legend(fontsize="small", loc="upper center", ncol=3, frameon=False)
    fig.tight_layout()
    return fig


def _latency(report: Report) -> Any:
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    samples = report.latency.get("samples", {})
    for ax, key, title in (
        (axes[0], "single_total_ms", "single query, total (ms)"),
        (axes[1], "route_ms", "routing decision (ms)"),
    ):
        values = samples.get(key) or []
        if values:
            ax.hist(values, bins=min(30, max(5, len(values) // 2)), color="tab:blue", alpha=0.8)
            for q, style in ((50, "-"), (95, "--"), (99, ":")):
                x = percentile(values, q)
                ax.axvline(x, color="black", linestyle=style, linewidth=1, label=f"p{q} {fmt_ms(x)}")
            ax.legend(fontsize="small")
            ax.yaxis.get_major_locator().set_params(integer=True)
        else:
            ax.text(0.5, 0.5, "no samples", ha="center", va="center", transform=ax.transAxes)
        ax.set_title(title, fontsize=10)
        ax.set_ylabel("requests")
    fig.tight_layout()
    return fig
