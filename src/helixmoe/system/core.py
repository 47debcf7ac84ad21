"""``HelixMoE``: a loaded system (base + experts + router) that routes, generates and verifies.

Data flow of one query (design.md): text → router → RouteDecision → expert (PEFT adapter per row) →
prompt template → greedy generation (optional grammar of the target notation) → verify → Answer.
``batch`` sends many requests through one mixed-expert generation (PEFT ``adapter_names``), which is
where the throughput of a shared base comes from.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from helixmoe.errors import ConfigError, RequestError, SystemLoadError
from helixmoe.routing import RouteDecision
from helixmoe.system.answer import Answer
from helixmoe.system.loading import intent_model, serving_router, system_root
from helixmoe.system.verify import POLICIES, Check, Verifier, apply_policy

__all__ = ["HelixMoE", "check_requests"]

logger = logging.getLogger(__name__)
_MIN_NEW_TOKENS = 24


class HelixMoE:
    """Route, answer and verify requests with a trained system. Build with :meth:`load`."""

    def __init__(
        self,
        *,
        pool: Any,
        router: Any,
        verifier: Verifier,
        config: Any = None,
        root: Path | None = None,
        verify: str = "flag",
        constrained: bool = False,
        max_new_tokens: int = 512,
        task_hints: bool = False,
        frame_requests: bool = False,
        aligned_positions: bool = False,
        retry_branches: int = 4,
    ) -> None:
        if verify not in POLICIES:
            raise ConfigError(f"unknown verify policy {verify!r}; expected one of {', '.join(POLICIES)}")
        self.pool = pool
        self.router = router
        self.verifier = verifier
        self.config = config
        self.root = root
        self.verify_policy = verify
        self.constrained = constrained
        self.max_new_tokens = max_new_tokens
        #: alternatives the ``retry`` policy decodes per failed answer (:mod:`helixmoe.system.retry`)
        self.retry_branches = retry_branches
        self.task_hints = task_hints
        #: how the experts see a request (:data:`helixmoe.models.template.PROMPT_STYLES`)
        self.prompt_style = "frame" if task_hints and frame_requests else "hint" if task_hints else "plain"
        if aligned_positions and self.prompt_style == "frame":
            self.prompt_style = "aligned"
        if task_hints and verifier.intent is None:
            raise SystemLoadError(
                "the experts were trained with task hints (training.task_hints) but there is no intent model "
                "(router/intent) to predict them; retrain the router: helixmoe train --stage router"
            )

    @classmethod
    def load(
        cls,
        path: str | Path | None = None,
        *,
        router: str | None = None,
        verify: str | None = None,
        constrained: bool | None = None,
        device: str | None = None,
        cache_size: int = 4096,
        max_new_tokens: int = 512,
        retry_branches: int | None = None,
    ) -> HelixMoE:
        """Load a system directory (``None`` = the built-in default system).

        Args:
            path: the system directory written by ``helixmoe train``.
            router: use this router kind instead of the saved one (``keyword``, ``classifier``, ``cascade``,
                ``coordinator``).
            verify: verification policy, one of ``off | flag | retry | oracle`` (``None`` = the system's
                ``serving.verify``).
            constrained: decode value requests under the grammar of the predicted target notation
                (``None`` = the system's ``serving.constrained``).
            device: ``cpu``, ``cuda``, ``auto`` (overrides the system config).
            cache_size: LRU size of the routing decision cache (0 disables it).
            max_new_tokens: hard cap on generated tokens per answer.
            retry_branches: alternatives the ``retry`` and ``oracle`` policies decode per failed answer,
                branching at its least certain steps (``None`` = the system's ``serving.retry_branches``;
                0 = only a free answer decoded again under its grammar).

        Raises:
            SystemLoadError: a missing or broken part (named in the message).
        """
        root = system_root(path)
        from helixmoe.models.layout import load_system
        from helixmoe.system.scoring import ExpertScorer

        loaded = load_system(root, device=device)
        pool = loaded.pool
        scorer = ExpertScorer(pool, "coordinator") if "coordinator" in pool.names else None
        chosen = serving_router(loaded.layout.router_dir, router, pool.names, scorer, cache_size)
        return cls(
            pool=pool,
            router=chosen,
            verifier=Verifier(intent_model(loaded.layout.router_dir)),
            config=loaded.config,
            root=root,
            verify=loaded.config.serving.verify if verify is None else verify,
            constrained=loaded.config.serving.constrained if constrained is None else constrained,
            max_new_tokens=max_new_tokens,
            task_hints=loaded.config.training.task_hints,
            frame_requests=loaded.config.training.frame_requests,
            aligned_positions=loaded.config.training.aligned_positions,
            retry_branches=loaded.config.serving.retry_branches if retry_branches is None else retry_branches,
        )

    @property
    def experts(self) -> list[str]:
        return list(self.pool.names)

    def route(self, text: str) -> RouteDecision:
        """The routing decision for one request."""
        check_requests([text])
        return self.router.route(text)  # type: ignore[no-any-return]

    def query(self, text: str, **kwargs: Any) -> str:
        """The answer text for one request (see :meth:`batch` for the keyword arguments)."""
        return self.answer(text, **kwargs).text

    def answer(self, text: str, **kwargs: Any) -> Answer:
        """The full :class:`Answer` for one request.

        Raises:
            RequestError: an empty request, one that is not valid text, or one longer than the base reads
                (:meth:`batch` answers such a row with an empty text instead, and goes on with the others).
        """
        return self.batch([text], **{"skip_too_long": False, **kwargs})[0]

    @property
    def context_tokens(self) -> int | None:
        """The most prompt tokens the base reads (its ``max_position_embeddings``), if it says."""
        from helixmoe.models.base import context_tokens

        return context_tokens(self.pool.base)

    def route_request(self, text: str, **kwargs: Any) -> dict[str, Any]:
        """The published HLX MoE API: a dict with ``specialist``, ``response``, ``confidence``,
        ``verified`` and ``timings`` (plus ``fallback_used``, ``route`` and more)."""
        return self.answer(text, **kwargs).to_dict()

    def batch(
        self,
        texts: Sequence[str],
        *,
        expert: str | None = None,
        experts: Sequence[str] | None = None,
        verify: str | None = None,
        constrained: bool | None = None,
        batch_size: int = 16,
        skip_too_long: bool = True,
    ) -> list[Answer]:
        """Answer many requests; rows routed to different experts share one generation batch.

        Args:
            texts: the requests.
            expert: pin every request to this expert (the router still runs, for the report).
            experts: pin each request to its own expert (e.g. the oracle route, to measure experts alone).
            verify: override the verification policy for this call.
            constrained: override grammar-constrained decoding for this call.
            batch_size: rows per generation batch.
            skip_too_long: answer a request longer than the base reads with an empty text and go on with the
                others (an evaluation, say), instead of raising :class:`RequestError` before decoding.
        """
        check_requests(texts)
        policy = verify or self.verify_policy
        if policy not in POLICIES:
            raise ConfigError(f"unknown verify policy {policy!r}; expected one of {', '.join(POLICIES)}")
        pinned = list(experts) if experts is not None else [expert] * len(texts) if expert else None
        if pinned is not None and len(pinned) != len(texts):
            raise ConfigError(f"{len(texts)} requests but {len(pinned)} pinned experts")
        for name in set(pinned or ()):
            if name not in self.pool.names:
                raise ConfigError(f"unknown expert {name!r}; this system has {', '.join(self.pool.names)}")
        use_grammar = self.constrained if constrained is None else constrained
        t0 = time.perf_counter()
        routes = [self.router.route(t) for t in texts]  # checked above
        t1 = time.perf_counter()
        chosen = pinned if pinned is not None else [r.expert for r in routes]
        # the grammar needs the check's target notation even when nothing is verified
        need_check = policy != "off" or use_grammar
        checks = [self.verifier.check(t) if need_check else Check(None) for t in texts]
        t2 = time.perf_counter()
        # the intent model runs once per request: the check already holds its task when there is one
        hints = [
            (c.task if need_check else self.verifier.task(t)) if self.task_hints else None
            for t, c in zip(texts, checks)
        ]
        targets = [c.target if use_grammar else None for c in checks]
        ids = self._generate_ids(texts, chosen, targets, hints, batch_size, skip_too_long=skip_too_long)
        outputs = self._decode(ids)
        t3 = time.perf_counter()
        answers = [
            Answer(text=o, expert=e, route=r, model_text=o, target=c.target, task=h)
            for o, e, r, c, h in zip(outputs, chosen, routes, checks, hints)
        ]
        if policy != "off":
            self._verify(texts, answers, checks, policy, batch_size, ids, use_grammar)
        t4 = time.perf_counter()
        per_row = 1000.0 / max(1, len(texts))
        for a in answers:
            a.timings = {
                "route": (t1 - t0) * per_row,
                "generate": (t3 - t2) * per_row,
                "verify": ((t2 - t1) + (t4 - t3)) * per_row,
                "total": (t4 - t0) * per_row,
            }
        return answers

    def _verify(
        self,
        texts: Sequence[str],
        answers: list[Answer],
        checks: list[Check],
        policy: str,
        batch_size: int,
        ids: list[list[int]],
        under_grammar: bool,
    ) -> None:
        """Check each answer under ``policy``; ``retry``/``oracle`` search the expert's own alternatives for the
        failed ones (``ids``: the answers' token ids, decoded under the grammar when ``under_grammar``)."""
        from helixmoe.system.retry import retry_failed

        def regenerate(rows: list[int], forced: list[list[int]], observe: Any) -> list[list[int]]:
            return self._generate_ids(
                [texts[i] for i in rows],
                [answers[i].expert for i in rows],
                [checks[i].target for i in rows],
                [answers[i].task for i in rows],
                batch_size=batch_size,
                forced=forced,
                observe=observe,
            )

        def retry(failed: list[int]) -> None:
            eos = self.pool.tokenizer.eos_token_id
            retry_failed(
                answers,
                checks,
                failed,
                regenerate,
                self._decode,
                eos,
                self.retry_branches,
                ids,
                under_grammar,
            )

        apply_policy(policy, answers, checks, retry)

    def _decode(self, ids: Sequence[list[int]]) -> list[str]:
        """Answer texts of token ids."""
        tok = self.pool.tokenizer
        return [tok.decode(row, skip_special_tokens=True).strip() for row in ids]

    def _generate_ids(
        self,
        texts: Sequence[str],
        experts: Sequence[str],
        targets: Sequence[str | None],
        hints: Sequence[str | None],
        batch_size: int,
        *,
        skip_too_long: bool = True,
        forced: Sequence[list[int]] | None = None,
        observe: Any = None,
    ) -> list[list[int]]:
        """Greedy answers (token ids), one expert per row, in batches of ``batch_size`` rows; rows with a target
        notation decode under its grammar, rows with a task hint see it in front of the request; ``forced`` and
        ``observe`` as in :func:`helixmoe.models.decoding.greedy_decode` (``observe`` sees indices into
        ``texts``)."""
        # Rows of all experts share a batch (PEFT adapter_names) and each row leaves it when it stops, so a
        # batch costs about its longest row; batches grouped by expert cost the sum of the groups' longest
        # rows (measured on the tiny CPU system: 2.1x vs 1.5x the throughput of single queries).
        from helixmoe.models.steering import Remapped

        step = max(1, batch_size)
        out: list[list[int]] = []
        for start in range(0, len(texts), step):
            part = slice(start, start + step)
            seen = None if observe is None else Remapped(observe, range(start, min(start + step, len(texts))))
            out.extend(
                self._generate_group(
                    texts[part],
                    experts[part],
                    targets[part],
                    hints[part],
                    skip_too_long,
                    forced=None if forced is None else forced[part],
                    observe=seen,
                )
            )
        return out

    def _generate_group(
        self,
        texts: Sequence[str],
        experts: Sequence[str],
        targets: Sequence[str | None],
        hints: Sequence[str | None],
        skip_too_long: bool = True,
        forced: Sequence[list[int]] | None = None,
        observe: Any = None,
    ) -> list[list[int]]:
        """One mixed-expert generation batch (token ids); a row with a target decodes under its grammar; a row
        longer than the base reads gets an empty answer (``skip_too_long``) or raises :class:`RequestError`."""
        from helixmoe.models.template import aligned_value_at, encode_request, prefix_over, request_prompt

        tok = self.pool.tokenizer
        prompts = [request_prompt(t, h, self.prompt_style) for t, h in zip(texts, hints)]
        aligned = self.prompt_style == "aligned"
        context = self.context_tokens
        cut = [None if context is None else prefix_over(tok, p, context) for p in prompts]
        requests = [
            None if n is not None else encode_request(tok, p, aligned_value_at(p) if aligned else None)
            for p, n in zip(prompts, cut)
        ]
        lengths = [len(r.ids) if r is not None else n or 0 for r, n in zip(requests, cut)]
        keep = [i for i, n in enumerate(lengths) if context is None or n <= context]
        if len(keep) < len(prompts):  # longer than the base reads: no minutes of decoding
            if not skip_too_long:
                i = max(range(len(prompts)), key=lambda k: lengths[k])
                what = f"more than {lengths[i]}" if cut[i] is not None else str(lengths[i])
                raise RequestError(
                    f"the request is {what} tokens long; this system's base reads at most {context} "
                    "(model.max_seq_len)"
                )
            logger.warning(
                "%d request(s) longer than the base's %s tokens: no answer", len(prompts) - len(keep), context
            )
            out: list[list[int]] = [[] for _ in prompts]
            if keep:
                from helixmoe.models.steering import Remapped

                answered = self._generate_group(
                    [texts[i] for i in keep],
                    [experts[i] for i in keep],
                    [targets[i] for i in keep],
                    [hints[i] for i in keep],
                    forced=None if forced is None else [forced[i] for i in keep],
                    observe=None if observe is None else Remapped(observe, keep),
                )
                for i, row in zip(keep, answered):
                    out[i] = row
            return out
        # per row: an answer never depends on its batch (exact in float32; see models.decoding for bf16)
        fitting = [r for r in requests if r is not None]  # all of them: every request fits here
        rows = [r.ids for r in fitting]
        limits = [self.token_limit(len(r), e) for r, e in zip(rows, experts)]
        kwargs: dict[str, Any] = {}
        if any(t is not None for t in targets):
            from helixmoe.system.constrain import grammar_processor

            # each row finishes its value within its own cap, so its answer does not depend on its batch
            kwargs["logits_processor"] = grammar_processor(tok, list(targets), limits)
        if aligned:
            kwargs["first_positions"] = [r.answer_position for r in fitting]
        if forced is not None:
            kwargs["forced"] = forced
        if observe is not None:
            kwargs["observe"] = observe
        return self.pool.generate_ids(rows, list(experts), limits, **kwargs)  # type: ignore[no-any-return]

    def model_prompt(self, text: str) -> str:
        """The request as the experts see it: with the intent model's task hint line when the system was
        trained with ``training.task_hints`` (and only the value's text after it for a value task with
        ``training.frame_requests``), else unchanged."""
        from helixmoe.models.template import request_prompt

        return request_prompt(text, self.verifier.task(text) if self.task_hints else None, self.prompt_style)

    def token_limit(self, prompt_tokens: int, expert: str | None = None) -> int:
        """New-token cap for a prompt: the expert's fitted answer budget (``expert.json`` ``answer_tokens``:
        ``offset + slope * prompt_tokens``, covering every training answer), else four times the prompt;
        never above ``max_new_tokens``."""
        budget = self.pool.info(expert).get("answer_tokens") if expert in self.pool.names else None
        if isinstance(budget, dict) and {"offset", "slope"} <= budget.keys():
            cap = math.ceil(float(budget["offset"]) + float(budget["slope"]) * prompt_tokens)
        else:
            cap = 4 * prompt_tokens
        return min(self.max_new_tokens, max(_MIN_NEW_TOKENS, cap))


def check_requests(texts: Sequence[str]) -> None:
    """Refuse what no expert can answer: a request that is not text, is empty, or holds characters that are
    not valid Unicode (undecodable bytes of a terminal or pipe arrive as lone surrogates)."""
    for i, text in enumerate(texts):
        where = "the request" if len(texts) == 1 else f"request {i + 1}"
        if not isinstance(text, str):
            raise RequestError(f"{where} is a {type(text).__name__}, not text")
        if not text.strip():
            raise RequestError(f"{where} is empty")
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as err:
            raise RequestError(
                f"{where} is not valid text: an undecodable byte at character {err.start + 1} "
                "(is the terminal or file UTF-8?)"
            ) from None
