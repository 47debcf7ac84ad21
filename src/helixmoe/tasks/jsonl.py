"""JSONL reading with ``<file>:<line>`` errors, and atomic writes (temp file in the same dir, then rename)."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from helixmoe.atomic import atomic_target
from helixmoe.errors import DataError

__all__ = ["AtomicWriter", "atomic_write_lines", "atomic_write_text", "dump_line", "read_jsonl"]


def read_jsonl(path: str | Path) -> Iterator[tuple[int, Any]]:
    """Yield ``(line number, object)`` for each non-blank line of a JSONL file.

    Raises:
        DataError: the file is missing or unreadable, or a line is not JSON (``<file>:<line>: ...``).
    """
    path = Path(path)
    try:
        handle = path.open(encoding="utf-8")
    except OSError as err:
        raise DataError(f"{path}: cannot read ({err.strerror or err})") from None
    with handle:
        try:
            for number, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                try:
                    yield number, json.loads(line.rstrip("\r\n"))  # columns count on the line itself
                except json.JSONDecodeError as err:
                    raise DataError(
                        f"{path}:{number}: invalid JSON: {err.msg} (column {err.colno})"
                    ) from None
                except RecursionError:
                    raise DataError(f"{path}:{number}: invalid JSON: nested too deeply") from None
        except UnicodeDecodeError as err:
            raise DataError(f"{path}: not UTF-8 text ({err.reason})") from None


def dump_line(obj: Any) -> str:
    """One JSONL line (UTF-8 text kept readable, no trailing newline)."""
    return json.dumps(obj, ensure_ascii=False, separators=(", ", ": "))


class AtomicWriter:
    """A text file written to a temp file beside ``path`` and renamed over it on success.

    Use as a context manager: on a clean exit the file appears at ``path``; on an exception the temp
    file is removed and ``path`` is untouched.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = atomic_target(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, self._tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent)
        self._handle = os.fdopen(fd, "w", encoding="utf-8", newline="\n")
        self.count = 0

    def write_line(self, line: str) -> None:
        """Append one line (without its newline)."""
        self._handle.write(line)
        self._handle.write("\n")
        self.count += 1

    def __enter__(self) -> AtomicWriter:
        return self

    def __exit__(self, kind: object, exc: object, tb: object) -> None:
        self._handle.close()
        if kind is None:
            os.chmod(self._tmp, 0o644)  # mkstemp makes 0600; corpora are meant to be shared
            os.replace(self._tmp, self.path)
        else:
            Path(self._tmp).unlink(missing_ok=True)


def atomic_write_lines(path: str | Path, lines: Iterable[str]) -> int:
    """Write ``lines`` (each without newline) to ``path`` atomically; return how many were written."""
    with AtomicWriter(path) as writer:
        for line in lines:
            writer.write_line(line)
    return writer.count


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically."""
    atomic_write_lines(path, [text.rstrip("\n")])
