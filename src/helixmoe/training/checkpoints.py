"""Crash-safe Trainer checkpoints: a completeness manifest, discovery of the last complete one, no pickle.

Owns what HF ``Trainer`` (transformers 5.x) does not guarantee about checkpoints:

* **Atomicity.** ``Trainer._save_checkpoint`` writes ``checkpoint-N/`` file by file, so a run killed
  mid-save leaves a directory that ``get_last_checkpoint`` would happily resume from. After the Trainer has
  written everything, :class:`SafeCheckpointMixin` writes ``helix_checkpoint.json`` (file names + sizes) with an
  atomic ``os.replace``; a checkpoint *is complete* iff that manifest exists and every listed file has its
  size. :func:`last_complete_checkpoint` only returns complete ones and :func:`discard_incomplete_checkpoints`
  removes the rest (including an older checkpoint half-deleted by rotation when the run was killed). The
  manifest also records each file's SHA-256: before resuming, :func:`set_aside_damaged` sets aside a
  complete checkpoint whose content changed since (a disk error, a bad copy), which would otherwise end the
  resumed run in a deserialisation traceback. We chose
  "validate on resume" over "write to a temp dir and rename" because the Trainer computes the checkpoint path,
  rotation and ``best_model_checkpoint`` from the final name inside one private method; redirecting it would
  mean copying that method.
* **No pickle.** Model weights are always safetensors (transformers 5 removed ``save_safetensors``; it always
  writes ``model.safetensors`` / ``adapter_model.safetensors``). ``training_args.bin`` is a full pickle of
  ``TrainingArguments`` that the Trainer never reads back: we delete it and write ``training_args.json``.
  ``optimizer.pt``, ``scheduler.pt`` and ``rng_state*.pth`` stay in torch's format because the Trainer
  resumes from them, and it loads each with ``torch.load(..., weights_only=True)`` (guarded by
  ``check_torch_load_is_safe``): the restricted unpickler only rebuilds tensors and plain containers and
  cannot run code. Re-encoding the optimizer state as safetensors would mean overriding four private
  Trainer methods with their DeepSpeed/FSDP branches; we accept ``weights_only`` loading instead.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
from pathlib import Path
from typing import Any

from helixmoe.atomic import read_json
from helixmoe.atomic import write_json_atomic as write_json

__all__ = [
    "MANIFEST_NAME",
    "SafeCheckpointMixin",
    "complete_checkpoints",
    "damaged_files",
    "discard_incomplete_checkpoints",
    "is_complete_checkpoint",
    "last_complete_checkpoint",
    "set_aside_damaged",
    "write_json_atomic",
]


logger = logging.getLogger(__name__)

MANIFEST_NAME = "helix_checkpoint.json"
_CHECKPOINT_RE = re.compile(r"^checkpoint-(\d+)$")


def write_json_atomic(path: str | os.PathLike[str], payload: Any) -> None:
    """Write ``payload`` as sorted, indented JSON to ``path`` atomically (checkpoint manifests, summaries)."""
    write_json(path, payload, indent=2, sort_keys=True, default=str, ensure_ascii=True)


def _digest(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _write_manifest(checkpoint_dir: Path, step: int) -> None:
    paths = [
        p
        for p in sorted(checkpoint_dir.rglob("*"))
        if p.is_file() and p.name != MANIFEST_NAME and not p.name.startswith(".")
    ]
    files = {str(p.relative_to(checkpoint_dir)): p.stat().st_size for p in paths}
    digests = {str(p.relative_to(checkpoint_dir)): _digest(p) for p in paths}
    write_json_atomic(checkpoint_dir / MANIFEST_NAME, {"step": step, "files": files, "sha256": digests})


def is_complete_checkpoint(checkpoint_dir: str | os.PathLike[str]) -> bool:
    """True iff ``checkpoint_dir`` has a readable manifest and every file it lists exists with its size."""
    checkpoint_dir = Path(checkpoint_dir)
    try:
        manifest = read_json(checkpoint_dir / MANIFEST_NAME)
        files = manifest["files"]
        return bool(files) and all(
            (checkpoint_dir / name).stat().st_size == size for name, size in files.items()
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False


def damaged_files(checkpoint_dir: str | os.PathLike[str]) -> list[str]:
    """The files of a complete checkpoint whose content no longer matches the SHA-256 its manifest recorded
    (a disk error, a bad copy, a hand edit); checked before resuming from it. Manifests written before
    digests were recorded are trusted on their sizes."""
    checkpoint_dir = Path(checkpoint_dir)
    try:
        digests = read_json(checkpoint_dir / MANIFEST_NAME).get("sha256", {})
        return [name for name, digest in digests.items() if _digest(checkpoint_dir / name) != digest]
    except (OSError, ValueError, AttributeError) as err:
        return [f"{MANIFEST_NAME} ({err})"]


def set_aside_damaged(run_dir: str | os.PathLike[str]) -> Path | None:
    """The last complete checkpoint of ``run_dir`` whose files match their digests. A newer one that does
    not is renamed ``checkpoint-N.damaged`` (kept for inspection; neither resuming nor the Trainer's
    rotation looks at it again) with a warning naming its bad files."""
    for path in reversed(complete_checkpoints(run_dir)):
        bad = damaged_files(path)
        if not bad:
            return path
        aside = path.with_name(path.name + ".damaged")
        n = 1
        while aside.exists():
            n += 1
            aside = path.with_name(f"{path.name}.damaged{n}")
        path.rename(aside)
        logger.warning(
            "checkpoint %s is damaged (%s do not match the digests saved with it); moved to %s, resuming "
            "from the one before",
            path,
            ", ".join(bad),
            aside.name,
        )
    return None


def _checkpoint_dirs(run_dir: Path) -> list[tuple[int, Path]]:
    if not run_dir.is_dir():
        return []
    found = [
        (int(m.group(1)), p) for p in run_dir.iterdir() if p.is_dir() and (m := _CHECKPOINT_RE.match(p.name))
    ]
    return sorted(found)


def complete_checkpoints(run_dir: str | os.PathLike[str]) -> list[Path]:
    """Complete ``checkpoint-N`` directories of ``run_dir``, oldest step first."""
    return [path for _, path in _checkpoint_dirs(Path(run_dir)) if is_complete_checkpoint(path)]


def last_complete_checkpoint(run_dir: str | os.PathLike[str]) -> Path | None:
    """The complete checkpoint with the highest step in ``run_dir`` (``None`` when there is none)."""
    found = complete_checkpoints(run_dir)
    return found[-1] if found else None


def discard_incomplete_checkpoints(run_dir: str | os.PathLike[str]) -> list[Path]:
    """Delete every ``checkpoint-N`` in ``run_dir`` that is not complete; return what was deleted."""
    removed = []
    for _, path in _checkpoint_dirs(Path(run_dir)):
        if not is_complete_checkpoint(path):
            logger.warning("removing incomplete checkpoint %s (the run that wrote it was interrupted)", path)
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


class SafeCheckpointMixin:
    """Mix into a ``transformers.Trainer`` subclass: manifest-stamped checkpoints, no pickled arguments.

    Use as ``class MyTrainer(SafeCheckpointMixin, Trainer)``; the MoE trainer reuses it unchanged.
    """

    def _save_checkpoint(self, model: Any, trial: Any) -> None:
        run_dir = Path(self._get_output_dir(trial=trial))  # type: ignore[attr-defined]
        target = run_dir / f"checkpoint-{self.state.global_step}"  # type: ignore[attr-defined]
        if self.args.should_save:  # type: ignore[attr-defined]
            (target / MANIFEST_NAME).unlink(missing_ok=True)  # re-saving a step: not complete until done
        super()._save_checkpoint(model, trial)  # type: ignore[misc]
        # Every process writes its own rng_state_<i>.pth: wait for them before stamping the checkpoint.
        self.accelerator.wait_for_everyone()  # type: ignore[attr-defined]
        if self.args.should_save and target.is_dir():  # type: ignore[attr-defined]
            _write_manifest(target, self.state.global_step)  # type: ignore[attr-defined]

    def _save(self, output_dir: str | None = None, state_dict: dict[str, Any] | None = None) -> None:
        super()._save(output_dir, state_dict)  # type: ignore[misc]
        if not self.args.should_save:  # type: ignore[attr-defined]
            return
        out = Path(output_dir if output_dir is not None else self.args.output_dir)  # type: ignore[attr-defined]
        (out / "training_args.bin").unlink(missing_ok=True)  # a full pickle the Trainer never reads back
        (out / "training_args.json").write_text(self.args.to_json_string(), encoding="utf-8")  # type: ignore[attr-defined]
