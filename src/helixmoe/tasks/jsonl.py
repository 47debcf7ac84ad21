"""JSONL reading with ``<file>:<line>`` errors, and atomic writes (temp file in the same dir, then rename)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from helixmoe.atomic import atomic_path, atomic_target
from helixmoe.errors import DataError

__all__ = ["AtomicWriter", "atomic_write_lines", "dump_line", "read_jsonl"]


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
    """A text file written line by line to a temp file beside ``path`` and renamed over it on success
    (:func:`helixmoe.atomic.atomic_path`, the project's one atomic write).

    Use as a context manager: on a clean exit the file appears at ``path``; on an exception (a Ctrl-C or a
    SIGTERM included) the temp file is removed and ``path`` is untouched.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = atomic_target(path)
        self._target = atomic_path(self.path)
        tmp = self._target.__enter__()
        try:
            self._handle = open(tmp, "w", encoding="utf-8", newline="\n")  # noqa: SIM115 (closed in __exit__)
        except BaseException:
            self._target.__exit__(*sys.exc_info())
            raise
        self.count = 0

    def write_line(self, line: str) -> None:
        """Append one line (without its newline)."""
        self._handle.write(line)
        self._handle.write("\n")
        self.count += 1

    def __enter__(self) -> AtomicWriter:
        return self

    def __exit__(self, kind: Any, exc: Any, tb: Any) -> None:
        try:
            self._handle.close()
        finally:
            self._target.__exit__(kind, exc, tb)


def atomic_write_lines(path: str | Path, lines: Iterable[str]) -> int:
    """Write ``lines`` (each without newline) to ``path`` atomically; return how many were written."""
    with AtomicWriter(path) as writer:
        for line in lines:
            writer.write_line(line)
    return writer.count
