"""After training: exact match of each trained expert on held-out splits, graded by the task families.

Owns the training run's own closing check (``reports/exact_match.json``), which the benchmark also uses:
each expert answers its own slice of the ``test`` and ``ood`` corpus splits (oracle routing; routing
accuracy is the routing issue's job) through :class:`~helixmoe.models.ExpertPool` generation. The full
evaluation harness (latency, confusion matrices, end-to-end) is :mod:`helixmoe.evaluation`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from helixmoe.training.checkpoints import write_json_atomic

__all__ = ["evaluate_experts"]

logger = logging.getLogger(__name__)


def evaluate_experts(
    system_dir: str | Path,
    corpus_dir: str | Path,
    *,
    splits: Sequence[str] = ("test", "ood"),
    limit: int | None = 200,
    batch_size: int = 64,
    experts: Sequence[str] | None = None,
    out_path: str | Path | None = None,
    bare_base: bool = False,
) -> dict[str, dict[str, dict[str, float]]]:
    """Exact match (and validity) per expert and split: ``{expert: {split: {"exact_match", "valid", "n"}}}``.

    Args:
        system_dir: a trained system directory.
        corpus_dir: directory with ``<split>.jsonl`` corpus files.
        splits: which splits to grade.
        limit: at most this many examples per expert and split (``None`` = all).
        batch_size: generation batch size.
        experts: experts to grade (default: all of the system).
        out_path: also write the result as JSON here.
        bare_base: answer each expert's slice with the bare base instead (no adapter): beside the normal
            result, what the adapters add over the base they were trained on.
    """
    from helixmoe.models.layout import load_system
    from helixmoe.tasks import grade, load_corpus
    from helixmoe.training.stages import model_prompt, value_at

    loaded = load_system(system_dir, experts=experts)
    pool = loaded.pool
    names = list(experts or loaded.config.experts)
    style = loaded.config.training.prompt_style  # each example's own task: the experts alone, given the task
    result: dict[str, dict[str, dict[str, float]]] = {name: {} for name in names}
    for split in splits:
        path = Path(corpus_dir) / f"{split}.jsonl"
        if not path.is_file():
            logger.warning("no %s split at %s; skipped", split, path)
            continue
        corpus = load_corpus(path)
        for name in names:
            examples = [e for e in corpus if e.expert == name][:limit]
            if not examples:
                continue
            started = time.perf_counter()
            longest = max(
                len(pool.tokenizer(e.response, add_special_tokens=False)["input_ids"]) for e in examples
            )
            prompts = [model_prompt(e, style) for e in examples]
            answers = pool.generate(
                prompts,
                [None if bare_base else name] * len(examples),
                max_new_tokens=longest + 16,
                batch_size=batch_size,
                value_at=[value_at(p, style) for p in prompts],
            )
            grades = [grade(e, a) for e, a in zip(examples, answers, strict=True)]
            result[name][split] = {
                "exact_match": sum(g.exact for g in grades) / len(grades),
                "valid": sum(g.valid for g in grades) / len(grades),
                "n": len(grades),
                "seconds": round(time.perf_counter() - started, 2),
            }
            logger.info("%s/%s: exact match %.3f", name, split, result[name][split]["exact_match"])
    if out_path is not None:
        write_json_atomic(out_path, result)
    return result


def format_table(result: dict[str, dict[str, dict[str, Any]]]) -> str:
    """A Markdown table of :func:`evaluate_experts` output."""
    splits = sorted({s for per in result.values() for s in per})
    lines = [
        "| expert | " + " | ".join(f"{s} exact match" for s in splits) + " |",
        "| --- | " + " | ".join("---" for _ in splits) + " |",
    ]
    for name, per in result.items():
        cells = [f"{per[s]['exact_match']:.1%} (n={per[s]['n']})" if s in per else "—" for s in splits]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
