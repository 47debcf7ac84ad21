"""A run killed mid-save never leaves a checkpoint that resume would pick up."""

from __future__ import annotations

import shutil

from harness_utils import build_trainer

from helixmoe.training.checkpoints import (
    MANIFEST_NAME,
    discard_incomplete_checkpoints,
    is_complete_checkpoint,
    last_complete_checkpoint,
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
