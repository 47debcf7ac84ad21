"""Keep library noise off a command's output: what the user asked for, or a one-line error, is all it shows."""

from __future__ import annotations

import warnings

__all__ = ["quiet_model_loading"]


def quiet_model_loading() -> None:
    """Before a command loads a system: no weight-loading progress bar from transformers and no library
    deprecation notices (``FutureWarning``) on stderr, where they would bury a one-line error."""
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    warnings.filterwarnings("ignore", category=FutureWarning)
