"""Subprocess of the SIGTERM test: trains (practically) forever, touching ``<run>/started`` at step 3."""

from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))

from harness_utils import build_trainer
from training_helpers import make_tokenizer, reversal_pairs
from transformers import TrainerCallback

from helixmoe.training.data import EncodedDataset
from helixmoe.training.harness import run_trainer


class Started(TrainerCallback):
    def __init__(self, path: Path) -> None:
        self.path = path

    def on_step_end(self, args, state, control, **kw):
        if state.global_step == 3:
            self.path.touch()


def main() -> None:
    torch.set_num_threads(1)
    run = Path(sys.argv[1])
    tok = make_tokenizer()
    data = (
        EncodedDataset(tok, reversal_pairs(64, 1), max_len=32),
        EncodedDataset(tok, reversal_pairs(16, 2), max_len=32),
        [],
    )
    trainer, options = build_trainer(
        run, data, tok, max_steps=1_000_000, eval_steps=None, extra_callbacks=[Started(run / "started")]
    )
    outcome = run_trainer(trainer, options)
    print(f"STOPPED {outcome.stopped_by} {outcome.global_step}", flush=True)


if __name__ == "__main__":
    main()
