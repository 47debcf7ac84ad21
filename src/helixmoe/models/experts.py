"""``ExpertPool``: one shared base model and named LoRA experts on top of it, via PEFT.

An *expert* is a named PEFT LoRA adapter. On disk each expert is the PEFT layout (``adapter_config.json``
+ ``adapter_model.safetensors``, loadable by plain ``PeftModel.from_pretrained`` and by vLLM
``--lora-modules``) plus ``expert.json`` (name, LoRA settings and free-form metadata). Everything here is
PEFT: adapter switching (``set_adapter``), mixed-expert batches (PEFT ``adapter_names``, one adapter per
row, ``None`` = the bare base), merging (``merge_and_unload``). Greedy generation runs in
:func:`helixmoe.models.decoding.greedy_decode`, which drops each row from the batch when it stops (HF
``generate`` keeps finished rows in every step; that module says what was measured); any other HF
``generate`` argument (sampling, stopping criteria...) goes to HF ``generate`` as before.

Public API::

    pool = ExpertPool(base, tokenizer)
    pool.add(name, lora=LoRAConfig(), info=None)     pool.load(name, directory, trainable=False)
    pool.save(name, directory)                       pool.activate(name)      pool.delete(name)
    pool.names   pool.active   pool.model   pool.base   pool.tokenizer   pool.info(name) -> dict
    pool.generate(prompts, experts, max_new_tokens=128) -> list[str]    (max_new_tokens: int or one per row)
    pool.generate_ids(prompt_ids, experts, max_new_tokens=128, batch_size=None, logits_processor=None,
                      **generate_kwargs) -> list[list[int]]
    pool.merge(name, out_dir) -> Path                lora_to_peft(LoRAConfig) -> peft.LoraConfig
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import os
import shutil
import warnings
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, cast

import torch
from peft import LoraConfig as PeftLoraConfig
from peft import PeftModel, get_peft_model
from safetensors import SafetensorError
from transformers import GenerationConfig, PreTrainedModel

from helixmoe.atomic import read_json
from helixmoe.config.model import LoRAConfig
from helixmoe.config.system import EXPERT_NAME_RE
from helixmoe.errors import ConfigError, SystemLoadError
from helixmoe.models.base import is_quantized, save_base
from helixmoe.models.decoding import greedy_decode
from helixmoe.models.layout import ADAPTER_CONFIG, ADAPTER_WEIGHTS, EXPERT_META, atomic_dir
from helixmoe.models.template import encode_request

__all__ = ["ExpertPool", "lora_to_peft", "wrapping_quietly"]

logger = logging.getLogger(__name__)


@contextlib.contextmanager
def wrapping_quietly() -> Iterator[None]:
    """Create or load PEFT models inside: PEFT 0.21 reads transformers 5's deprecated
    ``is_gradient_checkpointing`` whenever it wraps a model, a FutureWarning from one library about the other
    on every load and training run, with nothing for a user to act on."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "`is_gradient_checkpointing` is deprecated", FutureWarning)
        yield


def lora_to_peft(lora: LoRAConfig) -> PeftLoraConfig:
    """The PEFT ``LoraConfig`` for a Helix MoE :class:`~helixmoe.config.LoRAConfig` (causal LM task)."""
    return PeftLoraConfig(
        r=lora.r,
        lora_alpha=lora.alpha,
        lora_dropout=lora.dropout,
        target_modules=list(lora.target_modules),
        bias="none",
        task_type="CAUSAL_LM",
    )


class ExpertPool:
    """One base model plus named LoRA experts; the base is wrapped by PEFT once the first expert arrives.

    Args:
        base: A causal LM (from :mod:`helixmoe.models.base`); PEFT injects LoRA layers into it in place.
        tokenizer: Its tokenizer (pad and eos tokens set).
    """

    def __init__(self, base: PreTrainedModel, tokenizer: Any) -> None:
        self.base = base
        self.tokenizer = tokenizer
        self._peft: PeftModel | None = None
        self._info: dict[str, dict[str, Any]] = {}

    @property
    def model(self) -> torch.nn.Module:
        """The model to run: the PEFT wrapper once an expert exists, else the bare base."""
        return self._peft if self._peft is not None else self.base

    @property
    def names(self) -> list[str]:
        """Expert names in the order they were added or loaded."""
        return list(self._info)

    @property
    def active(self) -> str | None:
        """The expert a plain forward pass uses (``None`` before any expert exists)."""
        return self._peft.active_adapter if self._peft is not None else None

    def info(self, name: str) -> dict[str, Any]:
        """The mutable metadata of an expert, written to its ``expert.json`` by :meth:`save`."""
        self._require(name)
        return self._info[name]

    def add(self, name: str, lora: LoRAConfig | None = None, info: Mapping[str, Any] | None = None) -> None:
        """Create a new, trainable expert (fresh LoRA weights: ``B = 0``, so it starts as the base) and activate it.

        Raises:
            ConfigError: bad or duplicate name, or target modules the base does not have.
        """
        lora = lora or LoRAConfig()
        self._check_new_name(name)
        peft_config = lora_to_peft(lora)
        try:
            if self._peft is None:
                with wrapping_quietly():
                    self._peft = cast(PeftModel, get_peft_model(self.base, peft_config, adapter_name=name))
            else:
                self._peft.add_adapter(name, peft_config)
        except ValueError as err:
            raise ConfigError(f"expert {name!r}: cannot add LoRA adapter: {err}") from err
        self._info[name] = {"name": name, "lora": lora.model_dump(mode="json"), **(info or {})}
        self.activate(name)

    def load(self, name: str, directory: str | os.PathLike[str], trainable: bool = False) -> None:
        """Load an expert saved in the PEFT layout (+ ``expert.json``) under ``name``.

        Raises:
            SystemLoadError: a file is missing or unreadable, or the weights do not fit this base.
            ConfigError: bad or duplicate name.
        """
        self._check_new_name(name)
        path = Path(directory)
        info = self._read_expert_dir(name, path)
        try:
            if self._peft is None:
                with wrapping_quietly():
                    self._peft = PeftModel.from_pretrained(
                        self.base, str(path), adapter_name=name, is_trainable=trainable
                    )
            else:
                self._peft.load_adapter(str(path), adapter_name=name, is_trainable=trainable)
        except (OSError, ValueError, KeyError, RuntimeError, SafetensorError) as err:
            raise SystemLoadError(f"{path}: cannot load expert {name!r}: {err}") from err
        self._info[name] = info
        logger.info("loaded expert %s from %s", name, path)

    def save(self, name: str, directory: str | os.PathLike[str]) -> Path:
        """Write one expert to ``directory`` (PEFT layout + ``expert.json``), atomically replacing it."""
        peft = self._require(name)
        with atomic_dir(directory) as tmp:
            staging = tmp / "_peft"
            peft.save_pretrained(str(staging), selected_adapters=[name])
            saved = staging / name if (staging / name).is_dir() else staging  # PEFT nests non-"default" names
            for file in saved.iterdir():
                if file.is_file():
                    shutil.move(str(file), tmp / file.name)
            shutil.rmtree(staging)
            (tmp / EXPERT_META).write_text(json.dumps(self._info[name], indent=2, sort_keys=True) + "\n")
        return Path(directory)

    def activate(self, name: str) -> None:
        """Make ``name`` the expert used by plain forward passes and :meth:`generate` rows without one."""
        self._require(name).set_adapter(name)

    def delete(self, name: str) -> None:
        """Remove an expert; removing the last one restores the bare base."""
        peft = self._require(name)
        if len(self._info) == 1:
            self.base = peft.unload()
            self._peft = None
        else:
            peft.delete_adapter(name)
            if peft.active_adapter == name or peft.active_adapter not in self._info:
                peft.set_adapter(next(n for n in self._info if n != name))
        del self._info[name]

    def generate(
        self,
        prompts: Sequence[str],
        experts: Sequence[str | None],
        max_new_tokens: int | Sequence[int] = 128,
        value_at: Sequence[int | None] | None = None,
        **kwargs: Any,
    ) -> list[str]:
        """Greedy answers for prompts (rendered with the shared template), one expert per row.

        Args:
            prompts: User requests, (B,).
            experts: Expert name per row, (B,); ``None`` = the bare base.
            max_new_tokens: Generation limit, for every row or one per row (B,).
            value_at: Per row, align the answer's positions to the value at this offset of the prompt
                (:func:`~helixmoe.models.template.encode_request`), ``None`` = ordinary positions; (B,).
            **kwargs: Passed to :meth:`generate_ids` (``batch_size``, ``logits_processor``...).
        """
        offsets = [None] * len(prompts) if value_at is None else list(value_at)
        requests = [encode_request(self.tokenizer, p, at) for p, at in zip(prompts, offsets, strict=True)]
        if any(at is not None for at in offsets):
            kwargs["first_positions"] = [r.answer_position for r in requests]
        out = self.generate_ids([r.ids for r in requests], experts, max_new_tokens, **kwargs)
        return [self.tokenizer.decode(row, skip_special_tokens=True) for row in out]

    def generate_ids(
        self,
        prompt_ids: Sequence[Sequence[int]],
        experts: Sequence[str | None],
        max_new_tokens: int | Sequence[int] = 128,
        batch_size: int | None = None,
        logits_processor: Any = None,
        first_positions: Sequence[int] | None = None,
        forced: Sequence[Sequence[int]] | None = None,
        observe: Any = None,
        **generate_kwargs: Any,
    ) -> list[list[int]]:
        """Greedy generation for a mixed-expert batch; each row stops at its first EOS or its own cap.

        A row's tokens do not depend on the other rows (left padding, per-row positions; a finished row
        leaves the batch). Without a ``logits_processor``, rows are sorted by prompt length into batches.

        Args:
            prompt_ids: Token ids per row (already templated), (B, T_i).
            experts: Expert name per row, (B,); ``None`` = the bare base.
            max_new_tokens: Generation limit, for every row or one per row (B,).
            batch_size: Rows per forward batch (default: all at once).
            logits_processor: Called on the scores of every step, as in HF ``generate`` (it sees the whole
                batch, finished rows fed EOS), e.g. a grammar constraint.
            first_positions: Position id of each row's first answer token, (B,) (aligned answers,
                :class:`~helixmoe.models.template.EncodedPrompt`); default: right after its prompt.
            forced: Per row, tokens emitted first in place of the greedy ones (then greedy again).
            observe: ``observe(rows, scores)`` at every step (see :func:`~helixmoe.models.decoding.greedy_decode`).
            **generate_kwargs: Any other HF ``generate`` argument; then HF ``generate`` runs instead (every
                row of a batch steps until the last one stops). Beam search (``num_beams``) keeps each row's
                expert and its own cap.

        Returns:
            New token ids per row, without the EOS, (B, <= max_new_tokens).

        Raises:
            ConfigError: lengths differ or an expert is unknown.
        """
        if len(prompt_ids) != len(experts):
            raise ConfigError(f"{len(prompt_ids)} prompts but {len(experts)} expert names")
        for name in set(experts) - {None}:
            self._require(name)  # type: ignore[arg-type]
        caps = [max_new_tokens] * len(prompt_ids) if isinstance(max_new_tokens, int) else list(max_new_tokens)
        names = None if self._peft is None else [e if e is not None else "__base__" for e in experts]
        was_training = self.model.training
        if was_training:  # eval() walks every module: ~5 ms a call on the tiny system, so only when needed
            self.model.eval()
        try:
            if generate_kwargs:
                if first_positions is not None or forced is not None or observe is not None:
                    raise ConfigError(
                        "aligned positions, forced tokens and step observers need the built-in decoder, "
                        "not HF generate"
                    )
                if generate_kwargs.get("num_return_sequences", 1) != 1:
                    raise ConfigError("generation returns one answer per row: num_return_sequences must be 1")
                if logits_processor is not None:
                    generate_kwargs["logits_processor"] = logits_processor
                return self._hf_generate(prompt_ids, names, caps, batch_size, generate_kwargs)
            return greedy_decode(
                self.model,
                prompt_ids,
                caps,
                eos_token_id=self.tokenizer.eos_token_id,
                pad_token_id=self.tokenizer.pad_token_id,
                adapter_names=names,
                logits_processor=logits_processor,
                batch_size=batch_size,
                first_positions=first_positions,
                forced=forced,
                observe=observe,
            )
        finally:
            if was_training:
                self.model.train()

    def merge(self, name: str, out_dir: str | os.PathLike[str]) -> Path:
        """Export base + expert ``name`` merged into one standalone HF model directory (with the tokenizer).

        Works on a deep copy, so the pool is unchanged (needs memory for a second copy of the base).

        Raises:
            ConfigError: the base is quantised (merge into a full-precision base instead).
        """
        peft = self._require(name)
        if is_quantized(self.base):
            raise ConfigError(
                "cannot merge into a 4-/8-bit base; load the base with quantization: none to export"
            )
        clone = copy.deepcopy(peft)
        merged = clone.merge_and_unload(adapter_names=[name])
        path = save_base(merged, out_dir)
        self.tokenizer.save_pretrained(str(path))
        return path

    def _hf_generate(
        self,
        prompt_ids: Sequence[Sequence[int]],
        names: list[str] | None,
        caps: list[int],
        batch_size: int | None,
        extra: dict[str, Any],
    ) -> list[list[int]]:
        """HF ``generate`` on batches of ``batch_size`` rows (for arguments :func:`greedy_decode` lacks).

        A batch runs to its largest cap and each row is cut at its own: the same answer as at its own cap for
        greedy decoding, not for beam search (the best beam at a longer horizon need not start with the best
        beam at a shorter one), so with beams every batch holds rows of one cap only.
        """
        step = batch_size or max(1, len(prompt_ids))
        if int(extra.get("num_beams") or 1) > 1:
            by_cap: dict[int, list[int]] = {}
            for i, cap in enumerate(caps):
                by_cap.setdefault(cap, []).append(i)
            groups = [same[k : k + step] for same in by_cap.values() for k in range(0, len(same), step)]
        else:
            groups = [list(range(k, min(k + step, len(prompt_ids)))) for k in range(0, len(prompt_ids), step)]
        out: list[list[int]] = [[] for _ in prompt_ids]
        for group in groups:
            answers = self._hf_generate_batch(
                [prompt_ids[i] for i in group],
                None if names is None else [names[i] for i in group],
                max(caps[i] for i in group),
                extra,
            )
            for i, row in zip(group, answers, strict=True):
                out[i] = row[: caps[i]]
        return out

    def _hf_generate_batch(
        self,
        rows: Sequence[Sequence[int]],
        names: list[str] | None,
        max_new_tokens: int,
        extra: dict[str, Any],
    ) -> list[list[int]]:
        pad, eos = self.tokenizer.pad_token_id, self.tokenizer.eos_token_id
        width = max(len(r) for r in rows)
        device = next(self.model.parameters()).device
        ids = torch.tensor([[pad] * (width - len(r)) + list(r) for r in rows], device=device)  # (B, T)
        mask = torch.tensor([[0] * (width - len(r)) + [1] * len(r) for r in rows], device=device)  # (B, T)
        config = GenerationConfig(  # type: ignore[no-untyped-call]
            max_new_tokens=max_new_tokens, do_sample=False, eos_token_id=eos, pad_token_id=pad
        )
        options = config.to_dict()
        # generation options go into the config (transformers 5 warns when a config and loose options mix);
        # the rest (logits_processor, streamer, ...) are generate's own arguments
        config.update(**{k: v for k, v in extra.items() if k in options})  # type: ignore[no-untyped-call]
        kwargs: dict[str, Any] = dict(input_ids=ids, attention_mask=mask, generation_config=config)
        kwargs.update({k: v for k, v in extra.items() if k not in options})
        if names is not None:
            # beam search runs num_beams copies of each row, side by side; PEFT wants one name per copy
            kwargs["adapter_names"] = [name for name in names for _ in range(max(1, config.num_beams or 1))]
        with torch.inference_mode():
            out = cast(Any, self.model).generate(**kwargs)[:, width:]  # (B, new)
        return [_cut_at(row.tolist(), eos) for row in out]

    def _require(self, name: str) -> PeftModel:
        if name not in self._info or self._peft is None:
            known = ", ".join(self._info) or "none"
            raise ConfigError(f"unknown expert {name!r} (loaded: {known})")
        return self._peft

    def _check_new_name(self, name: str) -> None:
        if not EXPERT_NAME_RE.match(name):
            raise ConfigError(f"expert name {name!r} must match {EXPERT_NAME_RE.pattern}")
        if name in self._info:
            raise ConfigError(f"expert {name!r} already exists in the pool")

    @staticmethod
    def _read_expert_dir(name: str, path: Path) -> dict[str, Any]:
        if not path.is_dir():
            raise SystemLoadError(f"{path}: expert {name!r} not found (no such directory)")
        if not (path / ADAPTER_WEIGHTS).is_file():
            raise SystemLoadError(f"{path}: expert {name!r} has no {ADAPTER_WEIGHTS}")
        try:
            adapter = read_json(path / ADAPTER_CONFIG)
            info = read_json(path / EXPERT_META)
        except (OSError, ValueError) as err:
            raise SystemLoadError(
                f"{path}: expert {name!r} has a missing or unreadable JSON file: {err}"
            ) from err
        _check_adapter_config(path / ADAPTER_CONFIG, adapter)
        if not isinstance(info, dict):
            raise SystemLoadError(f"{path / EXPERT_META}: expected a JSON object")
        budget = info.get("answer_tokens")
        if budget is not None and not (
            isinstance(budget, dict)
            and all(
                isinstance(budget.get(k), int | float) and not isinstance(budget.get(k), bool)
                for k in ("offset", "slope")
            )
        ):
            raise SystemLoadError(
                f"{path / EXPERT_META}: answer_tokens must be an object with numbers offset and slope, "
                f"got {json.dumps(budget)[:80]}"
            )
        return {**info, "name": name}


def _check_adapter_config(file: Path, config: Any) -> None:
    """PEFT reports a bad ``adapter_config.json`` as a bare ``KeyError('peft_type')``: name the file and field."""
    if not isinstance(config, dict):
        raise SystemLoadError(f"{file}: not a PEFT adapter config: expected a JSON object")
    if "peft_type" not in config:
        raise SystemLoadError(f"{file}: not a PEFT adapter config: missing field 'peft_type'")
    if config["peft_type"] != "LORA":
        raise SystemLoadError(
            f'{file}: peft_type must be "LORA" (an expert is a LoRA adapter), got {json.dumps(config["peft_type"])}'
        )


def _cut_at(row: list[int], eos: int) -> list[int]:
    return row[: row.index(eos)] if eos in row else row
