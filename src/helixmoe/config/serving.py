"""How a loaded system answers by default: the ``serving:`` section of ``system.yaml`` (pure Python, layer 0).

Owned by :mod:`helixmoe.system`; ``HelixMoE.load`` reads it, and its arguments (and the CLI's
``--constrained/--no-constrained``) override it per process.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from helixmoe.config.base import Section

__all__ = ["ServingConfig"]


class ServingConfig(Section):
    """Defaults of :class:`helixmoe.system.HelixMoE` for this system (``serving:`` section)."""

    constrained: bool = False
    """Decode a value request under the grammar of the notation the intent model predicts, so the answer
    always parses (:mod:`helixmoe.grammar`); requests without a value notation decode freely. Costs about
    1.15x the unconstrained time on the tiny CPU system (``benchmarks/bench_constrained.py``)."""

    verify: Literal["off", "flag", "retry", "oracle"] = "flag"
    """Verification policy of ``query``, ``chat`` and ``HelixMoE.load()`` when none is given
    (:data:`helixmoe.system.verify.POLICIES`): ``flag`` marks an answer that does not hold the request's value,
    ``retry`` also searches the expert's own alternatives for one that does (costs time only when an answer fails
    its check), ``oracle`` replaces a wrong answer with the codec's. ``helixmoe eval`` grades under
    ``evaluation.verify`` instead."""

    retry_branches: int = Field(default=4, ge=0)
    """Alternatives the ``retry`` (and ``oracle``) policy decodes for an answer that fails verification: the
    answer up to one of its least certain steps, the runner-up token there, greedy on (:mod:`helixmoe.system.retry`);
    the first that verifies is returned. 0 = only a free answer decoded again under its notation's grammar."""
