"""A path the CLI cannot use is one line naming it, not Python's ``[Errno N]`` text."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_an_unusable_output_path_is_named_with_its_reason(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    out = blocker / "corpus"
    result = subprocess.run(
        [sys.executable, "-m", "helixmoe", "corpus", "build", "-o", str(out), "-n", "10"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr == f"error: {out}: Not a directory\n"
