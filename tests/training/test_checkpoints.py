"""A run killed mid-save never leaves a checkpoint that resume would pick up."""

from __future__ import annotations

import shutil

from harness_utils import build_trainer

from helixmoe.training.checkpoints import (
    MANIFEST_NAME,
    damaged_files,
    discard_incomplete_checkpoints,
    is_complete_checkpoint,
    last_complete_checkpoint,
    set_aside_damaged,
)
from helixmoe.training.harness import run_trainer


def test_torn_and_unstamped_checkpoints_are_ignored_and_discarded(tmp_path, toy_data, tokenizer):
    run = tmp_path / "run"
    trainer, options = build_trainer(run, toy_data, tokenizer, max_steps=4, eval_steps=2)
    run_trainer(trainer, options)
    good = run / "checkpoint-4"
    assert is_complete_checkpoint(good)

    torn = run / "checkpoint-50"  # killed while writing the weights
    shutil.copytree(good, torn)
    weights = torn / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    unstamped = run / "checkpoint-60"  # killed before the manifest was written
    shutil.copytree(good, unstamped)
    (unstamped / MANIFEST_NAME).unlink()
    bad_manifest = (
        run / "checkpoint-70"
    )  # manifest itself torn (cannot happen with os.replace, still handled)
    shutil.copytree(good, bad_manifest)
    (bad_manifest / MANIFEST_NAME).write_text('{"files": {')

    assert last_complete_checkpoint(run) == good
    assert set(discard_incomplete_checkpoints(run)) == {torn, unstamped, bad_manifest}
    assert not torn.exists() and good.exists()


def test_resume_skips_a_torn_newest_checkpoint(tmp_path, toy_data, tokenizer):
    run = tmp_path / "run"
    trainer, options = build_trainer(run, toy_data, tokenizer, max_steps=4, eval_steps=2)
    run_trainer(trainer, options)
    torn = run / "checkpoint-6"
    shutil.copytree(run / "checkpoint-4", torn)
    (torn / "optimizer.pt").write_bytes(b"")
    again, options = build_trainer(run, toy_data, tokenizer, max_steps=6, eval_steps=2, resume=True)
    outcome = run_trainer(again, options)
    assert outcome.resumed_from.endswith("checkpoint-4") and outcome.global_step == 6
    assert is_complete_checkpoint(run / "checkpoint-6")


def test_resume_sets_aside_a_checkpoint_whose_content_changed(tmp_path, toy_data, tokenizer):
    """A complete checkpoint whose weights were damaged after saving (same size, other bytes) is moved to
    ``checkpoint-N.damaged``, and the run resumes from the one before instead of failing to read it."""
    run = tmp_path / "run"
    trainer, options = build_trainer(run, toy_data, tokenizer, max_steps=4, eval_steps=2)
    run_trainer(trainer, options)
    assert damaged_files(run / "checkpoint-4") == [] and damaged_files(run / "checkpoint-2") == []
    weights = run / "checkpoint-4" / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[:8] = b"\xff" * 8  # a header length no reader accepts
    weights.write_bytes(bytes(data))
    assert is_complete_checkpoint(run / "checkpoint-4")  # sizes alone cannot tell
    assert damaged_files(run / "checkpoint-4") == ["model.safetensors"]
    again, options = build_trainer(run, toy_data, tokenizer, max_steps=4, eval_steps=2, resume=True)
    outcome = run_trainer(again, options)
    assert outcome.resumed_from.endswith("checkpoint-2") and outcome.global_step == 4
    assert (run / "checkpoint-4.damaged" / "model.safetensors").read_bytes() == bytes(data)  # kept
    assert damaged_files(run / "checkpoint-4") == []  # rewritten by the resumed run


def test_manifests_without_digests_are_trusted_on_sizes(tmp_path, toy_data, tokenizer):
    import json

    run = tmp_path / "run"
    trainer, options = build_trainer(run, toy_data, tokenizer, max_steps=2, eval_steps=2)
    run_trainer(trainer, options)
    manifest = run / "checkpoint-2" / MANIFEST_NAME
    data = json.loads(manifest.read_text())
    del data["sha256"]
    manifest.write_text(json.dumps(data))
    assert damaged_files(run / "checkpoint-2") == []
    assert set_aside_damaged(run) == run / "checkpoint-2"
