"""Score candidate answers with an expert's log-likelihood (the coordinator router's model side).

One forward pass over ``B = len(candidates)`` rows ``prompt + candidate + EOS``; the score of a candidate
is the sum of its tokens' log-probabilities (EOS included, so a name cannot win by being a prefix of a
longer one).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from helixmoe.models.base import context_tokens
from helixmoe.models.template import PREFIX_CHARS_PER_TOKEN, encode_prompt

__all__ = ["ExpertScorer"]


class ExpertScorer:
    """``scorer(prompt, candidates) -> log-likelihoods`` using one expert of an :class:`ExpertPool`."""

    def __init__(self, pool: Any, expert: str) -> None:
        self.pool = pool
        self.expert = expert

    @torch.inference_mode()
    def __call__(self, prompt: str, candidates: Sequence[str]) -> list[float]:
        tok = self.pool.tokenizer
        names = [[*tok.encode(c, add_special_tokens=False), tok.eos_token_id] for c in candidates]
        context = context_tokens(self.pool.base)
        if context is not None:
            # a request longer than the base reads is scored on its head (the answer stage then refuses it
            # or leaves it unanswered); the text is cut first, so a huge one is never tokenised whole
            prompt = prompt[: PREFIX_CHARS_PER_TOKEN * context]
        prompt_ids = encode_prompt(tok, prompt)
        if context is not None:
            prompt_ids = prompt_ids[: max(1, context - max(map(len, names)))]
        rows = [prompt_ids + name for name in names]
        width = max(len(r) for r in rows)
        device = next(self.pool.model.parameters()).device
        ids = torch.tensor([r + [tok.pad_token_id] * (width - len(r)) for r in rows], device=device)  # (B, T)
        mask = torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r in rows], device=device)  # (B, T)
        kwargs: dict[str, Any] = {"input_ids": ids, "attention_mask": mask}
        if self.expert in self.pool.names:
            kwargs["adapter_names"] = [self.expert] * len(rows)
        logits = self.pool.model(**kwargs).logits[:, :-1].float()  # (B, T-1, V)
        logp = torch.log_softmax(logits, dim=-1).gather(-1, ids[:, 1:, None])[..., 0]  # (B, T-1)
        # each candidate's tokens: positions start..len(row)-2 (logits at t predict token t+1); one host copy
        at = torch.arange(width - 1, device=device)  # (T-1,)
        ends = torch.tensor([len(r) - 1 for r in rows], device=device)  # (B,)
        take = (at >= len(prompt_ids) - 1) & (at[None, :] < ends[:, None])  # (B, T-1)
        scores: list[float] = logp.masked_fill(~take, 0.0).sum(-1).tolist()  # float32 -> Python floats
        return scores
