"""The system directory on disk (design.md "On disk"), and atomic directory writes.

::

    <root>/system.yaml                     resolved SystemConfig
    <root>/tokenizer/                      HF tokenizer (tokenizer.json, tokenizer_config.json)
    <root>/base/                           HF model dir (config.json, model.safetensors)
    <root>/experts/<name>/                 adapter_config.json, adapter_model.safetensors, expert.json
    <root>/router/                         written by helixmoe.routing
    <root>/reports/                        metrics, curves, evaluation reports

This module imports no torch at import time (path helpers and config reading are cheap); only
:func:`load_system` pulls in the model stack. Loading validates everything up front: every problem of the
directory is listed in one :class:`~helixmoe.errors.SystemLoadError` before any weight is read.

Public API::

    SystemLayout(root)  .system_file .tokenizer_dir .base_dir .experts_dir .expert_dir(name) .router_dir
                        .reports_dir .tokenizer_source(config) .base_source(config)
    atomic_dir(path)                         save_system_skeleton(root, config) -> SystemLayout
    read_system_config(root) -> SystemConfig check_system(root, experts=None) -> SystemConfig
    load_system(root, experts=None, device=None, dtype=None) -> LoadedSystem(config, layout, pool)
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from helixmoe.atomic import current_umask, read_json
from helixmoe.config import SystemConfig, load_config, save_config
from helixmoe.errors import SystemLoadError

if TYPE_CHECKING:
    from helixmoe.models.experts import ExpertPool

__all__ = [
    "ADAPTER_CONFIG",
    "ADAPTER_WEIGHTS",
    "EXPERT_META",
    "SYSTEM_FILE",
    "LoadedSystem",
    "SystemLayout",
    "atomic_dir",
    "check_system",
    "load_system",
    "read_system_config",
    "save_system_skeleton",
]

SYSTEM_FILE = "system.yaml"
ADAPTER_CONFIG = "adapter_config.json"
ADAPTER_WEIGHTS = "adapter_model.safetensors"
EXPERT_META = "expert.json"


@dataclass(frozen=True)
class SystemLayout:
    """Paths of one system directory (nothing is created or checked by these properties)."""

    root: Path

    @property
    def system_file(self) -> Path:
        return self.root / SYSTEM_FILE

    @property
    def tokenizer_dir(self) -> Path:
        return self.root / "tokenizer"

    @property
    def base_dir(self) -> Path:
        return self.root / "base"

    @property
    def experts_dir(self) -> Path:
        return self.root / "experts"

    @property
    def router_dir(self) -> Path:
        return self.root / "router"

    @property
    def reports_dir(self) -> Path:
        return self.root / "reports"

    def expert_dir(self, name: str) -> Path:
        return self.experts_dir / name

    def base_source(self, config: SystemConfig) -> Path:
        """``base/`` if training writes it (:attr:`SystemConfig.builds_base`) or it holds a model, else the
        config's local ``model.path`` (not copied into the system). A base trained further from ``model.path``
        is ``base/`` only: were it missing, the one it started from would answer in its place, unannounced."""
        if config.builds_base or (self.base_dir / "config.json").is_file():
            return self.base_dir
        return Path(config.model.path or "").expanduser()

    def tokenizer_source(self, config: SystemConfig) -> Path:
        """``tokenizer/`` if training writes it (:attr:`SystemConfig.builds_tokenizer`) or it is present, else
        ``tokenizer.path``, else the base's directory."""
        if config.builds_tokenizer or self.tokenizer_dir.is_dir():
            return self.tokenizer_dir
        return Path(config.tokenizer.path or config.model.path or "").expanduser()


@contextlib.contextmanager
def atomic_dir(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary sibling directory; on success it replaces ``target``, on error it is removed.

    Readers never see a half-written directory: the new one appears by ``os.replace``. Replacing an
    existing directory takes two renames (old aside, new in), so a crash between them leaves the old
    copy under ``.<name>.old-*`` rather than a mix of both.
    """
    final = Path(target)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent))
    try:
        yield tmp
        tmp.chmod(0o777 & ~current_umask())  # mkdtemp's is the owner's alone; a system directory is shared
        if final.exists():
            old = final.with_name(f".{final.name}.old-{uuid.uuid4().hex[:8]}")
            os.replace(final, old)
            os.replace(tmp, final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def save_system_skeleton(root: str | os.PathLike[str], config: SystemConfig) -> SystemLayout:
    """Create ``root`` with ``experts/``, ``router/``, ``reports/`` and the resolved ``system.yaml``.

    ``tokenizer/``, ``base/`` and each expert are written later (atomically) by the training stages.
    """
    layout = SystemLayout(Path(root))
    for directory in (layout.experts_dir, layout.router_dir, layout.reports_dir):
        directory.mkdir(parents=True, exist_ok=True)
    save_config(config, layout.system_file)
    return layout


def read_system_config(root: str | os.PathLike[str]) -> SystemConfig:
    """Read and validate ``<root>/system.yaml``.

    Raises:
        SystemLoadError: ``root`` or its ``system.yaml`` is missing.
        ConfigError: ``system.yaml`` is invalid.
    """
    layout = SystemLayout(Path(root))
    if not layout.root.is_dir():
        raise SystemLoadError(f"{layout.root}: system directory not found")
    if not layout.system_file.is_file():
        raise SystemLoadError(f"{layout.root}: not a system directory (no {SYSTEM_FILE})")
    return load_config(layout.system_file)


def _json_problem(path: Path) -> str | None:
    try:
        read_json(path)
    except FileNotFoundError:
        return f"{path}: missing"
    except (OSError, ValueError) as err:
        return f"{path}: unreadable JSON ({err})"
    return None


def _expert_problems(layout: SystemLayout, name: str) -> list[str]:
    directory = layout.expert_dir(name)
    if not directory.is_dir():
        return [f"{directory}: expert {name!r} has no adapter directory"]
    problems = [
        p for p in (_json_problem(directory / ADAPTER_CONFIG), _json_problem(directory / EXPERT_META)) if p
    ]
    if not (directory / ADAPTER_WEIGHTS).is_file():
        problems.append(f"{directory / ADAPTER_WEIGHTS}: missing")
    return problems


def check_system(root: str | os.PathLike[str], experts: Sequence[str] | None = None) -> SystemConfig:
    """Validate a system directory up front and return its config.

    Args:
        root: The system directory.
        experts: Experts that must be present (default: every expert in ``system.yaml``).

    Raises:
        SystemLoadError: listing every missing/unreadable part (tokenizer, base, each expert).
        ConfigError: ``system.yaml`` is invalid.
    """
    config = read_system_config(root)
    layout = SystemLayout(Path(root))
    problems: list[str] = []
    tok = layout.tokenizer_source(config)
    if not (tok / "tokenizer.json").is_file() and not (tok / "tokenizer_config.json").is_file():
        problems.append(f"{tok}: no tokenizer (tokenizer.json)")
    base = layout.base_source(config)
    if not (base / "config.json").is_file():
        problems.append(f"{base}: no base model (config.json)")
    wanted = list(config.experts) if experts is None else list(experts)
    for name in wanted:
        if name not in config.experts:
            problems.append(
                f"expert {name!r} is not in {layout.system_file} (known: {', '.join(config.experts)})"
            )
        else:
            problems.extend(_expert_problems(layout, name))
    if problems:
        raise SystemLoadError(f"{layout.root}: cannot load system:\n  " + "\n  ".join(problems))
    return config


@dataclass
class LoadedSystem:
    """A loaded system: its config, its paths, and the expert pool (which holds base and tokenizer)."""

    config: SystemConfig
    layout: SystemLayout
    pool: ExpertPool


def load_system(
    root: str | os.PathLike[str],
    experts: Sequence[str] | None = None,
    device: str | None = None,
    dtype: str | None = None,
) -> LoadedSystem:
    """Check, then load tokenizer, base (with the config's quantisation) and experts into an ExpertPool.

    Args:
        root: The system directory.
        experts: Experts to load (default: all in ``system.yaml``); each must exist.
        device: Overrides ``model.device`` (``auto``, ``cpu``, ``cuda``...).
        dtype: Overrides ``model.dtype``.

    Raises:
        SystemLoadError / ConfigError: as :func:`check_system`, or when a part fails to load.
    """
    from helixmoe.models.base import load_base
    from helixmoe.models.experts import ExpertPool
    from helixmoe.models.tokenizer import load_tokenizer

    config = check_system(root, experts)
    layout = SystemLayout(Path(root))
    tokenizer = load_tokenizer(layout.tokenizer_source(config))
    base = load_base(
        layout.base_source(config),
        quantization=config.model.quantization,
        dtype=dtype or config.model.dtype,
        device=device or config.model.device,
    )
    pool = ExpertPool(base, tokenizer)
    for name in list(config.experts) if experts is None else experts:
        pool.load(name, layout.expert_dir(name))
    return LoadedSystem(config=config, layout=layout, pool=pool)
