"""Generation-based validation: greedy-decode a fixed sample of prompts and grade the answers exactly.

Owns :class:`ExactMatchEvaluator`, the ``generative_evaluator`` of
:class:`~helixmoe.training.harness.HelixTrainer` that makes ``eval_exact_match`` the model-selection metric.
Decoding is HF ``generate`` on the shared prompt template (greedy, left padding, stop at EOS); grading is a callable supplied by the caller
(the task families' graders through the oracle in the stages; plain string equality in tests).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from helixmoe.models.template import render_prompt

__all__ = ["EvalSample", "ExactMatchEvaluator", "exact_string", "generate_batch"]


@dataclass(frozen=True)
class EvalSample:
    """A validation prompt (the user's text, no template), its reference and grading context (``meta``).

    ``value_at``: the answer's positions align to the value at this offset of the prompt
    (:func:`helixmoe.models.template.encode_request`); ``None`` = ordinary positions.
    """

    prompt: str
    reference: str
    meta: dict[str, Any] = field(default_factory=dict)
    value_at: int | None = None


#: ``grade(sample, prediction) -> True`` when the prediction is exactly right.
Grader = Callable[[EvalSample, str], bool]


def exact_string(sample: EvalSample, prediction: str) -> bool:
    """The simplest grader: the stripped prediction equals the stripped reference."""
    return prediction.strip() == sample.reference.strip()


@torch.no_grad()
def generate_batch(model: Any, tokenizer: Any, prompts: Sequence[str], *, max_new_tokens: int) -> list[str]:
    """Greedy completions of ``prompts`` (left-padded batch), decoded without special tokens."""
    previous_side = tokenizer.padding_side
    tokenizer.padding_side = "left"
    try:
        enc = tokenizer(list(prompts), return_tensors="pt", padding=True, add_special_tokens=False)
    finally:
        tokenizer.padding_side = previous_side
    device = next(model.parameters()).device
    out = model.generate(
        input_ids=enc["input_ids"].to(device),
        attention_mask=enc["attention_mask"].to(device),
        max_new_tokens=max_new_tokens,
        do_sample=False,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    new_tokens = out[:, enc["input_ids"].shape[1] :]  # (B, T_new)
    return list(tokenizer.batch_decode(new_tokens, skip_special_tokens=True))


class ExactMatchEvaluator:
    """``model -> {"exact_match": fraction}`` over a fixed sample, graded by ``grade``.

    Args:
        tokenizer: the HF tokenizer of the model (needs pad and EOS tokens).
        samples: the validation sample (kept fixed so evaluations are comparable).
        grade: ``(sample, prediction) -> bool``; default compares stripped strings.
        max_new_tokens: generation cap; default = longest reference in tokens + 8.
        batch_size: prompts decoded together.
    """

    def __init__(
        self,
        tokenizer: Any,
        samples: Sequence[EvalSample],
        *,
        grade: Grader = exact_string,
        max_new_tokens: int | None = None,
        batch_size: int = 32,
    ) -> None:
        if not samples:
            raise ValueError("ExactMatchEvaluator needs at least one sample")
        self.tokenizer = tokenizer
        self.samples = list(samples)
        self.grade = grade
        self.batch_size = batch_size
        if max_new_tokens is None:
            longest = max(
                len(tokenizer(s.reference, add_special_tokens=False)["input_ids"]) for s in self.samples
            )
            max_new_tokens = longest + 8
        self.max_new_tokens = max_new_tokens
        self.last_predictions: list[str] = []

    def __call__(self, model: Any) -> dict[str, float]:
        predictions: list[str] = []
        if any(s.value_at is not None for s in self.samples):
            predictions = self._aligned(model)
        for start in range(len(predictions), len(self.samples), self.batch_size):
            chunk = self.samples[start : start + self.batch_size]
            predictions += generate_batch(
                model,
                self.tokenizer,
                [render_prompt(s.prompt) for s in chunk],
                max_new_tokens=self.max_new_tokens,
            )
        self.last_predictions = predictions
        correct = sum(self.grade(s, p) for s, p in zip(self.samples, predictions, strict=True))
        return {"exact_match": correct / len(self.samples)}

    def _aligned(self, model: Any) -> list[str]:
        """Every sample through :func:`~helixmoe.models.decoding.greedy_decode` with its own answer positions
        (HF ``generate`` numbers positions itself, so it cannot decode aligned answers)."""
        from helixmoe.models.decoding import greedy_decode
        from helixmoe.models.template import encode_request

        requests = [encode_request(self.tokenizer, s.prompt, s.value_at) for s in self.samples]
        was_training = model.training
        model.eval()
        try:
            rows = greedy_decode(
                model,
                [r.ids for r in requests],
                [self.max_new_tokens] * len(requests),
                eos_token_id=self.tokenizer.eos_token_id,
                pad_token_id=self.tokenizer.pad_token_id,
                batch_size=self.batch_size,
                first_positions=[r.answer_position for r in requests],
            )
        finally:
            model.train(was_training)
        return [self.tokenizer.decode(row, skip_special_tokens=True) for row in rows]
