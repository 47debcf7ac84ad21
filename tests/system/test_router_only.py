"""``load_system_router``: a system's routing decisions without loading its models (``helixmoe route``)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from helixmoe import tasks
from helixmoe.errors import ConfigError, SystemLoadError
from helixmoe.system import HelixMoE, load_system_router

PROMPTS = [e.prompt for e in tasks.generate(60, seed=31, split="test")] + [
    "What is 15 + 27?",
    "hello there",
    "Convert to LC-R: [1, 2, 3]",
]


def test_the_same_decisions_as_the_loaded_system(tiny_system: Path) -> None:
    moe = HelixMoE.load(tiny_system, device="cpu", cache_size=0)
    alone = load_system_router(tiny_system, cache_size=0)
    assert alone.kind == moe.router.kind == "cascade" and alone.second is not None
    for prompt in PROMPTS:
        assert alone.route(prompt) == moe.route(prompt), prompt


def test_the_coordinator_loads_the_model_only_when_asked(tiny_system: Path) -> None:
    moe = HelixMoE.load(tiny_system, router="coordinator", device="cpu", cache_size=0)
    alone = load_system_router(tiny_system, router="coordinator", device="cpu")
    scorer = alone.router.scorer  # behind the decision cache
    assert scorer._scorer is None  # nothing loaded yet
    decision = alone.route("Convert to LC-R: [1]")
    assert scorer._scorer is not None and scorer._scorer.pool.names == ["coordinator"]
    assert decision == moe.route("Convert to LC-R: [1]")
    assert decision.expert in moe.experts


def test_the_coordinator_loads_once_and_a_failed_load_is_not_retried(
    tiny_system: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Threads that escalate together share one load; a load that failed raises its error again at once
    instead of reading the weights on every request."""
    import threading

    from helixmoe.models import layout

    loads: list[Path] = []
    real = layout.load_system

    def counting(root: Path, **kwargs: object) -> object:
        loads.append(Path(root))
        return real(root, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(layout, "load_system", counting)
    alone = load_system_router(tiny_system, router="coordinator", device="cpu", cache_size=0)
    threads = [threading.Thread(target=alone.route, args=(f"Convert to LC-R: [{i}]",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(loads) == 1

    broken = tmp_path / "broken"
    shutil.copytree(tiny_system, broken)
    routed = load_system_router(broken, router="coordinator", device="cpu", cache_size=0)
    (broken / "base" / "model.safetensors").write_bytes(b"not safetensors")
    loads.clear()
    for _ in range(2):
        with pytest.raises(SystemLoadError):
            routed.route("Convert to LC-R: [1]")
    assert len(loads) == 1


def test_routing_alone_imports_no_torch(tiny_system: Path) -> None:
    code = (
        "import json, sys\n"
        "from helixmoe.system import load_system_router\n"
        f"decision = load_system_router({str(tiny_system)!r}).route('What is 15 + 27?')\n"
        "print(json.dumps([decision.expert, sorted(m for m in ('torch', 'transformers', 'peft') if m in sys.modules)]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    expert, heavy = json.loads(result.stdout)
    assert expert == "math" and heavy == []


def test_the_cli_routes_without_importing_torch(tiny_system: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-X",
            "importtime",
            "-m",
            "helixmoe",
            "route",
            "What is 15 + 27?",
            "--system",
            str(tiny_system),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("math")
    imported = {line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines() if "|" in line}
    assert "helixmoe.routing.classifier" in imported  # the import log is what it claims to be
    assert not imported & {"torch", "transformers", "peft"}


def test_a_broken_system_is_refused_as_by_load(tiny_system: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(tiny_system, broken)
    (broken / "experts" / "runic" / "adapter_model.safetensors").unlink()
    with pytest.raises(SystemLoadError, match="runic"):
        load_system_router(broken)
    with pytest.raises(SystemLoadError, match=r"no system\.yaml"):
        load_system_router(tmp_path)


def test_a_router_the_system_lacks_is_refused(tiny_system: Path, tmp_path: Path) -> None:
    from helixmoe.routing import build_router

    root = tmp_path / "keyword"
    shutil.copytree(tiny_system, root)
    shutil.rmtree(root / "router")
    build_router("keyword", experts=list(tasks.EXPERTS)).save(root / "router")
    with pytest.raises(ConfigError, match="router 'classifier' is not available"):
        load_system_router(root, router="classifier")
