"""The system directory: skeleton, up-front validation, loading a whole system, atomic directories."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from helixmoe.config import LoRAConfig, SystemConfig
from helixmoe.errors import ConfigError, SystemLoadError
from helixmoe.models.layout import (
    SystemLayout,
    atomic_dir,
    check_system,
    load_system,
    read_system_config,
    save_system_skeleton,
)

CONFIG = SystemConfig(
    name="t",
    experts={"ascii": {"description": "ASCII"}, "runic": {"description": "runes", "rank": 4}},
    lora=LoRAConfig(r=2, alpha=4),
)


def _full_system(root: Path, tiny_base_dir: Path, char_tokenizer) -> SystemLayout:
    from helixmoe.models.base import load_base
    from helixmoe.models.experts import ExpertPool
    from helixmoe.models.tokenizer import save_tokenizer

    layout = save_system_skeleton(root, CONFIG)
    save_tokenizer(char_tokenizer, layout.tokenizer_dir)
    shutil.copytree(tiny_base_dir, layout.base_dir)
    pool = ExpertPool(load_base(layout.base_dir, device="cpu"), char_tokenizer)
    for name in CONFIG.experts:
        pool.add(name, CONFIG.lora_for(name), info={"description": CONFIG.experts[name].description})
        pool.save(name, layout.expert_dir(name))
    return layout


def test_skeleton_and_config_round_trip(tmp_path: Path) -> None:
    layout = save_system_skeleton(tmp_path / "sys", CONFIG)
    assert layout.system_file.is_file()
    assert all(d.is_dir() for d in (layout.experts_dir, layout.router_dir, layout.reports_dir))
    assert read_system_config(layout.root) == CONFIG
    assert layout.expert_dir("runic") == tmp_path / "sys" / "experts" / "runic"


def test_not_a_system_dir(tmp_path: Path) -> None:
    with pytest.raises(SystemLoadError, match="system directory not found"):
        read_system_config(tmp_path / "absent")
    with pytest.raises(SystemLoadError, match=r"no system\.yaml"):
        read_system_config(tmp_path)
    (tmp_path / "system.yaml").write_text("name: x\nexperts: {a: {}}\nbogus: 1\n")
    with pytest.raises(ConfigError, match="bogus: unknown key"):
        read_system_config(tmp_path)


def test_check_lists_every_missing_part_at_once(tmp_path: Path) -> None:
    save_system_skeleton(tmp_path, CONFIG)
    with pytest.raises(SystemLoadError) as info:
        check_system(tmp_path)
    message = str(info.value)
    for fragment in (
        "no tokenizer",
        "no base model",
        "expert 'ascii' has no adapter",
        "expert 'runic' has no adapter",
    ):
        assert fragment in message


def test_load_system_and_missing_expert(tmp_path: Path, tiny_base_dir: Path, char_tokenizer) -> None:
    layout = _full_system(tmp_path / "sys", tiny_base_dir, char_tokenizer)
    loaded = load_system(layout.root, device="cpu")
    assert loaded.pool.names == ["ascii", "runic"] and loaded.config == CONFIG
    assert loaded.pool.info("runic")["lora"]["r"] == 4
    assert len(loaded.pool.generate(["hi", "yo"], ["ascii", "runic"], max_new_tokens=4)) == 2
    assert load_system(layout.root, experts=["runic"], device="cpu").pool.names == ["runic"]
    (layout.expert_dir("ascii") / "adapter_config.json").unlink()
    with pytest.raises(SystemLoadError, match=r"ascii/adapter_config\.json: missing"):
        load_system(layout.root, device="cpu")
    with pytest.raises(SystemLoadError, match="expert 'math' is not in"):
        check_system(layout.root, experts=["math"])


def test_a_base_trained_further_is_its_own_directory_never_the_one_it_started_from(
    tmp_path: Path, tiny_base_dir: Path, char_tokenizer
) -> None:
    from helixmoe.models.tokenizer import save_tokenizer

    start, words = tmp_path / "start", tmp_path / "words"  # the base it was trained from, and its tokenizer
    shutil.copytree(tiny_base_dir, start)
    save_tokenizer(char_tokenizer, words)
    layout = _full_system(tmp_path / "sys", tiny_base_dir, char_tokenizer)
    model = {"path": start, "size": None}
    config = CONFIG.model_copy(
        update={
            "model": CONFIG.model.model_copy(update={**model, "continue_pretraining": True}),
            "tokenizer": CONFIG.tokenizer.model_copy(update={"path": words}),
        }
    )
    save_system_skeleton(layout.root, config)
    assert load_system(layout.root, device="cpu").pool.names == ["ascii", "runic"]
    shutil.rmtree(layout.base_dir)  # a lost base/ is reported, not replaced by model.path's base
    shutil.rmtree(layout.tokenizer_dir)
    with pytest.raises(SystemLoadError) as info:
        check_system(layout.root)
    assert f"{layout.base_dir}: no base model" in str(info.value)
    assert f"{layout.tokenizer_dir}: no tokenizer" in str(info.value)
    plain = config.model_copy(update={"model": CONFIG.model.model_copy(update=model)})
    save_system_skeleton(layout.root, plain)  # a base used as is is read where model.path says
    assert load_system(layout.root, device="cpu").pool.names == ["ascii", "runic"]


def test_atomic_dir_replaces_or_leaves_untouched(tmp_path: Path) -> None:
    target = tmp_path / "d"
    with atomic_dir(target) as tmp:
        (tmp / "a.txt").write_text("one")
    with pytest.raises(RuntimeError), atomic_dir(target) as tmp:
        (tmp / "a.txt").write_text("half")
        raise RuntimeError("crash mid-write")
    assert (target / "a.txt").read_text() == "one"
    with atomic_dir(target) as tmp:
        (tmp / "b.txt").write_text("two")
    assert sorted(p.name for p in target.iterdir()) == ["b.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d"]  # no temp or old copies left
    from helixmoe.atomic import current_umask

    assert target.stat().st_mode & 0o777 == 0o777 & ~current_umask()  # not mkdtemp's owner-only 0700
