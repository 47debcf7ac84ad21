"""Atomic file writes: a file appears whole at its path, or not at all (pure Python, layer 0); and the
JSON read that matches them.

Everything Helix MoE writes (configs, corpora, router weights, reports, checkpoint manifests) goes
through a temp file in the same directory and ``os.replace``, so a killed process never leaves half a
file. ``tempfile.mkstemp`` creates files readable by their owner only; a new file here gets the usual
mode of a new file (0666 less the umask) instead, so artifacts can be shared.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from helixmoe.errors import DataError

__all__ = [
    "atomic_path",
    "atomic_target",
    "current_umask",
    "read_json",
    "write_json_atomic",
    "write_text_atomic",
]


def atomic_target(path: str | os.PathLike[str]) -> Path:
    """The file an atomic write renames over: ``path``, or the file a symlink at ``path`` points to (the link
    stays a link).

    Raises:
        DataError: ``path`` is a directory or a special file (a FIFO, a device such as ``/dev/stdout``'s
            target): a rename would replace it rather than write to it.
    """
    final = Path(path)
    if final.is_symlink():
        final = final.resolve()
    if final.exists() and not final.is_file():
        what = "a directory" if final.is_dir() else "not a regular file (a pipe or a device)"
        raise DataError(f"{path}: cannot write a file there: it is {what}")
    return final


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temp path beside ``path``; on a clean exit it replaces ``path``, on an error it is removed."""
    final = atomic_target(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent)
    try:  # from the moment the file exists: a signal at any later step still removes it
        os.close(fd)
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~current_umask())
        os.replace(tmp, final)
    finally:
        Path(tmp).unlink(missing_ok=True)


def current_umask() -> int:
    """The process's umask (read by setting and restoring it: there is no other portable way)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text_atomic(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` (UTF-8, ``\\n`` line ends) to ``path`` atomically, flushed to disk; returns the path."""
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8", newline="\n") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    return Path(path)


def write_json_atomic(path: str | os.PathLike[str], data: Any, **dump_options: Any) -> Path:
    """Write ``data`` as JSON to ``path`` atomically (``json.dumps`` options; default: UTF-8, indent 1)."""
    options = {"ensure_ascii": False, "indent": 1, **dump_options}
    return write_text_atomic(path, json.dumps(data, **options))


def read_json(path: str | os.PathLike[str]) -> Any:
    """The JSON value in the file at ``path`` (UTF-8).

    Raises:
        OSError: the file cannot be read.
        ValueError: it is not UTF-8 JSON, or nested too deeply for the parser (a hand-edited or hostile
            file: ``json`` would end in a ``RecursionError``); the message names the file.
    """
    text = Path(path).read_text(encoding="utf-8")
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError(f"{path}: JSON nested too deeply to read") from None
