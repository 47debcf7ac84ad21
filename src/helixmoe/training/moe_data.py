"""Mixed-domain training data for the token-level MoE: examples with a domain label, split, encoded.

Owns :class:`DomainExample`, reading them from the system corpus (domain = the example's expert) or from a
user JSONL file (``{"prompt", "response", "domain"}`` per line), the stratified train/eval split (90/10 by
default), and :class:`DomainDataset` + :func:`domain_collator`, which add a ``domain`` index to the
harness's encoding (:func:`helixmoe.training.data.encode_pair`, loss on the response only) and padding
collator. The domain label feeds the optional domain head and the per-domain reports.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from helixmoe.errors import DataError
from helixmoe.tasks.jsonl import read_jsonl
from helixmoe.training.data import TextPair, encode_pair, make_collator

__all__ = [
    "DomainDataset",
    "DomainExample",
    "corpus_examples",
    "domain_collator",
    "read_domain_jsonl",
    "split_train_eval",
]


@dataclass(frozen=True)
class DomainExample:
    """One prompt/response pair and its domain; ``source`` is the task Example when it came from a corpus."""

    prompt: str
    response: str
    domain: str
    source: Any = field(default=None, compare=False, repr=False)


def corpus_examples(examples: Sequence[Any]) -> list[DomainExample]:
    """Corpus examples (:class:`helixmoe.tasks.Example`) as domain examples; the domain is the expert."""
    return [DomainExample(e.prompt, e.response, e.expert, e) for e in examples]


def read_domain_jsonl(path: str | Path) -> list[DomainExample]:
    """Read ``{"prompt", "response", "domain"}`` lines.

    Raises:
        DataError: missing file, bad JSON or a missing/non-string field (with the line number).
    """
    p = Path(path)
    out = []
    for number, row in read_jsonl(p):  # missing file, bad UTF-8 or JSON: DataError with the line
        if not isinstance(row, dict) or not all(
            isinstance(row.get(k), str) for k in ("prompt", "response", "domain")
        ):
            raise DataError(f'{p}:{number}: need string fields "prompt", "response" and "domain"')
        out.append(DomainExample(row["prompt"], row["response"], row["domain"]))
    if not out:
        raise DataError(f"{p}: no examples")
    return out


def split_train_eval(
    examples: Sequence[DomainExample], fraction: float = 0.1, seed: int = 0
) -> tuple[list[DomainExample], list[DomainExample]]:
    """Stratified split: ``fraction`` of each domain (at least one example) goes to eval.

    Raises:
        DataError: a domain has fewer than two examples.
    """
    by_domain: dict[str, list[DomainExample]] = {}
    for ex in examples:
        by_domain.setdefault(ex.domain, []).append(ex)
    rng = random.Random(f"helixmoe.moe/{seed}")
    train, held = [], []
    for domain, items in sorted(by_domain.items()):
        if len(items) < 2:
            raise DataError(f"domain {domain!r} has {len(items)} example(s); need at least 2 to split")
        items = items[:]
        rng.shuffle(items)
        n_eval = max(1, round(fraction * len(items)))
        held += items[:n_eval]
        train += items[n_eval:]
    rng.shuffle(train)
    return train, held


class DomainDataset(torch.utils.data.Dataset):  # type: ignore[type-arg]
    """Encoded examples (loss on the response only) with a ``domain`` index; too-long ones are skipped.

    Args:
        tokenizer: HF tokenizer with EOS and pad tokens.
        examples: the examples.
        domains: domain names; the index of ``example.domain`` in it is the label.
        max_len: maximum tokens of prompt + response.
    """

    def __init__(
        self, tokenizer: Any, examples: Sequence[DomainExample], domains: Sequence[str], *, max_len: int
    ) -> None:
        index = {d: i for i, d in enumerate(domains)}
        self.rows: list[dict[str, Any]] = []
        self.skipped = 0
        for ex in examples:
            try:
                row = encode_pair(tokenizer, TextPair(ex.prompt, ex.response), max_len=max_len)
            except DataError:
                self.skipped += 1
                continue
            self.rows.append({**row, "domain": index[ex.domain]})
        if not self.rows:
            raise DataError("no MoE training example fits in max_seq_len")

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> dict[str, Any]:
        return self.rows[i]

    @property
    def num_tokens(self) -> int:
        return sum(len(r["input_ids"]) for r in self.rows)


def domain_collator(tokenizer: Any) -> Any:
    """The harness's padding collator, with the ``domain`` indices stacked into a (B,) long tensor."""
    pad = make_collator(tokenizer)

    def collate(rows: list[dict[str, Any]]) -> dict[str, Any]:
        domains = torch.tensor([r["domain"] for r in rows], dtype=torch.long)  # (B,)
        batch: dict[str, Any] = pad([{k: v for k, v in r.items() if k != "domain"} for r in rows])
        batch["domain"] = domains
        return batch

    return collate
