"""Layer 0 (``helixmoe.hlx``, ``helixmoe.tasks``, ``helixmoe.config``) never imports torch or transformers.

Checked in a fresh interpreter, because the test process itself may already hold torch. The same holds
for the CLI's codec commands: ``helixmoe convert`` must start without importing torch.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import pytest

HEAVY = ("torch", "transformers")
LAYER0 = ("helixmoe.hlx", "helixmoe.tasks", "helixmoe.config")

_IMPORT_CHECK = """
import importlib, json, sys
importlib.import_module(sys.argv[1])
print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {heavy!r})))
"""


def _fresh(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120, check=False
    )


def _exists(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


@pytest.mark.parametrize("module", LAYER0)
def test_layer0_does_not_import_torch(module: str) -> None:
    if not _exists(module):
        pytest.skip(f"{module} does not exist yet")
    proc = _fresh(_IMPORT_CHECK.format(heavy=set(HEAVY)), module)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == [], f"importing {module} pulled in heavy modules"


def test_import_check_detects_torch() -> None:
    """The check above can fail: importing torch itself is reported."""
    proc = _fresh(_IMPORT_CHECK.format(heavy=set(HEAVY)), "torch")
    assert proc.returncode == 0, proc.stderr
    assert "torch" in json.loads(proc.stdout)


_CLI_CHECK = """
import json, sys
sys.argv = ['helixmoe', 'convert', '--to', 'lc-r', '[1]']
from helixmoe.cli.app import main
code = 0
try:
    main()
except SystemExit as exc:
    code = exc.code or 0
heavy = sorted(m for m in sys.modules if m.split('.')[0] in {heavy!r})
print(json.dumps({{'code': code, 'heavy': heavy}}), file=sys.stderr)
"""


def test_cli_convert_does_not_import_torch() -> None:
    if not _exists("helixmoe.cli.app"):
        pytest.skip("helixmoe.cli.app does not exist yet")
    proc = _fresh(_CLI_CHECK.format(heavy=set(HEAVY)))
    report = json.loads(proc.stderr.strip().splitlines()[-1])
    assert report["code"] == 0, proc.stderr
    assert proc.stdout.strip() == "🜃1🜄"
    assert report["heavy"] == [], "helixmoe convert imported heavy modules"
