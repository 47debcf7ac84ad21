"""User-facing error types shared across Helix MoE (pure Python, layer 0).

Library code raises these for user mistakes (bad config, missing adapter, bad corpus file); the CLI and
server turn them into a clear message and exit code, never a traceback. The HLX codecs keep their own
:class:`helixmoe.hlx.HLXError` (a ``ValueError``), which the CLI treats the same way.
"""

from __future__ import annotations

__all__ = ["ConfigError", "DataError", "HelixMoEError", "RequestError", "SystemLoadError"]


class HelixMoEError(Exception):
    """Base class of every user-facing Helix MoE error; its message says what and where."""


class ConfigError(HelixMoEError):
    """A configuration file or override is invalid (unknown key, wrong type, bad value)."""


class DataError(HelixMoEError):
    """A corpus or answers file is malformed (with the file and line number in the message)."""


class SystemLoadError(HelixMoEError):
    """A system directory, base model, tokenizer or expert adapter is missing or unreadable."""


class RequestError(HelixMoEError):
    """A request the system cannot answer as given: empty, not valid Unicode text, or longer than the base
    model reads (the message names the request by its position in the batch)."""
