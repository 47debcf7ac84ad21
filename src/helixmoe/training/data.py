"""Training examples as token tensors: prompt+response encoding, response-only labels, padding collator.

Owns the one rule that matters for expert fine-tuning: the loss is on the response only (prompt positions
get label ``-100``, via the shared prompt template :func:`helixmoe.models.template.encode_example`), while
base pretraining (``response_only=False``) learns every token of prompt + response. Padding and
batching reuse HF ``DataCollatorForSeq2Seq`` (pads ``labels`` with ``-100``), which works for decoder-only
models as well.

:class:`ShuffledLengthGroupedSampler` is hand-written: HF's ``LengthGroupedSampler`` sorts each mega-batch by
length, so 50 batches in a row run from the longest examples to the shortest, a saw-tooth that kept the copy
warm-up from learning at all (``benchmarks/bench_copy_warmup.py``). This one groups the same way (as little
padding) and then shuffles the order of the batches.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from transformers import DataCollatorForSeq2Seq

from helixmoe.errors import DataError
from helixmoe.models.template import IGNORE_INDEX, EncodedExample, encode_example, encode_examples

__all__ = ["EncodedDataset", "ShuffledLengthGroupedSampler", "TextPair", "encode_pair", "make_collator"]


@dataclass(frozen=True)
class TextPair:
    """One example as text: the user's prompt (no template) and the reference response.

    ``value_at``: align the response's positions to the value at this character offset of the prompt
    (``training.aligned_positions``; :func:`helixmoe.models.template.encode_request`), ``None`` = ordinary.
    """

    prompt: str
    response: str
    value_at: int | None = None


def encode_pair(
    tokenizer: Any, pair: TextPair, *, max_len: int, response_only: bool = True
) -> dict[str, list[int]]:
    """Token ids of the templated ``prompt + response + EOS`` (:mod:`helixmoe.models.template`) with labels.

    Labels are ``-100`` on the prompt when ``response_only`` (expert fine-tuning), else every token
    (base pretraining).

    Raises:
        DataError: no EOS token, or the example does not fit in ``max_len`` tokens (truncating would
            teach a cut answer that never stops).
    """
    encoded = encode_example(
        tokenizer, pair.prompt, pair.response, max_length=max_len, value_at=pair.value_at
    )
    return _row(encoded, response_only)


def _row(encoded: EncodedExample, response_only: bool) -> dict[str, list[int]]:
    labels = encoded.labels if response_only else list(encoded.input_ids)
    row = {"input_ids": encoded.input_ids, "attention_mask": [1] * len(encoded.input_ids), "labels": labels}
    if encoded.position_ids is not None:
        row["position_ids"] = encoded.position_ids
    return row


class EncodedDataset(torch.utils.data.Dataset):  # type: ignore[type-arg]
    """A map-style dataset of pre-encoded examples (see :func:`encode_pair`).

    Examples longer than ``max_len`` are dropped with a count in ``skipped`` when ``skip_long`` is set,
    otherwise they raise :class:`~helixmoe.errors.DataError`.
    """

    def __init__(
        self,
        tokenizer: Any,
        pairs: Sequence[TextPair],
        *,
        max_len: int,
        response_only: bool = True,
        skip_long: bool = False,
    ) -> None:
        self.rows: list[dict[str, list[int]]] = []
        self.skipped = 0
        triples = [(pair.prompt, pair.response, pair.value_at) for pair in pairs]
        for encoded in encode_examples(tokenizer, triples, max_length=max_len):  # as encode_pair, batched
            if isinstance(encoded, DataError):
                if not skip_long:
                    raise encoded
                self.skipped += 1
            else:
                self.rows.append(_row(encoded, response_only))
        if not self.rows:
            raise DataError("no training example fits (empty slice or max_seq_len too small)")

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> dict[str, list[int]]:
        return self.rows[index]

    @property
    def num_tokens(self) -> int:
        """Total tokens over all rows (for throughput figures)."""
        return sum(len(row["input_ids"]) for row in self.rows)


def make_collator(tokenizer: Any) -> Callable[[list[dict[str, list[int]]]], dict[str, torch.Tensor]]:
    """Right-padding collator that pads ``labels`` with ``-100`` (the tokenizer must have a pad token).

    Rows with ``position_ids`` (aligned answers) get them padded too; a batch where some rows have them
    and others not numbers the others ``0..T-1``, as the model would.
    """
    if tokenizer.pad_token_id is None:
        raise DataError("the tokenizer has no pad token")
    seq2seq = DataCollatorForSeq2Seq(
        tokenizer, padding=True, label_pad_token_id=IGNORE_INDEX, return_tensors="pt"
    )

    def collate(rows: list[dict[str, list[int]]]) -> dict[str, torch.Tensor]:
        if not any("position_ids" in row for row in rows):
            return dict(seq2seq(rows))
        positions = [row.get("position_ids") or list(range(len(row["input_ids"]))) for row in rows]
        batch = dict(seq2seq([{k: v for k, v in row.items() if k != "position_ids"} for row in rows]))
        width = batch["input_ids"].shape[1]
        # padding continues each row's numbering; its keys are masked out and its labels ignored
        batch["position_ids"] = torch.tensor(
            [p + list(range(p[-1] + 1, p[-1] + 1 + width - len(p))) for p in positions]
        )  # (B, T)
        return batch

    return collate


class ShuffledLengthGroupedSampler(torch.utils.data.Sampler[int]):
    """Indices in batches of similar length, the batches in random order.

    Each epoch: a random permutation, cut into mega-batches of ``mega_batch`` batches; each mega-batch is
    sorted by length and cut into batches of ``batch_size``; then all batches are shuffled. Randomness comes
    from torch's global generator (which the Trainer seeds and restores on resume), like HF's samplers.
    """

    def __init__(self, lengths: Sequence[int], batch_size: int, mega_batch: int = 50) -> None:
        if batch_size < 1 or mega_batch < 1:
            raise ValueError("batch_size and mega_batch must be at least 1")
        self.lengths = list(lengths)
        self.batch_size = batch_size
        self.mega_batch = mega_batch

    def __len__(self) -> int:
        return len(self.lengths)

    def __iter__(self) -> Iterator[int]:
        order = torch.randperm(len(self.lengths)).tolist()
        size = self.batch_size * self.mega_batch
        batches = []
        for start in range(0, len(order), size):
            mega = sorted(order[start : start + size], key=lambda i: self.lengths[i])
            batches += [mega[i : i + self.batch_size] for i in range(0, len(mega), self.batch_size)]
        for b in torch.randperm(len(batches)).tolist():
            yield from batches[b]
