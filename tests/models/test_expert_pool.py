"""ExpertPool: add/save/load/activate/delete, PEFT layout, mixed-expert batches, merge export."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from peft import PeftModel

from helixmoe.config import LoRAConfig
from helixmoe.errors import ConfigError, SystemLoadError
from helixmoe.models.base import load_base
from helixmoe.models.experts import ExpertPool

LORA = LoRAConfig(r=4, alpha=8, dropout=0.0)
PROMPTS = ["Convert to LC-R: [1, 2, 3]", "hi", "Convert {a: 1} to LC-T", "∅", "What is 2 + 2?"]


def _randomise(pool: ExpertPool, name: str, seed: int) -> None:
    """Give an expert non-zero B matrices (fresh LoRA starts as the identity) so experts differ."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for key, param in pool.model.named_parameters():
            if f".{name}." in key and "lora_B" in key:
                param.copy_(torch.randn(param.shape, generator=g) * 0.5)


@pytest.fixture
def pool(tiny_base_dir: Path, char_tokenizer) -> ExpertPool:
    pool = ExpertPool(load_base(tiny_base_dir, device="cpu"), char_tokenizer)
    for seed, name in enumerate(["ascii", "runic"]):
        pool.add(name, LORA, info={"description": f"the {name} expert"})
        _randomise(pool, name, seed)
    return pool


def _logits(pool_or_model, ids: list[int]) -> torch.Tensor:
    model = pool_or_model.model if isinstance(pool_or_model, ExpertPool) else pool_or_model
    model.eval()
    with torch.no_grad():
        return model(input_ids=torch.tensor([ids])).logits


def test_add_activate_and_names(pool: ExpertPool, char_tokenizer) -> None:
    assert pool.names == ["ascii", "runic"] and pool.active == "runic"
    ids = char_tokenizer.encode("🜃1🜄", add_special_tokens=False)
    runic = _logits(pool, ids)
    pool.activate("ascii")
    assert pool.active == "ascii"
    assert not torch.allclose(_logits(pool, ids), runic)
    assert pool.info("ascii")["lora"]["r"] == 4
    trainable = [n for n, p in pool.model.named_parameters() if p.requires_grad]
    assert trainable and all(".ascii." in n for n in trainable)  # training touches the active expert only


@pytest.mark.parametrize(("name", "fragment"), [("ascii", "already exists"), ("Bad-Name", "must match")])
def test_bad_names(pool: ExpertPool, name: str, fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment):
        pool.add(name, LORA)


def test_unknown_target_module_and_unknown_expert(pool: ExpertPool) -> None:
    with pytest.raises(ConfigError, match="cannot add LoRA adapter"):
        pool.add("math", LoRAConfig(target_modules=["no_such_proj"]))
    with pytest.raises(ConfigError, match="unknown expert 'math'"):
        pool.activate("math")


def test_save_writes_the_peft_layout_and_load_restores_it(
    pool: ExpertPool, tmp_path: Path, tiny_base_dir: Path
) -> None:
    target = pool.save("runic", tmp_path / "experts" / "runic")
    assert sorted(p.name for p in target.iterdir()) == [
        "adapter_config.json",
        "adapter_model.safetensors",
        "expert.json",
    ]
    meta = json.loads((target / "expert.json").read_text())
    assert meta["name"] == "runic" and meta["description"] == "the runic expert"
    fresh = ExpertPool(load_base(tiny_base_dir, device="cpu"), pool.tokenizer)
    fresh.load("runic", target)
    ids = pool.tokenizer.encode("◇a: 1◆", add_special_tokens=False)
    pool.activate("runic")
    assert torch.allclose(_logits(fresh, ids), _logits(pool, ids), atol=1e-6)
    assert fresh.info("runic")["description"] == "the runic expert"


@pytest.mark.filterwarnings("ignore:`is_gradient_checkpointing` is deprecated:FutureWarning")  # plain PEFT
def test_plain_peft_loads_a_saved_expert(pool: ExpertPool, tmp_path: Path, tiny_base_dir: Path) -> None:
    target = pool.save("ascii", tmp_path / "ascii")
    plain = PeftModel.from_pretrained(load_base(tiny_base_dir, device="cpu"), str(target))
    ids = pool.tokenizer.encode("[1, 2]", add_special_tokens=False)
    pool.activate("ascii")
    assert torch.allclose(_logits(plain, ids), _logits(pool, ids), atol=1e-6)


def test_missing_adapter_fails_at_load(pool: ExpertPool, tmp_path: Path) -> None:
    with pytest.raises(SystemLoadError, match="not found"):
        pool.load("math", tmp_path / "absent")
    target = pool.save("ascii", tmp_path / "ascii")
    (target / "adapter_model.safetensors").unlink()
    with pytest.raises(SystemLoadError, match=r"no adapter_model\.safetensors"):
        pool.load("math", target)


@pytest.mark.parametrize(
    ("config", "problem"),
    [
        ({}, "not a PEFT adapter config: missing field 'peft_type'"),
        ([], "not a PEFT adapter config: expected a JSON object"),
        ({"peft_type": "IA3"}, 'peft_type must be "LORA" (an expert is a LoRA adapter), got "IA3"'),
    ],
)
def test_a_bad_adapter_config_names_the_file_and_field(
    pool: ExpertPool, tmp_path: Path, config: object, problem: str
) -> None:
    target = pool.save("ascii", tmp_path / "ascii")
    (target / "adapter_config.json").write_text(json.dumps(config))
    with pytest.raises(SystemLoadError) as caught:
        pool.load("math", target)
    assert str(caught.value) == f"{target / 'adapter_config.json'}: {problem}"


def test_mixed_expert_batch_equals_per_row_generation(pool: ExpertPool) -> None:
    experts = ["ascii", "runic", None, "runic", "ascii"]
    batch = pool.generate(PROMPTS, experts, max_new_tokens=10)
    single = [pool.generate([p], [e], max_new_tokens=10)[0] for p, e in zip(PROMPTS, experts, strict=True)]
    assert batch == single
    by_expert = {e: pool.generate(PROMPTS[:2], [e, e], max_new_tokens=10) for e in ("ascii", "runic")}
    assert by_expert["ascii"] != by_expert["runic"]  # the experts really differ, so the check above can fail
    chunked = pool.generate(PROMPTS, experts, max_new_tokens=10, batch_size=2)
    assert chunked == batch


def test_generation_stops_at_eos(pool: ExpertPool) -> None:
    eos = pool.tokenizer.eos_token_id
    rows = pool.generate_ids([pool.tokenizer.encode("hi")] * 2, ["ascii", "runic"], max_new_tokens=40)
    assert all(eos not in row and len(row) <= 40 for row in rows)


def test_generate_checks_its_arguments(pool: ExpertPool) -> None:
    with pytest.raises(ConfigError, match="2 prompts but 1 expert"):
        pool.generate(["a", "b"], ["ascii"])
    with pytest.raises(ConfigError, match="unknown expert 'nope'"):
        pool.generate(["a"], ["nope"])


def test_delete(pool: ExpertPool, tiny_base_dir: Path, char_tokenizer) -> None:
    ids = char_tokenizer.encode("🜊1🜂", add_special_tokens=False)
    pool.delete("runic")
    assert pool.names == ["ascii"] and pool.active == "ascii"
    pool.delete("ascii")
    assert pool.names == [] and pool.active is None
    assert torch.allclose(_logits(pool, ids), _logits(load_base(tiny_base_dir, device="cpu"), ids), atol=1e-6)


def test_merge_exports_a_standalone_model_equal_to_the_adapter(pool: ExpertPool, tmp_path: Path) -> None:
    ids = pool.tokenizer.encode("Convert to LC-R: [1]", add_special_tokens=False)
    pool.activate("ascii")
    before = _logits(pool, ids)
    out = pool.merge("ascii", tmp_path / "merged")
    assert (out / "model.safetensors").is_file() and (out / "tokenizer.json").is_file()
    merged = load_base(out, device="cpu")
    assert not any("lora" in n for n, _ in merged.named_parameters())
    assert torch.allclose(_logits(merged, ids), before, atol=1e-5)
    assert pool.names == ["ascii", "runic"] and torch.equal(_logits(pool, ids), before)  # pool untouched
