"""The training stages and their registry: corpus → tokenizer (→ router, added later) → base → experts.

Each stage is a function ``stage(ctx: StageContext) -> dict`` (its summary) registered under a lowercase
name with :func:`register_stage`; :data:`STAGES` keeps registration order, which is the order ``--stage all``
runs them. The routing issue adds its stage with one line::

    register_stage("router")(train_router_stage)

Under ``accelerate launch`` every process runs every stage; only the main process writes files outside the
Trainer (corpus, tokenizer, final artifacts), and the others wait for it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from helixmoe.errors import ConfigError, DataError
from helixmoe.training.context import StageContext, process_state
from helixmoe.training.data import TextPair
from helixmoe.training.exact_match import EvalSample

if TYPE_CHECKING:
    from helixmoe.config import SystemConfig
    from helixmoe.tasks.profiles import SplitProfile

__all__ = [
    "NEEDS",
    "STAGES",
    "Stage",
    "check_inputs",
    "check_stages",
    "load_split",
    "register_stage",
    "run_stages",
]

logger = logging.getLogger(__name__)

Stage = Callable[[StageContext], dict[str, Any]]
#: Stage name -> function, in run order.
STAGES: dict[str, Stage] = {}


#: Stage name -> the stages whose output it reads (checked before a run writes anything: :func:`check_inputs`).
NEEDS: dict[str, tuple[str, ...]] = {}
#: Stage name -> whether its output is already in a system directory (for the stages others need).
_WRITTEN: dict[str, Callable[[StageContext], bool]] = {}


def register_stage(
    name: str, *, after: str | None = None, needs: Sequence[str] = ()
) -> Callable[[Stage], Stage]:
    """Decorator registering a stage under a lowercase ``name``: appended to the run order, or placed right
    after the registered stage ``after``. ``needs``: the registered stages whose output it reads."""

    def decorate(fn: Stage) -> Stage:
        if name != name.lower() or name in STAGES:
            raise ValueError(f"stage name {name!r} must be lowercase and unique")
        if after is not None and after not in STAGES:
            raise ValueError(f"stage {name!r} registers after {after!r}, which is not registered")
        missing = [n for n in needs if n not in STAGES]
        if missing:
            raise ValueError(f"stage {name!r} needs {missing}, which are not registered")
        NEEDS[name] = tuple(needs)
        order = list(STAGES.items())
        at = len(order) if after is None else [n for n, _ in order].index(after) + 1
        order.insert(at, (name, fn))
        STAGES.clear()
        STAGES.update(order)
        return fn

    return decorate


def _on_main(fn: Callable[[], object]) -> None:
    state = process_state()
    if state.is_main_process:
        fn()
    state.wait_for_everyone()


def load_split(ctx: StageContext, split: str, expert: str | None = None) -> list[Any]:
    """Examples of one corpus split (optionally one expert's slice) from ``.train/corpus/<split>.jsonl``.

    Raises:
        DataError: the corpus stage has not run.
    """
    from helixmoe.tasks import load_corpus

    path = ctx.corpus_dir / f"{split}.jsonl"
    if not path.is_file():
        raise DataError(f"{path}: no corpus; run `helixmoe train --stage corpus` first")
    examples = load_corpus(path)
    return [e for e in examples if expert is None or e.expert == expert]


def model_prompt(example: Any, style: str) -> str:
    """The request as the model sees it in ``style`` (``training.prompt_style``), with the example's own task."""
    from helixmoe.models.template import request_prompt
    from helixmoe.tasks import task_label

    return request_prompt(example.prompt, task_label(example.meta), style)


def value_at(prompt: str, style: str) -> int | None:
    """Where the answer's positions align in the model prompt ``prompt`` (only in the ``aligned`` style)."""
    from helixmoe.models.template import aligned_value_at

    return aligned_value_at(prompt) if style == "aligned" else None


def pairs_of(examples: list[Any], style: str) -> list[TextPair]:
    prompts = [model_prompt(e, style) for e in examples]
    return [TextPair(p, e.response, value_at(p, style)) for p, e in zip(prompts, examples, strict=True)]


def eval_samples_of(examples: list[Any], n: int, style: str) -> list[EvalSample]:
    """A fixed validation sample of ``n`` examples spread evenly over ``examples`` (all experts/families)."""
    step = max(1, len(examples) // max(1, n))
    samples = []
    for e in examples[::step][:n]:
        prompt = model_prompt(e, style)
        samples.append(EvalSample(prompt, e.response, {"example": e}, value_at(prompt, style)))
    return samples


def grade_sample(sample: EvalSample, prediction: str) -> bool:
    """Exact match by the grader of the sample's task family (through the HLX oracle)."""
    from helixmoe.tasks import grade

    return grade(sample.meta["example"], prediction).exact


@register_stage("corpus")
def corpus_stage(ctx: StageContext) -> dict[str, Any]:
    """Generate each expert's train/val/test/ood slices with :func:`helixmoe.tasks.generate`."""
    from helixmoe.tasks import generate, write_corpus
    from helixmoe.tasks.profiles import PROFILES, random_names_profile, wide_profile

    sizes = ctx.config.training.corpus
    counts = {
        "train": sizes.train_per_expert,  # scaled per expert: SystemConfig.train_examples
        "val": sizes.val_per_expert,
        "test": sizes.test_per_expert,
        "ood": sizes.ood_per_expert,
    }
    summary: dict[str, Any] = {}

    seed = ctx.config.training.seed

    def build() -> None:
        # the training split: a share with random keys and handle names, a share with larger values (the
        # same share of those with random names); each part its own seed, so new examples
        named = random_names_profile(seed, style=sizes.name_style) if sizes.random_names else None

        def parts_of(split: str, n: int) -> list[tuple[int, SplitProfile | None, int]]:
            if split != "train":
                return [(n, None, seed)]
            n_wide = round(n * sizes.wide_share)
            n_random, wide_random = (round(k * sizes.random_names) for k in (n - n_wide, n_wide))
            train = PROFILES["train"]
            return [
                (n - n_wide - n_random, None, seed),
                (n_random, named, seed + 1_000_003),
                (n_wide - wide_random, wide_profile(train), seed + 2_000_003),
                (wide_random, wide_profile(named or train), seed + 3_000_003),
            ]

        for split, n in counts.items():
            examples = []
            for name, spec in ctx.config.experts.items():
                families = spec.families or None
                # an expert's train_weight scales its training split only; each part keeps its seed, so
                # a larger split holds the smaller one's examples
                parts = parts_of(split, ctx.config.train_examples(name) if split == "train" else n)
                for count, profile, part_seed in parts:
                    if count > 0:
                        examples += generate(
                            count, part_seed, families, split, profile=profile, experts=[name]
                        )
            write_corpus(ctx.corpus_dir / f"{split}.jsonl", examples)
            summary[split] = len(examples)

    if ctx.is_done("corpus") and all((ctx.corpus_dir / f"{s}.jsonl").is_file() for s in counts):
        return ctx.skipped_done("corpus")
    _on_main(build)
    ctx.mark_done("corpus", summary or {"written": True})
    return summary


@register_stage("tokenizer", needs=("corpus",))
def tokenizer_stage(ctx: StageContext) -> dict[str, Any]:
    """Train the tokenizer on the training corpus (skipped when the config names an existing one)."""
    from helixmoe.models.tokenizer import load_tokenizer, save_tokenizer, train_tokenizer

    cfg = ctx.config
    if ctx.is_done("tokenizer") and (ctx.layout.tokenizer_dir / "tokenizer.json").is_file():
        return ctx.skipped_done("tokenizer")
    if not cfg.builds_tokenizer:
        return {"skipped": "using the tokenizer of tokenizer.path / model.path"}
    if cfg.model.continue_pretraining:
        # the system's own base/ is trained further, so it keeps its tokenizer beside it
        source = Path(cfg.tokenizer.path or cfg.model.path or "").expanduser()
        _on_main(lambda: save_tokenizer(load_tokenizer(source), ctx.layout.tokenizer_dir))
        copied = {"copied_from": str(source)}
        ctx.mark_done("tokenizer", copied)
        return copied
    result: dict[str, Any] = {}

    def build() -> None:
        train = load_split(ctx, "train")
        style = cfg.training.prompt_style
        texts = [t for e in train for t in (model_prompt(e, style), e.response)]
        tok = train_tokenizer(
            texts, cfg.tokenizer.scheme, cfg.tokenizer.vocab_size, cfg.tokenizer.min_frequency
        )
        save_tokenizer(tok, ctx.layout.tokenizer_dir)
        result["vocab_size"] = len(tok)

    _on_main(build)
    ctx.mark_done("tokenizer", result)
    return result


def load_stage_tokenizer(ctx: StageContext) -> Any:
    from helixmoe.models.tokenizer import load_tokenizer

    return load_tokenizer(ctx.layout.tokenizer_source(ctx.config))


@register_stage("base", needs=("corpus", "tokenizer"))
def base_stage(ctx: StageContext) -> dict[str, Any]:
    """Pretrain the from-scratch base on the mixed corpus (causal LM on prompt + response, all tokens).

    This is the general phase of the curriculum. A pretrained ``model.path`` base is used as is, or, with
    ``model.continue_pretraining``, trained further from its weights (no copy warm-up: it is not fresh).
    """
    from helixmoe.models.base import build_base, grow_layers, load_base, save_base
    from helixmoe.training.phases import train_phase

    cfg = ctx.config
    if not cfg.builds_base:
        return {"skipped": "pretrained base at model.path"}
    if ctx.is_done("base") and (ctx.layout.base_dir / "config.json").is_file():
        return ctx.skipped_done("base")
    tokenizer = load_stage_tokenizer(ctx)
    remaining = ctx.remaining_s()
    budget = None if remaining is None else remaining * cfg.training.base_budget_share
    started = time.monotonic()
    warmup: dict[str, Any] = {}
    grown_from: int | None = None
    if cfg.model.path is not None:
        # float32 on CPU, like build_base: the Trainer places it and handles mixed precision
        model = load_base(cfg.model.path, dtype="float32", device="cpu")
        if cfg.model.grow_layers is not None:
            grown_from = int(model.config.num_hidden_layers)
            model = grow_layers(model, cfg.model.grow_layers)
    elif cfg.model.size is None:
        raise ConfigError("model.size is required for a from-scratch base")
    else:
        model = build_base(
            cfg.model.size, tokenizer, cfg.model.max_seq_len, cfg.training.seed, cfg.model.shape
        )
        model, warmup = copy_warmup(ctx, model, tokenizer, budget)
    if ctx.interrupted:
        return {"copy_warmup": warmup}
    val = load_split(ctx, "val")
    style = cfg.training.prompt_style
    train_rows = load_split(ctx, "train")
    mixed = mixed_copy_pairs(ctx, tokenizer, len(train_rows))
    train = pairs_of(train_rows, style) + mixed
    if budget is not None:  # the warm-up and framing the corpus count against the base's share
        budget = max(0.0, budget - (time.monotonic() - started))
    result = train_phase(
        ctx,
        name="base",
        model=model,
        tokenizer=tokenizer,
        phase=cfg.training.base,
        train=train,
        val=pairs_of(val[:: max(1, len(val) // 256)][:256], style),
        eval_samples=eval_samples_of(val, cfg.training.base.eval_samples, style),
        grade=grade_sample,
        response_only=False,
        budget_s=budget,
    )
    summary = result.summary()
    if warmup:
        summary["copy_warmup"] = warmup
    if cfg.model.path is not None:
        summary["continued_from"] = str(cfg.model.path)
    if grown_from is not None:
        summary["grown_layers"] = {"from": grown_from, "to": cfg.model.grow_layers}
    if mixed:
        summary["copy_strings_mixed"] = len(mixed)
    if ctx.interrupted:
        return summary
    _on_main(lambda: save_base(model, ctx.layout.base_dir))
    ctx.record("base", summary)
    return summary


def copy_warmup(
    ctx: StageContext, model: Any, tokenizer: Any, budget: float | None
) -> tuple[Any, dict[str, Any]]:
    """Run the copy warm-up (``training.copy_warmup``) on a fresh base: ``(model, summary)``, summary ``{}``
    when it is off.

    It stops after ``steps``, at ``stop_loss`` or after ``budget_share`` of the base budget. The warmed base
    is saved to the work directory so that ``--resume`` after it finished starts the base phase from it (the
    returned model is then that saved base); a resume whose base phase already has a checkpoint skips the
    warm-up (that checkpoint holds newer weights).
    """
    from helixmoe.models.base import load_base, save_base
    from helixmoe.training.checkpoints import last_complete_checkpoint
    from helixmoe.training.copy_warmup import copy_pairs
    from helixmoe.training.phases import train_phase

    cfg = ctx.config.training
    warm = cfg.copy_warmup
    saved = ctx.work_dir / "base-copy-model"
    if not warm.steps or (ctx.resume and last_complete_checkpoint(ctx.run_dir("base")) is not None):
        return model, {}
    if ctx.is_done("base/copy") and (saved / "config.json").is_file():
        # float32 on CPU, like build_base: the Trainer places it and handles mixed precision
        return load_base(saved, dtype="float32", device="cpu"), ctx.skipped_done("base/copy")
    phase = cfg.base.model_copy(
        # constant rate: copying forms in a sudden drop that a decaying schedule can postpone past the budget
        update={
            "max_steps": warm.steps,
            "eval_steps": None,
            "patience": None,
            "loss_on": "response",
            "scheduler": "constant_with_warmup",
        }
    )
    # never aligned (training.aligned_positions): aligned, the copy is learnt in ~190 steps instead of ~800 by
    # position alone, so the base does not form the content-matching heads every unaligned task copies with
    # (README, "Aligned positions")
    result = train_phase(
        ctx,
        name="base-copy",
        model=model,
        tokenizer=tokenizer,
        phase=phase,
        train=copy_pairs(tokenizer, warm.examples, warm.min_tokens, warm.max_tokens, cfg.seed),
        budget_s=None if budget is None else budget * warm.budget_share,
        stop_at_loss=warm.stop_loss,
    )
    summary = result.summary()
    if not ctx.interrupted:
        _on_main(lambda: save_base(model, saved))
        ctx.record("base/copy", summary)
    return model, summary


def mixed_copy_pairs(ctx: StageContext, tokenizer: Any, n_corpus: int) -> list[TextPair]:
    """The copy strings ``training.copy_warmup.mix_share`` adds to the base phase's ``n_corpus`` examples
    (so that they are that share of the whole), seeded apart from the warm-up's own strings.

    A string of random pieces can re-tokenise into more tokens than pieces; the few whose example would not
    fit ``model.max_seq_len`` are left out here rather than reported as skipped corpus examples.
    """
    from helixmoe.models.template import encode_examples
    from helixmoe.training.copy_warmup import copy_pairs

    warm = ctx.config.training.copy_warmup
    if not warm.mix_share:
        return []
    n = round(n_corpus * warm.mix_share / (1.0 - warm.mix_share))
    longest = warm.mix_max_tokens if warm.mix_max_tokens is not None else warm.max_tokens
    pairs = copy_pairs(tokenizer, n, warm.min_tokens, longest, ctx.config.training.seed + 1)
    encoded = encode_examples(
        tokenizer, [(p.prompt, p.response, None) for p in pairs], max_length=ctx.config.model.max_seq_len
    )
    return [pair for pair, enc in zip(pairs, encoded, strict=True) if not isinstance(enc, DataError)]


#: Stages that run even when the budget is spent: fitting the router takes seconds, and a system without
#: one does not load.
_ALWAYS_RUN = frozenset({"router"})


def _corpus_written(ctx: StageContext) -> bool:
    return all((ctx.corpus_dir / f"{split}.jsonl").is_file() for split in ("train", "val"))


def _tokenizer_written(ctx: StageContext) -> bool:
    if not ctx.config.builds_tokenizer:
        return True  # the tokenizer stage uses that of tokenizer.path / model.path
    return any((ctx.layout.tokenizer_dir / f).is_file() for f in ("tokenizer.json", "tokenizer_config.json"))


def _base_written(ctx: StageContext) -> bool:
    return not ctx.config.builds_base or (ctx.layout.base_dir / "config.json").is_file()


_WRITTEN.update(corpus=_corpus_written, tokenizer=_tokenizer_written, base=_base_written)


def check_inputs(ctx: StageContext, names: Sequence[str]) -> None:
    """Refuse a run whose stages read what neither an earlier stage of the run nor the system directory has
    (``--stage experts`` on a new directory), before anything is written.

    Raises:
        ConfigError: naming the stage, what it lacks and the command that makes it.
    """
    wanted = check_stages(names)
    if "corpus" in wanted:
        _check_families(ctx.config)
    for name in wanted:
        for need in NEEDS.get(name, ()):
            written = _WRITTEN.get(need)
            if need in wanted or written is None or written(ctx):
                continue
            raise ConfigError(
                f"stage {name} needs the {need} stage's output, which {ctx.layout.root} does not have; "
                f"run `helixmoe train --stage {need}` first (or --stage all)"
            )


def _check_families(config: SystemConfig) -> None:
    """Every expert's ``families`` are registered task families (else the corpus stage fails part-way)."""
    from helixmoe.tasks import FAMILIES

    for expert, spec in config.experts.items():
        unknown = [f for f in spec.families if f not in FAMILIES]
        if unknown:
            raise ConfigError(
                f"experts.{expert}.families: unknown task famil{'y' if len(unknown) == 1 else 'ies'} "
                f"{', '.join(map(repr, unknown))}; known: {', '.join(sorted(FAMILIES))}"
            )


def check_stages(names: Sequence[str]) -> list[str]:
    """The stages ``names`` asks for (``["all"]``: every one).

    Raises:
        ConfigError: an unknown stage name.
    """
    wanted = list(STAGES) if list(names) == ["all"] else list(names)
    unknown = [n for n in wanted if n not in STAGES]
    if unknown:
        raise ConfigError(f"unknown stage(s) {', '.join(unknown)}; choose from {', '.join(STAGES)} or all")
    return wanted


def run_stages(ctx: StageContext, names: list[str]) -> dict[str, Any]:
    """Run the named stages in registry order; ``["all"]`` = every registered stage (the router stage runs
    even when the time budget is spent).

    Raises:
        ConfigError: an unknown stage name.
    """
    wanted = check_stages(names)
    for name in STAGES:
        if name in wanted:
            if ctx.interrupted:
                ctx.results[name] = {"skipped": "interrupted by a signal"}
                continue
            if ctx.out_of_time() and name not in _ALWAYS_RUN:
                ctx.results[name] = {"skipped": "time budget exhausted"}
                logger.warning("stage %s skipped: time budget exhausted", name)
                continue
            logger.info("stage %s", name)
            ctx.results[name] = STAGES[name](ctx)
    return ctx.results


# The experts stage lives in its own module; importing it here registers it after "base".
from helixmoe.training import experts as _experts  # noqa: E402, F401
from helixmoe.training import router_stage as _router_stage  # noqa: E402, F401  (after "tokenizer")
