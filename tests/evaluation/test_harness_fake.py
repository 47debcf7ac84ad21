"""The harness on a scripted fake predictor: every figure checked against a hand-computed value."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helixmoe import tasks
from helixmoe.errors import ConfigError, DataError
from helixmoe.evaluation import Report, evaluate, write_report
from helixmoe.routing import KeywordRouter

from .conftest import FakePredictor

EXPERTS = ["ascii", "runic"]
# per row: routed right?, end-to-end answer right?, true-expert answer right?
SCRIPT = [
    (True, True, True),  # 0 right
    (True, True, True),  # 1 right
    (True, False, False),  # 2 expert error
    (False, False, True),  # 3 routing error
    (False, False, False),  # 4 both
    (False, True, True),  # 5 misrouted but right anyway
    (True, True, True),  # 6
    (True, True, True),  # 7
    (True, True, True),  # 8
    (True, True, True),  # 9
]


def _other(expert: str) -> str:
    return "runic" if expert == "ascii" else "ascii"


@pytest.fixture()
def scripted() -> tuple[list[tasks.Example], FakePredictor]:
    examples = tasks.generate(len(SCRIPT), seed=3, split="test", experts=EXPERTS)
    routes, answers, gen_ms = {}, {}, {}
    for i, (ex, (route_ok, e2e_ok, oracle_ok)) in enumerate(zip(examples, SCRIPT)):
        routed = ex.expert if route_ok else _other(ex.expert)
        routes[ex.prompt] = routed
        if e2e_ok:
            answers[(ex.prompt, routed)] = ex.response
        if oracle_ok:
            answers[(ex.prompt, ex.expert)] = ex.response
        gen_ms[ex.prompt] = 10.0 * (i + 1)  # 10, 20, ..., 100 ms
    fake = FakePredictor(
        EXPERTS,
        routes,
        answers,
        gen_ms=gen_ms,
        unverifiable={examples[2].prompt},
        references={e.prompt: e.response for e in examples},
    )
    return examples, fake


def test_end_to_end_figures(scripted: tuple[list[tasks.Example], FakePredictor]) -> None:
    examples, fake = scripted
    report = evaluate(fake, examples, batch_size=4, verify="flag", latency_queries=3)
    s = report.summary
    assert s["n"] == 10
    assert s["exact"] == pytest.approx(0.7)  # rows 0,1,5,6,7,8,9
    assert s["verified_accuracy"] == pytest.approx(0.7)  # flag changes no answer
    assert s["fallback_rate"] == 0.0
    assert s["routing_accuracy"] == pytest.approx(0.7)
    assert s["oracle_route_exact"] == pytest.approx(0.8)  # row 3 fixed, row 5 still right
    assert report.attribution == {
        "errors": 3,
        "routing": 1,
        "expert": 1,
        "both": 1,
        "unknown": 0,
        "rescued": 1,
    }
    # confusion matrix: rows = true expert, columns = routed, in the predictor's expert order
    true = [ex.expert for ex in examples]
    routed = [fake.routes[ex.prompt] for ex in examples]
    expected = [[sum(t == a and r == b for t, r in zip(true, routed)) for b in EXPERTS] for a in EXPERTS]
    assert report.routing["labels"] == EXPERTS and report.routing["matrix"] == expected
    assert sum(map(sum, report.routing["matrix"])) == 10
    # the keyword baseline is the published rules on the same prompts
    kw = KeywordRouter(experts=EXPERTS)
    assert report.routing["keyword"]["accuracy"] == pytest.approx(
        sum(kw.route(ex.prompt).expert == ex.expert for ex in examples) / 10
    )
    # verification: row 2 is wrong and unverifiable -> the one silent error; rows 3, 4 rejected
    v = report.verification
    assert (v["verified"], v["rejected"], v["unverifiable"], v["silent_errors"]) == (7, 2, 1, 1)
    assert v["verified_but_wrong"] == 0 and v["false_alarms"] == 0


def test_oracle_pass_modes_and_calls(scripted: tuple[list[tasks.Example], FakePredictor]) -> None:
    examples, fake = scripted
    evaluate(fake, examples, latency_queries=0, keyword_baseline=False)
    e2e, oracle = fake.calls
    assert e2e["experts"] is None and len(e2e["texts"]) == 10
    assert oracle["experts"] == [examples[i].expert for i in (3, 4, 5)]  # only the misrouted rows
    fake.calls.clear()
    full = evaluate(fake, examples, latency_queries=0, oracle_route="full")
    assert fake.calls[1]["experts"] == [ex.expert for ex in examples]
    assert full.summary["oracle_route_exact"] == pytest.approx(0.8)
    fake.calls.clear()
    off = evaluate(fake, examples, latency_queries=0, oracle_route="off")
    assert len(fake.calls) == 1 and off.summary["oracle_route_exact"] is None
    assert off.attribution["unknown"] == 2 and off.attribution["expert"] == 1


def test_per_expert_and_family_groups(scripted: tuple[list[tasks.Example], FakePredictor]) -> None:
    examples, fake = scripted
    report = evaluate(fake, examples, latency_queries=0)
    for name, group in report.by_expert.items():
        rows = [(i, ex) for i, ex in enumerate(examples) if ex.expert == name]
        assert group["n"] == len(rows)
        assert group["exact"] == pytest.approx(sum(SCRIPT[i][1] for i, _ in rows) / len(rows))
    assert sum(g["n"] for g in report.by_family.values()) == 10
    assert set(report.by_family) == {ex.family for ex in examples}
    assert all(g["latency_p50_ms"] is None and g["latency_n"] == 0 for g in report.by_expert.values())
    timed = evaluate(fake, examples, latency_queries=len(examples))
    assert sum(g["latency_n"] for g in timed.by_expert.values()) == len(examples)
    assert all(g["latency_p50_ms"] is not None for g in timed.by_expert.values() if g["latency_n"])


def test_oracle_policy_keeps_model_only_apart(scripted: tuple[list[tasks.Example], FakePredictor]) -> None:
    examples, fake = scripted
    report = evaluate(fake, examples, verify="oracle", latency_queries=0)
    s = report.summary
    assert s["exact"] == pytest.approx(0.7)  # what the model said
    assert s["verified_accuracy"] == pytest.approx(0.9)  # rows 3, 4 replaced; row 2 was unverifiable
    assert s["fallback_rate"] == pytest.approx(0.2)
    assert report.verification["fallbacks"] == {"oracle": 2}


def test_latency_and_throughput(scripted: tuple[list[tasks.Example], FakePredictor]) -> None:
    examples, fake = scripted
    report = evaluate(fake, examples, latency_queries=4)
    batched = report.latency["batched_per_row"]["generate"]
    assert (batched["n"], batched["p50"], batched["p95"], batched["p99"]) == (10, 55.0, 95.5, 99.1)
    single = report.latency["single_query"]["total"]
    # spread over the split: examples 0, 2, 4, 6 -> 10.6, 30.6, 50.6, 70.6 ms
    assert single["n"] == 4 and single["p50"] == pytest.approx(40.6)
    t = report.throughput
    words = sum(
        len(fake.answers.get((ex.prompt, fake.routes[ex.prompt]), "definitely not the answer").split())
        for ex in examples
    )
    assert t["unit"] == "tokens" and t["generated"] == words
    assert t["per_second"] == pytest.approx(words / 0.55, rel=1e-3)  # 550 ms of generation
    assert report.memory["rss_peak_bytes"] > 0


def test_n_and_unknown_experts(scripted: tuple[list[tasks.Example], FakePredictor]) -> None:
    examples, fake = scripted
    assert evaluate(fake, examples, n=4, latency_queries=0).summary["n"] == 4
    other = tasks.generate(3, seed=0, split="test", experts=["math"])
    assert evaluate(fake, other + examples[:2], latency_queries=0).summary["n"] == 2  # math skipped
    with pytest.raises(DataError, match="no examples"):
        evaluate(fake, other)
    with pytest.raises(ConfigError, match="verify"):
        evaluate(fake, examples, verify="sometimes")
    with pytest.raises(ConfigError, match="oracle_route"):
        evaluate(fake, examples, oracle_route="maybe")


def test_report_files_roundtrip(scripted: tuple[list[tasks.Example], FakePredictor], tmp_path: Path) -> None:
    examples, fake = scripted
    report = evaluate(fake, examples, latency_queries=2, meta={"split": "test"})
    written = write_report(report, tmp_path / "reports")
    assert {"json", "markdown", "examples", "confusion", "families", "latency"} <= set(written)
    data = json.loads((tmp_path / "reports" / "report.json").read_text(encoding="utf-8"))
    again = Report.from_dict(data)
    assert again.summary == report.summary and again.routing == report.routing
    md = (tmp_path / "reports" / "report.md").read_text(encoding="utf-8")
    for heading in (
        "## Summary",
        "## Beside the published HLX MoE",
        "## Per expert",
        "## Per task family",
        "## Routing",
        "## Perfect router vs end to end",
        "## Latency",
        "## Sizes",
    ):
        assert heading in md
    assert "80% on 20 held-out prompts" in md and "70.0%" in md
    for name in ("confusion.png", "families.png", "latency.png"):
        assert (tmp_path / "reports" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rows = [json.loads(line) for line in (tmp_path / "reports" / "examples.jsonl").read_text().splitlines()]
    assert [r["id"] for r in rows] == [ex.id for ex in examples]
    assert not list((tmp_path / "reports").glob(".*tmp"))  # no temp files left behind


def test_sizes_and_training_figures_from_a_system_dir(
    scripted: tuple[list[tasks.Example], FakePredictor], tmp_path: Path
) -> None:
    import numpy as np
    from safetensors.numpy import save_file

    examples, fake = scripted
    root = tmp_path / "system"
    (root / "base").mkdir(parents=True)
    save_file(
        {"w": np.zeros((10, 20), dtype=np.float32), "b": np.zeros(5, dtype=np.float32)},
        str(root / "base" / "model.safetensors"),
    )
    for name, rank in (("ascii", 2), ("runic", 4)):
        (root / "experts" / name).mkdir(parents=True)
        save_file(
            {"lora_A": np.zeros((rank, 20), dtype=np.float32)},
            str(root / "experts" / name / "adapter_model.safetensors"),
        )
    (root / "reports").mkdir()
    (root / "reports" / "training_summary.json").write_text('{"wall_time_s": 600.0}', encoding="utf-8")
    lines = [{"phase": "base", "step": s, "loss": 3.0 / s} for s in (1, 2, 3)]
    lines.append({"phase": "experts/ascii", "step": 1, "eval_exact_match": 0.5, "eval_loss": 1.0})
    (root / "reports" / "training_metrics.jsonl").write_text(
        "".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8"
    )
    tasks.write_corpus(
        root / ".train" / "corpus" / "train.jsonl", tasks.generate(30, seed=0, split="train", experts=EXPERTS)
    )
    fake.root = root  # type: ignore[attr-defined]
    report = evaluate(fake, examples, latency_queries=0, meta={"split": "test"})
    assert report.sizes["base"]["params"] == 205
    assert {k: v["params"] for k, v in report.sizes["experts"].items()} == {"ascii": 40, "runic": 80}
    assert report.sizes["total_params"] == 325
    weights = (root / "experts" / "runic" / "adapter_model.safetensors").stat().st_size
    assert report.sizes["experts"]["runic"]["weights_bytes"] == weights
    counts = report.training["train_examples_per_expert"]
    assert sum(counts.values()) == 30 and set(counts) <= set(EXPERTS)
    written = write_report(report, tmp_path / "out")
    assert written["training_curves"].read_bytes()[:4] == b"\x89PNG"
    md = written["markdown"].read_text(encoding="utf-8")
    assert "10.0 min wall time" in md and "per expert (generated" in md
    assert "![training_curves](training_curves.png)" in md


def test_sample_of_n_is_seeded_and_keeps_order(scripted: tuple[list[tasks.Example], FakePredictor]) -> None:
    examples, fake = scripted
    grouped = sorted(examples, key=lambda ex: ex.expert)  # a corpus file grouped by expert

    def ids(seed: int) -> list[str]:
        return [r["id"] for r in evaluate(fake, grouped, n=5, seed=seed, latency_queries=0).rows]

    first = ids(0)
    assert len(first) == 5 and first == ids(0)
    order = [ex.id for ex in grouped]
    assert [order.index(i) for i in first] == sorted(order.index(i) for i in first)
    assert any(ids(s) != first for s in (1, 2, 3))


def test_evaluate_system_on_a_jsonl_split(
    scripted: tuple[list[tasks.Example], FakePredictor], tmp_path: Path
) -> None:
    from helixmoe.config import EvaluationConfig
    from helixmoe.evaluation import default_report_dir, evaluate_system

    examples, fake = scripted
    items = tmp_path / "items.jsonl"
    tasks.write_corpus(items, examples)
    cfg = EvaluationConfig(n=6, latency_queries=1, plots=False)
    with pytest.raises(ConfigError, match="out="):
        evaluate_system(fake, str(items), config=cfg)
    report, written = evaluate_system(fake, str(items), config=cfg, out=tmp_path / "r")
    assert report.summary["n"] == 6 and report.meta["split"] == "items.jsonl"
    assert set(written) == {"json", "markdown", "examples"}
    assert default_report_dir(tmp_path, str(items)) == tmp_path / "reports" / "eval-items"
    assert default_report_dir(tmp_path, "ood") == tmp_path / "reports" / "eval-ood"
