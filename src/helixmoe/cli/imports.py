"""What a serving command's process imports: it loads one known system, so it can leave out the libraries that
system never uses.

PEFT imports bitsandbytes whenever it is installed (``peft.helpers``), and bitsandbytes imports torch's compiler
stack: 2.3 s of the ~11 s a cold ``helixmoe query`` took on the 2-core development machine
(``python -X importtime -m helixmoe query …``). Only a quantized base (``model.quantization: 4bit|8bit``) needs
it, so for any other system the command marks the module absent (``sys.modules[name] = None``, Python's way to
block an import; PEFT and transformers then see bitsandbytes as not installed). Only commands that own their
process do this, never the library: a program that loads a tiny system and then trains a 4-bit one must still
find bitsandbytes.
"""

from __future__ import annotations

import sys
from pathlib import Path

from helixmoe.config.loader import read_mapping
from helixmoe.errors import ConfigError

__all__ = ["leave_out_unused_libraries"]

_QUANTIZATION_LIBRARY = "bitsandbytes"


def leave_out_unused_libraries(root: Path) -> None:
    """Block the import of bitsandbytes in this process when the system at ``root`` does not quantize its base.

    Does nothing when bitsandbytes is already imported or the config cannot be read (loading the system then
    reports what is wrong with it).
    """
    if _QUANTIZATION_LIBRARY in sys.modules:
        return
    try:
        model = read_mapping(root / "system.yaml").get("model")
    except ConfigError:
        return
    quantization = model.get("quantization", "none") if isinstance(model, dict) else "none"
    if quantization in (None, "none"):
        sys.modules[_QUANTIZATION_LIBRARY] = None  # type: ignore[assignment]
