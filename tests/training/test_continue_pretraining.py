"""``model.continue_pretraining``: a local ``path`` base trained further on the corpus, saved in the system."""

from __future__ import annotations

import copy
import hashlib
import shutil

import pytest
from safetensors.torch import load_file
from test_pipeline import TINY

from helixmoe.atomic import read_json
from helixmoe.config import SystemConfig
from helixmoe.errors import ConfigError


def _digest(directory):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(directory.iterdir())}


@pytest.mark.filterwarnings("ignore:`is_gradient_checkpointing` is deprecated:FutureWarning")
@pytest.mark.parametrize("grow", [None, 5], ids=["same-depth", "grown"])
def test_a_path_base_trains_further_into_a_self_contained_system(tmp_path, grow):
    from helixmoe.system import HelixMoE
    from helixmoe.training.pipeline import train_system

    first = tmp_path / "first"
    train_system(SystemConfig.model_validate(TINY), first, stages=["corpus", "tokenizer", "base"])
    before = _digest(first / "base")

    raw = copy.deepcopy(TINY)
    raw["model"] = {
        "path": str(first / "base"),
        "continue_pretraining": True,
        "grow_layers": grow,
        "max_seq_len": 384,
    }
    raw["tokenizer"] = {"path": str(first / "tokenizer")}
    raw["training"]["base"]["max_steps"] = 3
    raw["training"]["seed"] = 1  # fresh examples for the further training
    out = tmp_path / "further"
    summary = train_system(SystemConfig.model_validate(raw), out, final_eval_limit=0)

    base = summary["stages"]["base"]
    assert base["steps"] == 3 and base["continued_from"] == str(first / "base")
    assert "copy_warmup" not in base  # the copy warm-up is for fresh bases only
    assert summary["stages"]["tokenizer"] == {"copied_from": str(first / "tokenizer")}
    assert _digest(first / "base") == before  # the path is only read
    old = load_file(first / "base" / "model.safetensors")
    new = load_file(out / "base" / "model.safetensors")
    layers = read_json(out / "base" / "config.json")["num_hidden_layers"]
    if grow is None:
        assert "grown_layers" not in base and layers == 4  # the tiny size's 4 layers
        assert old.keys() == new.keys()
    else:  # block expansion: the last of the 4 layers gains a copy after it, layer 4
        assert base["grown_layers"] == {"from": 4, "to": 5} and layers == 5
        assert set(new) - set(old) == {k.replace("layers.3.", "layers.4.") for k in old if "layers.3." in k}
    assert any(not old[k].equal(new[k]) for k in old)
    assert (out / "tokenizer" / "tokenizer.json").read_bytes() == (
        first / "tokenizer" / "tokenizer.json"
    ).read_bytes()

    shutil.rmtree(first)  # the new system holds its own base and tokenizer
    moe = HelixMoE.load(out, device="cpu")
    assert moe.route("Convert to LC-R: [1, 2]").expert in {"ascii", "runic"}


@pytest.mark.parametrize(
    ("model", "message"),
    [
        ({"size": "tiny", "continue_pretraining": True}, "trains a pretrained 'path' base further"),
        ({"path": "/m", "quantization": "4bit", "continue_pretraining": True}, "needs quantization: none"),
        (
            {"path": "/m", "grow_layers": 4},
            "grow_layers grows a 'path' base .* needs continue_pretraining: true",
        ),
    ],
)
def test_continue_pretraining_needs_a_full_precision_path_base(model, message):
    raw = {**copy.deepcopy(TINY), "model": model}
    with pytest.raises((ConfigError, ValueError), match=message):
        SystemConfig.model_validate(raw)


def test_experts_alone_need_the_further_trained_base(tmp_path):
    from helixmoe.training.pipeline import train_system

    raw = copy.deepcopy(TINY)
    raw["model"] = {"path": str(tmp_path / "some-base"), "continue_pretraining": True}
    with pytest.raises(ConfigError, match=r"needs the (tokenizer|base) stage's output"):
        train_system(SystemConfig.model_validate(raw), tmp_path / "new", stages=["corpus", "experts"])
