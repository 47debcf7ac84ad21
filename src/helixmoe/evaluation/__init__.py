"""Evaluation: measure a routed system of experts as one system, exactly (layer 2).

A harness over a narrow predictor protocol (``experts``, ``route(text)``, ``batch(texts, experts=,
verify=, batch_size=)``), so it runs on :class:`helixmoe.system.HelixMoE` and on a fake in tests. It
reports per expert and per task family exact match, value-equivalence and validity (model only) and
verified accuracy (after the verification policy) with the fallback rate; the routing confusion matrix
beside the published keyword rules; perfect-router vs end-to-end accuracy with error attribution;
latency percentiles; tokens/s; peak memory; parameter and adapter sizes. Reports are JSON, Markdown and
PNG. Public API::

    evaluate(predictor, examples, *, n=None, batch_size=16, verify="flag", ...) -> Report
    evaluate_system(moe, split="test", *, config=None, out=None) -> (Report, {name: path})
    write_report(report, out_dir, *, plots=True) -> {name: path}
    grade_answers_file(corpus, answers_jsonl, *, split=None) -> dict
    resolve_examples(split, *, system_root=None, n=None, seed=1234, experts=None) -> (examples, source)
    Report  Predictor  PUBLISHED  render_markdown
    percentile  latency_summary  confusion_matrix  attribute_errors  Attribution
"""

from helixmoe.evaluation.data import grade_answers_file, resolve_examples, split_examples
from helixmoe.evaluation.harness import evaluate
from helixmoe.evaluation.markdown import render_markdown
from helixmoe.evaluation.metrics import (
    Attribution,
    Tally,
    accuracy,
    attribute_errors,
    confusion_matrix,
    latency_summary,
    percentile,
)
from helixmoe.evaluation.protocol import Predictor
from helixmoe.evaluation.published import PUBLISHED
from helixmoe.evaluation.report import Report, write_report
from helixmoe.evaluation.run import default_report_dir, evaluate_system

__all__ = [
    "PUBLISHED",
    "Attribution",
    "Predictor",
    "Report",
    "Tally",
    "accuracy",
    "attribute_errors",
    "confusion_matrix",
    "default_report_dir",
    "evaluate",
    "evaluate_system",
    "grade_answers_file",
    "latency_summary",
    "percentile",
    "render_markdown",
    "resolve_examples",
    "split_examples",
    "write_report",
]
