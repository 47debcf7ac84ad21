"""The strict pydantic base every Helix MoE config section derives from (pure Python, layer 0).

Every section forbids unknown keys (a typo is an error, never silently ignored) and validates on
assignment, so a config mutated in code stays as valid as one loaded from a file.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = ["Section"]


class Section(BaseModel):
    """Base class of all config models: unknown keys are errors, assignments are validated."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, protected_namespaces=())
