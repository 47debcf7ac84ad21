"""Splits are disjoint, ood is held out, and generation is reproducible from the seed."""

from __future__ import annotations

import pytest

from helixmoe import hlx, tasks
from helixmoe.errors import DataError
from helixmoe.tasks.bank import BANKS
from helixmoe.tasks.phrasing import WRAPPERS
from helixmoe.tasks.profiles import HANDLES, KEYS, OOD_HANDLES, OOD_KEYS


@pytest.fixture(scope="module")
def by_split() -> dict[str, list[tasks.Example]]:
    sizes = {"train": 2500, "val": 800, "test": 800}
    joint = list(tasks.iter_examples(0, 0))  # empty stream is fine
    assert joint == []
    out = {s: tasks.generate(n, 31, split=s) for s, n in sizes.items()}
    out["ood"] = tasks.generate(800, 31, split="ood")
    return out


def test_no_prompt_in_two_splits(by_split) -> None:
    prompts = {s: {ex.prompt for ex in exs} for s, exs in by_split.items()}
    names = list(prompts)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            assert not prompts[a] & prompts[b], (a, b)


def test_in_distribution_split_is_a_function_of_the_prompt(by_split) -> None:
    for split in ("train", "val", "test"):
        assert all(tasks.prompt_split(ex.prompt) == split for ex in by_split[split])


def test_joint_stream_respects_the_hash_split() -> None:
    from helixmoe.tasks.generate import iter_in_distribution

    exs = list(iter_in_distribution({"train": 300, "val": 40, "test": 40}, 2))
    assert [sum(ex.split == s for ex in exs) for s in ("train", "val", "test")] == [300, 40, 40]
    assert all(tasks.prompt_split(ex.prompt) == ex.split for ex in exs)


def test_ood_uses_held_out_templates_and_unseen_names(by_split) -> None:
    held = {t.id for bank in BANKS.values() for t in bank if t.held_out}
    held_wrappers = {w for w, (_, h) in WRAPPERS.items() if h}
    for split, exs in by_split.items():
        for ex in exs:
            assert (ex.meta["template"] in held) == (split == "ood"), ex
            if split != "ood":
                assert ex.meta["wrapper"] not in held_wrappers
    assert {ex.meta["wrapper"] for ex in by_split["ood"]} & held_wrappers
    assert not set(KEYS) & set(OOD_KEYS) and not set(HANDLES) & set(OOD_HANDLES)
    ood_text = " ".join(ex.meta["value"] or "" for ex in by_split["ood"])
    assert any(f"&h_{h}" in ood_text for h in OOD_HANDLES) and any(f"{k}: " in ood_text for k in OOD_KEYS)
    train_text = " ".join(ex.meta["value"] or "" for ex in by_split["train"])
    assert not any(f"&h_{h}," in train_text or f"&h_{h}]" in train_text for h in OOD_HANDLES)


def test_held_out_templates_differ_from_in_distribution_ones() -> None:
    texts = {"".join(t.parts).lower() for bank in BANKS.values() for t in bank if not t.held_out}
    for bank in BANKS.values():
        for t in bank:
            if t.held_out:
                assert "".join(t.parts).lower() not in texts, t.id
        held = [t for t in bank if t.held_out]
        assert 0 < len(held) < len(bank)


def test_ood_values_are_deeper_and_wider(by_split) -> None:
    from helixmoe.tasks.values import depth_of

    def depth(exs):
        return max(depth_of(hlx.loads(ex.meta["value"], "hlxl")) for ex in exs if ex.meta["value"])

    assert depth(by_split["ood"]) > depth(by_split["train"])


def test_reproducible_from_the_seed() -> None:
    a = [ex.to_dict() for ex in tasks.generate(300, 99, split="test")]
    b = [ex.to_dict() for ex in tasks.generate(300, 99, split="test")]
    c = [ex.to_dict() for ex in tasks.generate(300, 100, split="test")]
    assert a == b and a != c
    ids = [ex["id"] for ex in a]
    assert len(set(ids)) == len(ids)


def test_family_and_expert_filters() -> None:
    exs = tasks.generate(200, 1, ["convert", "math"], experts=["runic", "math"])
    assert {ex.family for ex in exs} == {"convert", "math"}
    assert {ex.expert for ex in exs} == {"runic", "math"}
    with pytest.raises(DataError):
        tasks.generate(1, 1, split="holdout")
    with pytest.raises(DataError):
        tasks.generate(1, 1, ["math"], experts=["runic"])


def test_word_names_are_unseen_compounds_of_everyday_words() -> None:
    import re

    from helixmoe.tasks.profiles import NAME_WORDS, random_names, random_names_profile, word_names

    reserved = KEYS + OOD_KEYS + HANDLES + OOD_HANDLES
    names = word_names(500, 3, exclude=reserved)
    assert len(set(names)) == 500 and names == word_names(500, 3, exclude=reserved)
    assert all(re.fullmatch(r"[a-z][a-z0-9_]{0,15}", n) for n in names)
    assert not set(names) & set(reserved)
    ood_parts = {p for name in OOD_KEYS + OOD_HANDLES for p in name.split("_") if len(p) >= 4}
    for name in names:  # every name is made of bank words, and no word is an ood name's part
        pieces = [p for p in re.sub(r"\d+$", "", name).split("_") if p]
        assert all(any(p.startswith(w) for w in NAME_WORDS) for p in pieces), name
        assert not any(p in ood_parts for p in pieces), name
    assert sum("_" in n for n in names) > 250  # mostly compounds

    random = random_names_profile(7).value
    assert random.keys == random_names(2000, 7, exclude=reserved)  # the default style is unchanged
    mixed = random_names_profile(7, style="mixed").value
    assert set(mixed.keys[:1000]) <= set(word_names(1000, 7, exclude=reserved))
    assert len(set(mixed.keys)) == len(set(mixed.handles)) == 2000
    assert not set(mixed.keys + mixed.handles) & set(reserved)
    with pytest.raises(ValueError, match="name style"):
        random_names_profile(7, style="nope")
    # the config's choices are these styles (helixmoe.config does not import helixmoe.tasks: two spellings)
    from typing import get_args

    from helixmoe.config.training import CorpusSizeConfig
    from helixmoe.tasks.profiles import NAME_STYLES

    assert get_args(CorpusSizeConfig.model_fields["name_style"].annotation) == NAME_STYLES
