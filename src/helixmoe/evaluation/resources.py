"""What a run costs: peak memory, parameter counts and adapter sizes on disk, generated-token counts.

Parameter counts come from the safetensors headers (``safe_open(..., framework="numpy")`` reads shapes
without loading a tensor), so sizes are known for any system directory without torch. GPU memory is read
only when torch is already imported by the predictor (this module never imports it itself).
"""

from __future__ import annotations

import logging
import resource
import sys
import tracemalloc
from collections.abc import Callable
from math import prod
from pathlib import Path
from typing import Any

__all__ = ["MemoryProbe", "safetensors_params", "system_sizes", "token_counter"]

logger = logging.getLogger(__name__)


def _rss_peak_bytes() -> int:
    """Peak resident set size of this process so far (``ru_maxrss`` is KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)


def _cuda() -> Any:
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        return torch.cuda
    return None


class MemoryProbe:
    """Peak memory over a block: process RSS, CUDA allocator peak (if on GPU), optional Python heap peak.

    Usage::

        probe = MemoryProbe(trace_python=False).start()
        ...
        probe.stop()  # {"rss_peak_bytes": ..., "cuda_peak_bytes": ..., "python_peak_bytes": ...}

    RSS peak is the process's lifetime high-water mark (it includes loading the model), which is what a
    user must have free to run the system.
    """

    def __init__(self, *, trace_python: bool = False) -> None:
        self.trace_python = trace_python
        self._started_tracing = False

    def start(self) -> MemoryProbe:
        cuda = _cuda()
        if cuda is not None:
            cuda.reset_peak_memory_stats()
        if self.trace_python and not tracemalloc.is_tracing():
            tracemalloc.start()
            self._started_tracing = True
        return self

    def stop(self) -> dict[str, int | None]:
        cuda = _cuda()
        python_peak = None
        if tracemalloc.is_tracing():
            python_peak = tracemalloc.get_traced_memory()[1]
            if self._started_tracing:
                tracemalloc.stop()
        return {
            "rss_peak_bytes": _rss_peak_bytes(),
            "cuda_peak_bytes": int(cuda.max_memory_allocated()) if cuda is not None else None,
            "python_peak_bytes": python_peak,
        }


def safetensors_params(paths: list[Path]) -> int:
    """Total number of tensor elements stored in safetensors files (headers only)."""
    from safetensors import safe_open

    total = 0
    for path in paths:
        with safe_open(str(path), framework="numpy") as handle:
            total += sum(prod(handle.get_slice(k).get_shape()) for k in handle.keys())  # noqa: SIM118 (no __iter__)
    return total


def _dir_entry(directory: Path) -> dict[str, Any] | None:
    files = sorted(directory.glob("*.safetensors"))
    if not files:
        return None
    every = [p for p in directory.rglob("*") if p.is_file()]
    return {
        "params": safetensors_params(files),
        "weights_bytes": sum(p.stat().st_size for p in files),
        "dir_bytes": sum(p.stat().st_size for p in every),
        "path": str(directory),
    }


def system_sizes(root: Path | None, base_dir: Path | None = None) -> dict[str, Any]:
    """Parameter counts and bytes on disk of the base model and of each expert adapter.

    Args:
        root: the system directory (``None``: nothing to measure, an empty result).
        base_dir: where the base weights live when not under ``root/base`` (a local HF checkout).
    """
    if root is None:
        return {}
    base = _dir_entry(base_dir or root / "base")
    experts = {}
    experts_dir = root / "experts"
    for directory in sorted(experts_dir.iterdir()) if experts_dir.is_dir() else []:
        entry = _dir_entry(directory)
        if entry is not None:
            experts[directory.name] = entry
    out: dict[str, Any] = {"base": base, "experts": experts}
    if base and experts:
        total = base["params"] + sum(e["params"] for e in experts.values())
        out["total_params"] = total
        out["adapter_share"] = round(sum(e["params"] for e in experts.values()) / total, 6)
    return out


def token_counter(predictor: Any) -> tuple[Callable[[str], int], str]:
    """A function counting generated units in a text, and the unit's name (``tokens`` or ``chars``).

    Uses ``predictor.count_tokens`` if defined, else the tokenizer of ``predictor.pool``, else characters.
    """
    custom = getattr(predictor, "count_tokens", None)
    if callable(custom):
        return custom, "tokens"
    tokenizer = getattr(getattr(predictor, "pool", None), "tokenizer", None)
    if tokenizer is not None:
        return (lambda text: len(tokenizer.encode(text, add_special_tokens=False))), "tokens"
    return len, "chars"
