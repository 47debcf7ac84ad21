"""SIGTERM/SIGINT mid-run: the worker finishes its step, saves a complete checkpoint and exits 0."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from transformers import Qwen3ForCausalLM

from helixmoe.training.checkpoints import last_complete_checkpoint

WORKER = Path(__file__).with_name("sigterm_worker.py")


@pytest.mark.parametrize("sig", [signal.SIGTERM, pytest.param(signal.SIGINT, marks=pytest.mark.slow)])
def test_signal_mid_run_leaves_a_loadable_checkpoint(tmp_path, sig):
    run = tmp_path / "run"
    proc = subprocess.Popen(
        [sys.executable, str(WORKER), str(run)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        deadline = time.monotonic() + 120
        while not (run / "started").exists():
            assert proc.poll() is None, proc.stdout.read()
            assert time.monotonic() < deadline, "worker never reached step 3"
            time.sleep(0.1)
        os.kill(proc.pid, sig)
        out, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out
    assert "STOPPED signal" in out, out
    ckpt = last_complete_checkpoint(run)
    assert ckpt is not None
    step = int(out.split("STOPPED signal")[1].split()[0])
    assert ckpt.name == f"checkpoint-{step}" and step >= 3
    model = Qwen3ForCausalLM.from_pretrained(ckpt)
    assert sum(p.numel() for p in model.parameters()) > 0
