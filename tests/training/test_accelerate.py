"""Scale-out: two CPU processes under ``accelerate launch -m helixmoe train`` train a loadable system.

accelerate 1.15 only forks several CPU processes for ``--cpu`` through ``mpirun`` (``--mpirun_hostfile``);
without MPI, ``--cpu --num_processes 2`` runs one process. The torchrun-based launcher
(``--multi_gpu --num_processes 2``) on a machine without CUDA gives two gloo CPU processes, which is what
this test runs (``ACCELERATE_USE_CPU=1`` forces CPU even where CUDA exists).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from test_pipeline import TINY


@pytest.mark.slow
def test_two_cpu_processes_train_a_system(tmp_path):
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump(TINY))
    out = tmp_path / "system"
    accelerate = Path(sys.executable).with_name("accelerate")
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "ACCELERATE_USE_CPU": "1",
        "CUDA_VISIBLE_DEVICES": "",
    }
    proc = subprocess.run(
        [
            str(accelerate),
            "launch",
            "--num_processes",
            "2",
            "--multi_gpu",
            "--num_machines",
            "1",
            "--mixed_precision",
            "no",
            "--dynamo_backend",
            "no",
            "-m",
            "helixmoe",
            "train",
            "--config",
            str(config),
            "-o",
            str(out),
            "--eval-limit",
            "2",
        ],
        capture_output=True,
        text=True,
        timeout=900,
        env=env,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    from helixmoe.models.layout import load_system

    assert load_system(out).pool.names == ["ascii", "runic"]
    records = [json.loads(line) for line in (out / "reports" / "training_metrics.jsonl").open()]
    assert any(r.get("phase") == "experts/ascii" and "eval_exact_match" in r for r in records)
    summary = json.loads((out / "reports" / "training_summary.json").read_text())
    assert summary["stages"]["base"]["steps"] == 2 and summary["stages"]["base"]["world_size"] == 2
    # the main process fitted the router (before the base); the other one waited for it
    assert "skipped" not in summary["stages"]["router"] and (out / "router" / "router.json").is_file()
