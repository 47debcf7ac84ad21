"""Stage composition on a tiny config writes a loadable system directory; the CLI drives it."""

from __future__ import annotations

import json

import pytest
import yaml
from typer.testing import CliRunner

from helixmoe.cli.app import app
from helixmoe.config import load_config
from helixmoe.errors import DataError
from helixmoe.training.stages import STAGES, register_stage

TINY = {
    "name": "pipe-test",
    "domain": "hlx",
    "experts": {"ascii": {"description": "ascii"}, "runic": {"description": "runic"}},
    "model": {"size": "tiny", "max_seq_len": 384},
    "training": {
        "seed": 0,
        "checkpoint_every": None,
        "progress_bars": False,
        "logging_steps": 1,
        "num_threads": 1,
        "corpus": {"train_per_expert": 24, "val_per_expert": 6, "test_per_expert": 2, "ood_per_expert": 2},
        "base": {"max_steps": 2, "batch_size": 4, "eval_samples": 2},
        "experts": {"max_steps": 2, "batch_size": 4, "eval_steps": 1, "eval_samples": 2, "patience": 5},
        "curriculum": {"general_steps": 1},
    },
    "routing": {"extra_prompts": 300},
}


@pytest.fixture
def tiny_config(tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(TINY))
    return path


def test_registry_order_is_the_pipeline_order():
    from helixmoe.ship import TRAIN_STAGES

    # the router needs only the corpus: fitted before the base, its time counts against the budget
    assert list(STAGES) == ["corpus", "tokenizer", "router", "base", "experts"]
    assert tuple(STAGES) == TRAIN_STAGES  # helixmoe train and the demo run the stages in one order
    with pytest.raises(ValueError, match="not registered"):
        register_stage("later", after="nowhere")(lambda ctx: {})
    assert "later" not in STAGES


@pytest.mark.filterwarnings("ignore:`is_gradient_checkpointing` is deprecated:FutureWarning")  # plain PEFT
def test_all_stages_write_a_loadable_system(tmp_path, tiny_config):
    from peft import PeftModel

    from helixmoe.models.base import load_base
    from helixmoe.models.layout import load_system
    from helixmoe.training.pipeline import train_system

    out = tmp_path / "system"
    summary = train_system(load_config(tiny_config), out, final_eval_limit=2)
    assert set(summary["stages"]) >= {"corpus", "tokenizer", "base", "experts", "router"}
    assert summary["stages"]["router"]["train_examples"] == 48 + 300
    # the directory training wrote is a whole system: HelixMoE loads it and routes with the saved router
    from helixmoe.system import HelixMoE

    moe = HelixMoE.load(out, device="cpu")
    assert moe.route("Convert to LC-R: [1, 2]").expert in {"ascii", "runic"}
    assert (out / "router" / "intent" / "router.json").is_file()
    assert set(summary["exact_match"]) == {"ascii", "runic"}
    loaded = load_system(out)
    assert loaded.pool.names == ["ascii", "runic"]
    info = json.loads((out / "experts" / "ascii" / "expert.json").read_text())
    assert info["curriculum_init"] is True and info["training"]["steps"] == 2
    PeftModel.from_pretrained(load_base(out / "base"), str(out / "experts" / "runic"))
    reports = {p.name for p in (out / "reports").iterdir()}
    assert {
        "training_metrics.jsonl",
        "training_curves.png",
        "training_summary.json",
        "exact_match.json",
    } <= reports
    phases = {json.loads(line)["phase"] for line in (out / "reports" / "training_metrics.jsonl").open()}
    assert phases == {"base", "experts/_general", "experts/ascii", "experts/runic"}

    again = train_system(load_config(tiny_config), out, resume=True, final_eval_limit=0)
    assert all(again["stages"][s]["skipped"] == "done" for s in ("corpus", "tokenizer", "base"))
    assert again["stages"]["base"]["steps"] == summary["stages"]["base"]["steps"]  # recorded when it finished
    # the resumed run keeps the finished stages' figures and adds its wall time to the total
    saved = json.loads((out / "reports" / "training_summary.json").read_text())
    assert saved["stages"]["base"] == summary["stages"]["base"]
    assert saved["wall_time_s"] == round(summary["wall_time_s"] + again["wall_time_s"], 1)
    # a later single-stage run adds to the saved summary instead of replacing it
    total = saved["wall_time_s"]
    router = train_system(load_config(tiny_config), out, stages=["router"], final_eval_limit=0)
    saved = json.loads((out / "reports" / "training_summary.json").read_text())
    assert saved["wall_time_s"] == round(total + router["wall_time_s"], 1)  # the total, not the refit's time
    assert {"base", "experts", "router"} <= set(saved["stages"]) and set(saved["exact_match"]) == {
        "ascii",
        "runic",
    }
    skipped = {name: expert["skipped"] for name, expert in again["stages"]["experts"].items()}
    assert skipped == {"ascii": "done", "runic": "done"}
    # the skipped experts keep their figures
    assert saved["stages"]["experts"] == summary["stages"]["experts"]


def test_cli_runs_a_stage_and_rejects_a_bad_budget(tmp_path, tiny_config):
    runner = CliRunner()
    out = tmp_path / "sys"
    result = runner.invoke(
        app,
        [
            "train",
            "--config",
            str(tiny_config),
            "--stage",
            "corpus",
            "-o",
            str(out),
            "training.corpus.train_per_expert=3",
        ],
    )
    assert result.exit_code == 0, result.output
    assert sum(1 for _ in (out / ".train" / "corpus" / "train.jsonl").open()) == 6
    assert "system.yaml" in {p.name for p in out.iterdir()}
    bad = runner.invoke(app, ["train", "--config", str(tiny_config), "--time-budget", "soon", "-o", str(out)])
    assert bad.exit_code != 0 and "--time-budget" in str(bad.exception)
    unknown = runner.invoke(app, ["train", "--config", str(tiny_config), "--stage", "nope", "-o", str(out)])
    assert unknown.exit_code != 0 and "unknown stage" in str(unknown.exception)


def test_task_hints_train_and_serve_the_same_prompt(tmp_path, tiny_config):
    from helixmoe.system import HelixMoE
    from helixmoe.tasks import generate
    from helixmoe.training.pipeline import train_system
    from helixmoe.training.stages import eval_samples_of, pairs_of

    examples = generate(6, seed=0, split="train", experts=["runic"])
    hinted = pairs_of(examples, "hint")
    assert all(
        p.prompt == f"@task {e.meta['dst'] or e.meta['kind']}\n{e.prompt}" for p, e in zip(hinted, examples)
    )
    assert [p.prompt for p in pairs_of(examples, "plain")] == [e.prompt for e in examples]
    assert eval_samples_of(examples, 3, "hint")[0].prompt == hinted[0].prompt

    config = load_config(tiny_config, ["training.task_hints=true", "training.curriculum.general_steps=0"])
    out = tmp_path / "hinted"
    train_system(config, out, final_eval_limit=2)
    moe = HelixMoE.load(out, device="cpu")
    assert moe.task_hints and moe.model_prompt("Convert to LC-R: [1, 2]").startswith("@task ")
    tokens = moe.pool.tokenizer.tokenize("@task lc-r\n")
    assert len(tokens) <= 6, tokens  # the tokenizer was trained on hinted prompts


def _value_of(example):
    """The example's value (HLXL in its metadata), or ``None`` for an example without one."""
    from helixmoe import hlx

    return hlx.loads(example.meta["value"], "hlxl") if example.meta.get("value") else None


def _value_names(example) -> set[str]:
    """Object keys and handle names in the example's value."""
    from helixmoe import hlx

    found: set[str] = set()

    def walk(v):
        if isinstance(v, hlx.Handle):
            found.add(v.name)
        elif isinstance(v, dict):
            found.update(v)
            for x in v.values():
                walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)
        elif isinstance(v, hlx.Contract):
            for _, x in v.fields:
                walk(x)

    walk(_value_of(example))
    return found


def test_corpus_random_names_share_replaces_keys_in_training_only(tmp_path, tiny_config):
    from helixmoe.tasks import load_corpus
    from helixmoe.tasks.profiles import HANDLES, KEYS, OOD_HANDLES, OOD_KEYS

    out = tmp_path / "sys"
    runner = CliRunner()
    args = ["train", "--config", str(tiny_config), "--stage", "corpus", "-o", str(out)]
    result = runner.invoke(
        app, [*args, "training.corpus.train_per_expert=40", "training.corpus.random_names=0.5"]
    )
    assert result.exit_code == 0, result.output
    corpus = out / ".train" / "corpus"
    train = load_corpus(corpus / "train.jsonl")
    assert len(train) == 80
    for split in ("train", "val", "test", "ood"):  # built one expert at a time: ids still unique
        ids = [e.id for e in load_corpus(corpus / f"{split}.jsonl")]
        assert len(ids) == len(set(ids)), split
    fixed = set(KEYS + HANDLES)
    reserved = set(OOD_KEYS + OOD_HANDLES)
    seen = set().union(*(_value_names(e) for e in train))
    assert seen - fixed, "no random names in the training split"
    assert not seen & reserved, "an ood-reserved name leaked into training"
    for split in ("val", "test"):
        held = set().union(*(_value_names(e) for e in load_corpus(corpus / f"{split}.jsonl")))
        assert held <= fixed, split
    bad = runner.invoke(app, [*args, "training.corpus.random_names=1.5"])
    assert bad.exit_code != 0
    bad = runner.invoke(app, [*args, "training.corpus.name_style=nope"])
    assert bad.exit_code != 0 and "name_style" in str(bad.exception)

    words = tmp_path / "words"  # English compounds: still none of the ood split's names
    args[-1] = str(words)
    result = runner.invoke(
        app,
        [
            *args,
            "training.corpus.train_per_expert=40",
            "training.corpus.random_names=1.0",
            "training.corpus.name_style=words",
        ],
    )
    assert result.exit_code == 0, result.output
    seen = set().union(*(_value_names(e) for e in load_corpus(words / ".train" / "corpus" / "train.jsonl")))
    assert seen and not seen & (fixed | reserved) and sum("_" in n for n in seen) > len(seen) / 3


def test_corpus_wide_share_adds_larger_values_to_training_only(tmp_path, tiny_config):
    from collections import Counter

    from helixmoe.tasks import load_corpus
    from helixmoe.tasks.profiles import HANDLES, KEYS
    from helixmoe.tasks.values import count_nodes, depth_of

    out = tmp_path / "sys"
    overrides = [
        "training.corpus.train_per_expert=40",
        "training.corpus.random_names=0.5",
        "training.corpus.wide_share=0.5",
    ]
    args = ["train", "--config", str(tiny_config), "--stage", "corpus", "-o", str(out), *overrides]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    corpus = out / ".train" / "corpus"
    train = load_corpus(corpus / "train.jsonl")
    assert len(train) == 80 and len({e.id for e in train}) == 80

    def seed_of(example):  # ids are <split>-<seed>-<expert>-<index>: each part has its own seed
        return int(example.id.split("-")[1])

    # per expert: 20 wide (10 of them with random names), 20 of the training profile (10 random names)
    assert Counter(seed_of(e) for e in train) == {0: 20, 1_000_003: 20, 2_000_003: 20, 3_000_003: 20}

    def shape(example):  # (depth, nodes, names) of the example's value, as the generator counts them
        value = _value_of(example)
        return depth_of(value), count_nodes(value), _value_names(example)

    fixed = set(KEYS + HANDLES)
    by_part: dict[int, list[tuple[int, int, set[str]]]] = {}
    for e in train:
        by_part.setdefault(seed_of(e), []).append(shape(e))
    for part in (0, 1_000_003):  # the training profile: at most depth 2 and 12 nodes
        assert all(d <= 2 and n <= 12 for d, n, _ in by_part[part]), part
    for part in (2_000_003, 3_000_003):  # larger values, never past 16 nodes
        shapes = by_part[part]
        assert all(n <= 16 for _, n, _ in shapes) and any(d == 3 or n > 12 for d, n, _ in shapes), part
    mean = {p: sum(n for _, n, _ in v) / len(v) for p, v in by_part.items()}
    assert mean[2_000_003] > mean[0] and mean[3_000_003] > mean[1_000_003], mean
    assert set().union(*(names for *_, names in by_part[2_000_003])) <= fixed
    assert set().union(*(names for *_, names in by_part[3_000_003])) - fixed, "no random names"
    for split in ("val", "test"):  # only training changes
        assert {seed_of(e) for e in load_corpus(corpus / f"{split}.jsonl")} == {0}, split
    bad = CliRunner().invoke(app, [*args, "training.corpus.wide_share=1.5"])
    assert bad.exit_code != 0 and "wide_share" in bad.output + str(bad.exception)


def test_expert_train_weight_scales_its_training_split_only(tmp_path, tiny_config):
    from collections import Counter

    from helixmoe.cli.demo import _examples_text
    from helixmoe.demo_plan import router_reserve_s
    from helixmoe.tasks import load_corpus

    runner = CliRunner()

    def run(name, *overrides):
        args = ["train", "--config", str(tiny_config), "--stage", "corpus", "-o", str(tmp_path / name)]
        return runner.invoke(app, [*args, "training.corpus.train_per_expert=10", *overrides])

    def corpus(name, *overrides):
        result = run(name, *overrides)
        assert result.exit_code == 0, result.output
        out = tmp_path / name
        return {
            s: load_corpus(out / ".train" / "corpus" / f"{s}.jsonl") for s in ("train", "val", "test", "ood")
        }

    plain = corpus("plain", "training.corpus.random_names=0.5")
    weighted = corpus("weighted", "training.corpus.random_names=0.5", "experts.ascii.train_weight=2.5")
    assert Counter(e.expert for e in plain["train"]) == {"ascii": 10, "runic": 10}
    assert Counter(e.expert for e in weighted["train"]) == {"ascii": 25, "runic": 10}
    # every part keeps its seed, so the larger split holds the smaller one's examples
    assert {(e.id, e.prompt) for e in plain["train"]} <= {(e.id, e.prompt) for e in weighted["train"]}
    for split in ("val", "test", "ood"):  # reports stay comparable: held-out splits unchanged
        assert [(e.id, e.prompt) for e in weighted[split]] == [(e.id, e.prompt) for e in plain[split]], split

    config = load_config(
        tiny_config, ["training.corpus.train_per_expert=10", "experts.runic.train_weight=0.04"]
    )
    assert (config.train_examples("ascii"), config.train_examples("runic")) == (10, 1)  # never zero
    assert _examples_text(config) == "training examples ascii 10, runic 1"
    even = load_config(tiny_config, ["training.corpus.train_per_expert=10"])
    assert _examples_text(even) == "10 training examples each"
    assert router_reserve_s(config) < router_reserve_s(even)  # the router fits on the prompts generated
    bad = run("bad", "experts.ascii.train_weight=0")
    assert bad.exit_code != 0 and "train_weight" in bad.output + str(bad.exception)


def test_sigterm_stops_the_pipeline_and_resume_finishes_it(tmp_path, tiny_config):
    import os
    import signal
    import subprocess
    import sys
    import time

    from helixmoe.training.checkpoints import last_complete_checkpoint

    out = tmp_path / "sys"
    cmd = [
        sys.executable,
        "-m",
        "helixmoe",
        "train",
        "--config",
        str(tiny_config),
        "-o",
        str(out),
        "--eval-limit",
        "0",
    ]
    proc = subprocess.Popen(
        [*cmd, "training.base.max_steps=100000"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    metrics = out / "reports" / "training_metrics.jsonl"
    try:
        deadline = time.monotonic() + 180
        while not (metrics.is_file() and metrics.read_text().count('"phase": "base"') >= 2):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "base training never started"
            time.sleep(0.2)
        os.kill(proc.pid, signal.SIGTERM)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err[-2000:]
    assert "continue with --resume" in err
    ckpt = last_complete_checkpoint(out / ".train" / "runs" / "base")
    assert ckpt is not None and not (out / "base").exists() and not (out / "experts" / "ascii").exists()

    step = int(ckpt.name.split("-")[1])
    done = subprocess.run(
        [*cmd, "--resume", f"training.base.max_steps={step + 2}"], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads((out / "reports" / "training_summary.json").read_text())
    assert summary["stages"]["base"]["resumed_from"].endswith(ckpt.name)
    assert summary["stages"]["base"]["steps"] == step + 2
    assert (out / "experts" / "runic" / "adapter_model.safetensors").is_file()


def test_continuous_mode_trains_on_fresh_rounds(tmp_path, tiny_config):
    from helixmoe.training.pipeline import train_system

    overrides = [
        "training.continuous.enabled=true",
        "training.continuous.max_rounds=2",
        "training.continuous.round_examples=8",
        "training.continuous.target_exact_match=1.0",
        "training.curriculum.general_steps=0",
    ]
    out = tmp_path / "system"
    summary = train_system(load_config(tiny_config, overrides), out, experts=["runic"], final_eval_limit=0)
    rounds = summary["stages"]["experts"]["runic"]["rounds"]
    assert len(rounds) == 2 and all(r["steps"] == 2 for r in rounds)
    phases = {json.loads(line)["phase"] for line in (out / "reports" / "training_metrics.jsonl").open()}
    assert {"experts/runic", "experts/runic/round1"} <= phases
    assert (out / "experts" / "runic" / "adapter_model.safetensors").is_file()


def test_mistaken_stages_or_experts_are_refused_before_anything_is_written(tmp_path, tiny_config):
    from helixmoe.errors import ConfigError
    from helixmoe.training.pipeline import train_system

    fresh = tmp_path / "fresh"
    with pytest.raises(ConfigError, match="unknown stage"):
        train_system(load_config(tiny_config), fresh, stages=["nosuch"])
    assert not fresh.exists()
    afile = tmp_path / "afile"
    afile.write_text("mine")
    with pytest.raises(ConfigError, match="afile: not a directory"):
        train_system(load_config(tiny_config), afile)
    assert afile.read_text() == "mine"
    with pytest.raises(ConfigError, match=r"experts\.ascii\.families: unknown task family 'nosuch'; known: "):
        train_system(load_config(tiny_config, ["experts.ascii.families=[convert,nosuch]"]), fresh)
    assert not fresh.exists()
    existing = tmp_path / "existing"
    train_system(load_config(tiny_config), existing, stages=["corpus"], final_eval_limit=0)
    before = (existing / "system.yaml").read_text()
    changed = load_config(tiny_config, ["training.experts.max_steps=99"])
    with pytest.raises(ConfigError, match=r"unknown expert.*nosuch"):
        train_system(changed, existing, stages=["experts"], experts=["nosuch"])
    assert (existing / "system.yaml").read_text() == before  # the system's config is untouched
    # a stage whose input neither the run nor the directory has: refused, nothing written
    with pytest.raises(ConfigError, match=r"stage experts needs the corpus stage's output.*--stage corpus"):
        train_system(load_config(tiny_config), fresh, stages=["experts"])
    assert not fresh.exists()
    with pytest.raises(ConfigError, match=r"stage base needs the tokenizer stage's output"):
        train_system(changed, existing, stages=["base"])  # the corpus is there, the tokenizer is not
    assert (existing / "system.yaml").read_text() == before
    # what an earlier stage of the same run writes is fine
    train_system(load_config(tiny_config), existing, stages=["tokenizer", "router"], final_eval_limit=0)
    assert (existing / "router" / "router.json").is_file()


def test_a_stage_must_need_registered_stages():
    from helixmoe.training.stages import NEEDS, STAGES, register_stage

    assert NEEDS["experts"] == ("corpus", "tokenizer", "base") and NEEDS["router"] == ("corpus",)
    with pytest.raises(ValueError, match="needs \\['nosuch'\\]"):
        register_stage("extra", needs=("nosuch",))(lambda ctx: {})
    assert "extra" not in STAGES


def test_router_fits_on_at_most_max_prompts(tmp_path, tiny_config):
    from helixmoe.demo_plan import router_reserve_s
    from helixmoe.training.pipeline import train_system

    config = load_config(tiny_config, ["routing.max_prompts=150"])
    summary = train_system(config, tmp_path / "system", stages=["corpus", "router"], final_eval_limit=0)
    assert summary["stages"]["router"]["train_examples"] == 150  # of 48 + 300
    assert (tmp_path / "system" / "router" / "router.json").is_file()
    # the demo's estimate of the router's time counts the prompts it will really fit on
    assert router_reserve_s(config) < router_reserve_s(load_config(tiny_config))


def test_spent_budget_skips_training_stages_but_still_fits_the_router(tmp_path, tiny_config, monkeypatch):
    from helixmoe.models.layout import SystemLayout
    from helixmoe.training import stages
    from helixmoe.training.context import StageContext

    ran: list[str] = []
    for name in STAGES:
        monkeypatch.setitem(stages.STAGES, name, lambda ctx, name=name: ran.append(name) or {"ran": True})
    ctx = StageContext(config=load_config(tiny_config), layout=SystemLayout(tmp_path), deadline=0.0)
    results = stages.run_stages(ctx, ["all"])
    assert ran == ["router"]
    assert results["base"] == {"skipped": "time budget exhausted"} and results["router"] == {"ran": True}


def test_copy_warmup_runs_before_the_base_and_resume_reuses_it(tmp_path, tiny_config):
    import shutil

    from helixmoe.training.pipeline import train_system

    out = tmp_path / "system"
    config = load_config(tiny_config, ["training.copy_warmup.steps=2", "training.copy_warmup.examples=16"])
    summary = train_system(config, out, stages=["corpus", "tokenizer", "base"], final_eval_limit=0)
    base = summary["stages"]["base"]
    assert base["copy_warmup"]["steps"] == 2 and base["steps"] == 2
    phases = [json.loads(line)["phase"] for line in (out / "reports" / "training_metrics.jsonl").open()]
    assert phases.index("base-copy") < phases.index("base")  # the warm-up trains first
    assert (out / ".train" / "base-copy-model" / "model.safetensors").is_file()

    # resumed after the warm-up finished but before the base phase checkpointed: the warmed weights are
    # loaded instead of training the warm-up again
    state_file = out / ".train" / "state.json"
    state = json.loads(state_file.read_text())
    del state["base"]
    state_file.write_text(json.dumps(state))
    shutil.rmtree(out / ".train" / "runs" / "base")
    again = train_system(config, out, stages=["base"], resume=True, final_eval_limit=0)
    assert again["stages"]["base"]["copy_warmup"]["skipped"] == "done"
    assert again["stages"]["base"]["copy_warmup"]["steps"] == 2  # recorded when the warm-up finished
    assert again["stages"]["base"]["steps"] == 2

    # a run killed after its stages finished but before it wrote its summary: the resumed run skips them all
    # and its summary still has their figures, from .train/state.json
    (out / "reports" / "training_summary.json").unlink()
    state = json.loads(state_file.read_text())
    assert "_runs" not in state  # each run that wrote its summary took its own time out of the record
    state["_runs"] = {"killedrun": 100.0}  # the killed run's time up to its last finished stage
    state_file.write_text(json.dumps(state))
    train_system(config, out, stages=["corpus", "tokenizer", "base"], resume=True, final_eval_limit=0)
    saved = json.loads((out / "reports" / "training_summary.json").read_text())
    assert saved["stages"]["base"]["steps"] == 2 and saved["stages"]["base"]["copy_warmup"]["steps"] == 2
    assert saved["stages"]["corpus"]["train"] > 0 and saved["stages"]["base"]["skipped"] == "done"
    assert saved["unsummarised_runs_s"] == 100.0 and saved["wall_time_s"] >= 100.0  # its time is counted
    assert "_runs" not in json.loads(state_file.read_text())  # once

    # a damaged record is an error for --resume, not a silent start from scratch
    state_file.write_text("{broken")
    with pytest.raises(DataError, match=r"state\.json: unreadable record of the finished stages"):
        train_system(config, out, stages=["corpus", "tokenizer", "base"], resume=True, final_eval_limit=0)
    assert state_file.read_text() == "{broken"


def test_copy_mix_adds_its_share_of_long_copy_strings_to_the_base_phase(tmp_path, tiny_config, monkeypatch):
    from helixmoe.models.tokenizer import load_tokenizer
    from helixmoe.training import phases
    from helixmoe.training.pipeline import train_system

    seen: dict[str, list] = {}
    real = phases.train_phase

    def spy(ctx, *, name, train, **kwargs):
        seen[name] = list(train)
        return real(ctx, name=name, train=train, **kwargs)

    monkeypatch.setattr(phases, "train_phase", spy)
    mix = ["training.copy_warmup.mix_share=0.25", "training.copy_warmup.max_tokens=8"]
    mix.append("training.copy_warmup.mix_max_tokens=40")
    out = tmp_path / "system"
    stages = ["corpus", "tokenizer", "base"]
    summary = train_system(load_config(tiny_config, mix), out, stages=stages, final_eval_limit=0)
    train = seen["base"]
    corpus = sum(1 for _ in (out / ".train" / "corpus" / "train.jsonl").open())
    copies = train[corpus:]
    assert len(copies) == round(corpus / 3) == summary["stages"]["base"]["copy_strings_mixed"]  # 1/4 of all
    # (TINY's max_seq_len of 384 fits every 40-piece string: none is left out)
    assert all(p.prompt == p.response for p in copies)
    assert not any(p.prompt == p.response for p in train[:corpus])
    tok = load_tokenizer(out / "tokenizer")
    lengths = [len(tok.encode(p.prompt, add_special_tokens=False)) for p in copies]
    assert max(lengths) > 2 * 8  # mix_max_tokens, not the warm-up's max_tokens, bounds them

    plain = train_system(load_config(tiny_config), tmp_path / "plain", stages=stages, final_eval_limit=0)
    assert "copy_strings_mixed" not in plain["stages"]["base"]
    assert len(seen["base"]) == sum(
        1 for _ in (tmp_path / "plain" / ".train" / "corpus" / "train.jsonl").open()
    )


def test_mixed_copy_strings_that_would_not_fit_max_seq_len_are_left_out(tmp_path, tiny_config):
    from helixmoe.models.layout import SystemLayout
    from helixmoe.models.tokenizer import train_tokenizer
    from helixmoe.training.context import StageContext
    from helixmoe.training.stages import mixed_copy_pairs

    tok = train_tokenizer(['[1, 2, "ab"] -> 🜃1, 2, "ab"🜄'] * 20, scheme="bpe", vocab_size=300)
    mix = ["training.copy_warmup.mix_share=0.5", "training.copy_warmup.mix_max_tokens=60"]

    def mixed(max_seq_len: int) -> list:
        config = load_config(tiny_config, [*mix, f"model.max_seq_len={max_seq_len}"])
        return mixed_copy_pairs(StageContext(config=config, layout=SystemLayout(tmp_path)), tok, 200)

    roomy, tight = mixed(512), mixed(64)
    assert len(roomy) == 200  # half of the whole: as many as the corpus
    assert 0 < len(tight) < len(roomy) and set(tight) <= set(roomy)  # the same strings, the long ones dropped
    assert all(len(tok.encode(p.prompt, add_special_tokens=False)) < 32 for p in tight)


def test_copy_pairs_are_seeded_random_strings_of_ordinary_tokens():
    from helixmoe.models.template import SPECIAL_TOKENS
    from helixmoe.models.tokenizer import train_tokenizer
    from helixmoe.training.copy_warmup import copy_pairs

    tok = train_tokenizer(['[1, 2, "ab"] -> 🜃1, 2, "ab"🜄'] * 20, scheme="bpe", vocab_size=300)
    pairs = copy_pairs(tok, 50, min_tokens=3, max_tokens=6, seed=1)
    assert pairs == copy_pairs(tok, 50, min_tokens=3, max_tokens=6, seed=1)
    assert pairs != copy_pairs(tok, 50, min_tokens=3, max_tokens=6, seed=2)
    assert all(p.prompt == p.response for p in pairs)
    assert not any(s in p.prompt for p in pairs for s in SPECIAL_TOKENS)
    lengths = [len(tok.encode(p.prompt, add_special_tokens=False)) for p in pairs]
    assert min(lengths) >= 1 and max(lengths) <= 6 * 2  # pieces may re-merge or split a little
    assert len({p.prompt for p in pairs}) > 45


def test_aligned_positions_train_and_serve_the_same_positions(tmp_path, tiny_config, monkeypatch):
    from helixmoe.system import HelixMoE
    from helixmoe.tasks import generate
    from helixmoe.training import data, exact_match
    from helixmoe.training.pipeline import train_system
    from helixmoe.training.stages import eval_samples_of, pairs_of

    examples = generate(8, seed=0, split="train", experts=["runic"])
    pairs = pairs_of(examples, "aligned")
    assert [p.prompt for p in pairs] == [p.prompt for p in pairs_of(examples, "frame")]
    for pair in pairs:  # conversions align to their framed value; the rest keep ordinary positions
        framed = pair.prompt.split("\n", 1)[0].removeprefix("@task ") in ("hlxl", "lc-r")
        assert pair.value_at == (pair.prompt.index("\n") + 1 if framed else None)
    assert any(p.value_at is not None for p in pairs) and all(
        p.value_at is None for p in pairs_of(examples, "frame")
    )
    assert [s.value_at for s in eval_samples_of(examples, 8, "aligned")] == [p.value_at for p in pairs]

    collated, evaluated = [], []
    collator = data.make_collator
    monkeypatch.setattr(
        "helixmoe.training.phases.make_collator",
        lambda tok: lambda rows: collated.append(collator(tok)(rows)) or collated[-1],
    )
    aligned_eval = exact_match.ExactMatchEvaluator._aligned
    monkeypatch.setattr(
        exact_match.ExactMatchEvaluator,
        "_aligned",
        lambda self, m: evaluated.append(1) or aligned_eval(self, m),
    )
    overrides = [
        "training.task_hints=true",
        "training.frame_requests=true",
        "training.aligned_positions=true",
    ]
    config = load_config(tiny_config, [*overrides, "training.curriculum.general_steps=0"])
    out = tmp_path / "aligned"
    train_system(config, out, final_eval_limit=2)
    assert any("position_ids" in batch for batch in collated)  # the base and the experts trained on them
    assert evaluated  # best-at-end graded answers decoded at the aligned positions
    moe = HelixMoE.load(out, device="cpu")
    assert moe.prompt_style == "aligned"
    assert isinstance(moe.query("Convert to LC-R: [1, 2]", verify="off"), str)


def test_a_phase_budget_counts_its_setup(tmp_path, tiny_config, monkeypatch):
    """Tokenising a phase's examples is part of its budget: on a slow machine a short share must not
    turn into a long stage (the trainer's own clock starts only at its first step)."""
    import time

    from training_helpers import make_model, make_tokenizer, reversal_pairs

    from helixmoe.models.layout import SystemLayout
    from helixmoe.training import phases
    from helixmoe.training.context import StageContext

    seen = {}

    class SlowDataset(phases.EncodedDataset):
        def __init__(self, *args, **kwargs):
            time.sleep(0.4)
            super().__init__(*args, **kwargs)

    class Stop(Exception):
        pass

    def capture(trainer, options):
        seen["budget_s"] = options.budget_s
        raise Stop

    monkeypatch.setattr(phases, "EncodedDataset", SlowDataset)
    monkeypatch.setattr(phases, "run_trainer", capture)
    config = load_config(tiny_config)
    ctx = StageContext(config=config, layout=SystemLayout(tmp_path / "sys"))
    tokenizer = make_tokenizer()
    with pytest.raises(Stop):
        phases.train_phase(
            ctx,
            name="base",
            model=make_model(),
            tokenizer=tokenizer,
            phase=config.training.base,
            train=reversal_pairs(4, 0),
            budget_s=10.0,
        )
    assert 0.0 < seen["budget_s"] <= 10.0 - 0.4
