"""Keep library noise off a command's output: what the user asked for, or a one-line error, is all it shows."""

from __future__ import annotations

import os
import sys
import warnings

__all__ = ["quiet_model_loading"]


def quiet_model_loading() -> None:
    """Before a command loads a system: no weight-loading progress bar from transformers and no library
    deprecation notices (``FutureWarning``) on stderr, where they would bury a one-line error. Imports nothing:
    a command that ends up loading no model (``helixmoe route``) should not pay for transformers."""
    if "transformers" in sys.modules:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    elif "huggingface_hub" in sys.modules:
        from huggingface_hub.utils import disable_progress_bars  # type: ignore[attr-defined]

        disable_progress_bars()  # transformers reads this state when it is imported
    else:
        os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"  # read when huggingface_hub is imported
    warnings.filterwarnings("ignore", category=FutureWarning)
