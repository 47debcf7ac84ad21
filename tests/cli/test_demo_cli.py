"""``helixmoe demo`` shows every notation of each sample value, brackets and all."""

from __future__ import annotations

import subprocess
import sys


def test_demo_prints_every_notation_verbatim() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "helixmoe", "demo"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={"COLUMNS": "400", "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr
    for text in ('{C:902,0="render_pipeline",1=[@vs,@fs]}', "[#64617461]", "🜊14🜁0 42🜂", "[14|0:0x2a]"):
        assert text in result.stdout, text
