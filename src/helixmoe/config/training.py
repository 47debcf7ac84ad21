"""Config of the training stages (pure Python, layer 0): the ``training:`` section of a system YAML.

Owned by the training harness (:mod:`helixmoe.training`). Durations accept seconds or text such as
``"90s"``, ``"15m"``, ``"1h30m"`` (:func:`parse_duration`). Example::

    training:
      seed: 0
      time_budget: 20m
      corpus: {train_per_expert: 4000, val_per_expert: 200, test_per_expert: 200}
      base: {max_steps: 1500, lr: 2.0e-3, batch_size: 32}
      experts: {max_steps: 600, lr: 1.0e-3, batch_size: 16, eval_steps: 100, patience: 3}
      curriculum: {general_steps: 200}
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, model_validator

from helixmoe.config.base import Section
from helixmoe.errors import ConfigError

__all__ = [
    "ContinuousConfig",
    "CopyWarmupConfig",
    "CorpusSizeConfig",
    "CurriculumConfig",
    "Duration",
    "PhaseConfig",
    "TrainingConfig",
    "budget_override",
    "parse_duration",
]

_DURATION_RE = re.compile(r"^\s*(?:(\d+(?:\.\d+)?)h)?\s*(?:(\d+(?:\.\d+)?)m)?\s*(?:(\d+(?:\.\d+)?)s?)?\s*$")


def parse_duration(value: object) -> float | None:
    """Seconds from ``90``, ``"90s"``, ``"15m"``, ``"1h30m"``, ``"1.5h"``; ``None``/``"none"`` stay ``None``.

    Raises:
        ValueError: the text is not a duration, or it is negative.
    """
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "none", "null")):
        return None
    if isinstance(value, bool):
        raise ValueError(f"not a duration: {value!r}")
    if isinstance(value, (int, float)):
        seconds = float(value)
    else:
        match = _DURATION_RE.match(str(value))
        if not match or not any(match.groups()):
            raise ValueError(f"not a duration: {value!r} (use seconds or e.g. 90s, 15m, 1h30m)")
        hours, minutes, secs = (float(g) if g else 0.0 for g in match.groups())
        seconds = hours * 3600 + minutes * 60 + secs
    if seconds <= 0:
        raise ValueError(f"a duration must be positive, got {value!r}")
    return seconds


def budget_override(time_budget: str) -> str:
    """The dotted override for a ``--time-budget`` option, checked first.

    Raises:
        ConfigError: the text is not a duration (the message names the option).
    """
    try:
        parse_duration(time_budget)
    except ValueError as err:
        raise ConfigError(f"--time-budget: {err}") from None
    return f"training.time_budget={time_budget}"


Duration = Annotated[float | None, BeforeValidator(parse_duration)]
"""Seconds (``None`` = unlimited), written as a number or ``"15m"``-style text."""


def _switch(value: object) -> object:
    """YAML 1.1 reads a bare ``on``/``off`` (and ``yes``/``no``) as a boolean: take it back as the word."""
    if isinstance(value, bool):
        return "on" if value else "off"
    return value


Switch = Annotated[Literal["auto", "on", "off"], BeforeValidator(_switch)]
"""``auto``, ``on`` or ``off`` (``true``/``false`` and YAML's bare ``on``/``off`` booleans too)."""


class PhaseConfig(Section):
    """Optimisation settings of one training phase (base pretraining or expert fine-tuning)."""

    max_steps: int = Field(default=200, ge=1)
    """Optimizer steps of the phase (per expert for the ``experts`` phase)."""
    lr: float = Field(default=1e-3, gt=0.0)
    """Peak learning rate (linear warmup, then ``scheduler``)."""
    scheduler: Literal["linear", "cosine", "constant", "constant_with_warmup"] = "cosine"
    """HF learning-rate schedule."""
    warmup_ratio: float = Field(default=0.05, ge=0.0, lt=1.0)
    """Fraction of ``max_steps`` spent warming up."""
    weight_decay: float = Field(default=0.0, ge=0.0)
    batch_size: int = Field(default=16, ge=1)
    """Examples per device per micro-batch."""
    grad_accum: int = Field(default=1, ge=1)
    """Micro-batches accumulated per optimizer step."""
    eval_steps: int | None = Field(default=None, ge=1)
    """Evaluate (loss + exact match) every N steps; ``None`` = only at the end of the phase."""
    patience: int | None = Field(default=None, ge=1)
    """Early-stopping patience in evaluations without improvement of exact match; ``None`` = off."""
    eval_samples: int = Field(default=64, ge=1)
    """Size of the fixed validation sample graded by exact match at each evaluation."""
    loss_on: Literal["default", "all", "response"] = "default"
    """Tokens that carry the loss: ``all`` (prompt + response), ``response`` only, or the phase's default
    (``all`` for base pretraining, ``response`` for experts)."""
    group_by_length: bool | None = None
    """Batch examples of similar length in this phase; ``None`` = ``training.group_by_length``."""


class CurriculumConfig(Section):
    """Two-phase expert curriculum: a general adapter on all slices, then per-expert specialisation."""

    general_steps: int = Field(default=0, ge=0)
    """Steps of the general phase (one LoRA on every expert's data); 0 = experts start from scratch."""


class ContinuousConfig(Section):
    """Continuous mode: keep training each expert on freshly generated data until a target or the budget."""

    enabled: bool = False
    target_exact_match: float = Field(default=0.99, gt=0.0, le=1.0)
    """Stop an expert once its validation exact match reaches this."""
    round_examples: int = Field(default=2000, ge=1)
    """Fresh training examples generated per expert for each round (new seed each round)."""
    max_rounds: int = Field(default=5, ge=1)
    """Upper bound on rounds per expert (the time budget may stop earlier)."""


class CopyWarmupConfig(Section):
    """Induction warm-up of a from-scratch base: a few hundred steps of copying random token strings.

    HLX values repeat their structural tokens (``,`` ``"`` ``:``), so a base trained on them alone finds it
    cheaper to memorise likely values than to learn to copy, and stays there for thousands of steps. On
    random strings copying is the only way to lower the loss, so the copy (induction) circuit forms within
    a few hundred steps; the base phase then starts from it (``benchmarks/bench_learnability.py --copy-warmup``).
    """

    steps: int = Field(default=0, ge=0)
    """Most optimizer steps of the warm-up (0 = off)."""
    stop_loss: float | None = Field(default=0.3, gt=0.0)
    """Stop early once the logged training loss is at or below this (copying has formed); ``None`` = off."""
    budget_share: float = Field(default=0.5, gt=0.0, lt=1.0)
    """Most of the base stage's time budget the warm-up may use; the base phase gets the rest."""
    min_tokens: int = Field(default=4, ge=1)
    """Shortest random string, in tokens."""
    max_tokens: int = Field(default=48, ge=1)
    """Longest random string, in tokens."""
    examples: int = Field(default=20000, ge=1)
    """Random strings generated (seeded by ``training.seed``)."""
    mix_share: float = Field(default=0.0, ge=0.0, lt=1.0)
    """Share of the base phase's training examples that are copy strings too (added to the corpus, so the
    base keeps copying what it is given, such as names it never saw, after the warm-up); 0 = none.
    Independent of ``steps``."""
    mix_max_tokens: int | None = Field(default=None, ge=1)
    """Longest mixed-in string, in tokens (``None`` = ``max_tokens``). Strings longer than any training answer
    did not make long ood answers right (README, "Copy strings in the base phase")."""

    @model_validator(mode="after")
    def _check_lengths(self) -> CopyWarmupConfig:
        if self.min_tokens > self.max_tokens:
            raise ValueError("copy_warmup: min_tokens must be <= max_tokens")
        if self.mix_max_tokens is not None and self.min_tokens > self.mix_max_tokens:
            raise ValueError("copy_warmup: min_tokens must be <= mix_max_tokens")
        return self


class CorpusSizeConfig(Section):
    """How many examples the ``corpus`` stage generates per expert and split (:func:`helixmoe.tasks.generate`)."""

    train_per_expert: int = Field(default=4000, ge=1)
    val_per_expert: int = Field(default=200, ge=1)
    test_per_expert: int = Field(default=200, ge=1)
    ood_per_expert: int = Field(default=200, ge=0)
    random_names: float = Field(default=0.0, ge=0.0, le=1.0)
    """Share of the training examples whose object keys and handle names are random identifiers
    (:func:`helixmoe.tasks.profiles.random_names_profile`) instead of the fixed in-distribution lists."""
    wide_share: float = Field(default=0.0, ge=0.0, le=1.0)
    """Share of the training examples with larger values (:func:`helixmoe.tasks.profiles.wide_profile`:
    deeper, wider, more containers, so longer answers); the same share of them has random names. Off in the
    built-in config: demo ood +2.5 points on one seed, -2.5 on another (README, "Larger values")."""
    name_style: Literal["random", "words", "mixed"] = "random"
    """How those names are made: ``random`` letters, compounds of English ``words`` (``user_count``), or
    half of each (:data:`helixmoe.tasks.profiles.NAME_STYLES`)."""


class TrainingConfig(Section):
    """Hyper-parameters of the training stages (``training:`` section)."""

    seed: int = 0
    """Seed of every random choice in training (data order, init, dropout, corpus generation)."""
    lr: float = Field(default=3e-4, gt=0.0)
    """Deprecated single learning rate; the phases' ``lr`` fields are used."""
    time_budget: Duration = None
    """Wall-clock budget of the whole ``helixmoe train`` invocation, shared by the stages; ``None`` = none."""
    base_budget_share: float = Field(default=0.4, gt=0.0, le=1.0)
    """Share of the remaining budget the base stage may use (the experts split the rest equally)."""
    checkpoint_every: Duration = 300.0
    """Checkpoint every this long (in addition to evaluation-time saves); ``None`` = off."""
    save_total_limit: int = Field(default=2, ge=1)
    """Checkpoints kept per run directory (the best one is always kept)."""
    logging_steps: int = Field(default=10, ge=1)
    corpus: CorpusSizeConfig = Field(default_factory=CorpusSizeConfig)
    base: PhaseConfig = Field(default_factory=lambda: PhaseConfig(max_steps=1000, lr=2e-3, batch_size=32))
    """Base pretraining on the mixed corpus (prompt + response, all tokens); skipped for ``model.path``."""
    copy_warmup: CopyWarmupConfig = Field(default_factory=CopyWarmupConfig)
    """Copying warm-up of a from-scratch base, before ``base`` (same optimiser settings, own schedule)."""
    experts: PhaseConfig = Field(
        default_factory=lambda: PhaseConfig(max_steps=300, lr=1e-3, eval_steps=100, patience=3)
    )
    """LoRA fine-tuning of each expert on its slice (loss on the response only)."""
    curriculum: CurriculumConfig = Field(default_factory=CurriculumConfig)
    continuous: ContinuousConfig = Field(default_factory=ContinuousConfig)
    report_to: list[str] = Field(default_factory=list)
    """Extra HF metric sinks (``tensorboard``, ``wandb``); JSONL and the PNG are always written."""
    bf16: Switch = "auto"
    """bf16 mixed precision: ``auto`` = on when CUDA supports it."""
    fused_adamw: Switch = "auto"
    """Fused AdamW (``adamw_torch_fused``): ``auto`` = on (CUDA and CPU)."""
    gradient_checkpointing: bool = False
    """Trade compute for memory (large bases on GPU)."""
    progress_bars: bool = True
    group_by_length: bool = True
    """Batch examples of similar length (much less padding with varied lengths), the batches in random order
    (``ShuffledLengthGroupedSampler``; a phase may override it)."""
    anneal_to_budget: bool = False
    """When a phase's time budget ends it before ``max_steps``, run its learning-rate schedule over the budget
    (cosine/linear decay reach their end at the stop) instead of stopping part-way down the schedule. Off by
    default: on the built-in demo it did not help (52.0 % vs 55.0-56.5 % test exact match; base eval loss
    0.486 vs 0.475 at the stop) — a barely-trained tiny model gains more from steps at a high rate."""
    num_threads: int | None = Field(default=None, ge=1)
    """CPU threads for torch (``None`` = torch's default); 1 is fastest on a shared, busy CPU."""
    task_hints: bool = False
    """Show the model each request with a first line naming its task (``@task lc-b-hex``; see
    :func:`helixmoe.tasks.task_label`): the example's own task in training, the intent model's prediction at
    inference (the system then needs ``router/intent``)."""
    frame_requests: bool = False
    """With ``task_hints``: a request for a value in some notation shows the model its task line and then only
    the value's text (:func:`helixmoe.models.template.request_prompt`), not the English around it."""
    aligned_positions: bool = False
    """With ``frame_requests``: the answer to a framed single-notation request gets the position ids of the
    framed value (answer token ``k`` sits where value token ``k + 1`` sits) instead of the ones after the prompt
    (*position coupling*, Cho et al. 2024), so copying the value needs no counting
    (:func:`helixmoe.models.template.encode_request`). Our runtime honours it; an engine that numbers positions
    itself (vLLM, HF ``generate``) does not, so export such a system with that in mind. Off by default: on one
    near token-for-token task it helps (HLXL -> LC-R, ``bench_learnability.py --aligned``: 80.5 % vs 61.0 %
    test), on the built-in mix of tasks it does not (demo 53.5 % / 19.5 % vs 63.5 % / 30.5 %; README)."""

    @property
    def prompt_style(self) -> str:
        """How the experts see requests (:data:`helixmoe.models.template.PROMPT_STYLES`)."""
        if self.aligned_positions:
            return "aligned"
        return "frame" if self.frame_requests else "hint" if self.task_hints else "plain"

    @model_validator(mode="after")
    def _check_frame_requests(self) -> TrainingConfig:
        if self.frame_requests and not self.task_hints:
            raise ValueError(
                "training.frame_requests needs training.task_hints: the frame starts with the task line"
            )
        if self.aligned_positions and not self.frame_requests:
            raise ValueError(
                "training.aligned_positions needs training.frame_requests: positions align to the framed value"
            )
        return self

    @model_validator(mode="after")
    def _check_report_to(self) -> TrainingConfig:
        allowed = {"tensorboard", "wandb", "mlflow", "comet_ml", "trackio"}
        unknown = sorted(set(self.report_to) - allowed)
        if unknown:
            raise ValueError(f"report_to: unknown sink(s) {unknown}; choose from {sorted(allowed)}")
        return self
