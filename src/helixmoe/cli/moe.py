"""``helixmoe train-moe``: train the token-level mixture of LoRA experts (torch imported only when it runs).

Works unchanged under ``accelerate launch [--num_processes N] [--cpu] -m helixmoe train-moe ...``.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Annotated, Optional

import typer

__all__ = ["register"]


def train_moe(
    config: Annotated[
        Path, typer.Option("--config", "-c", help="System config YAML/TOML with a `moe:` section.")
    ],
    overrides: Annotated[
        Optional[list[str]],
        typer.Argument(help="Dotted overrides, e.g. moe.num_experts=8 moe.train.max_steps=100."),
    ] = None,
    output: Annotated[
        Optional[Path],
        typer.Option(
            "--output", "-o", help="System directory (default: systems/<name>); the MoE goes to <dir>/moe."
        ),
    ] = None,
    data: Annotated[
        Optional[Path],
        typer.Option(
            "--data", help='JSONL of {"prompt", "response", "domain"} lines instead of the system corpus.'
        ),
    ] = None,
    time_budget: Annotated[
        Optional[str],
        typer.Option(
            "--time-budget",
            help="Wall-clock budget of the whole run, e.g. 90s, 15m, 1h (overrides the config).",
        ),
    ] = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue from the last complete checkpoints.")
    ] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log progress at INFO level.")] = False,
) -> None:
    """Train top-k routed LoRA experts inside the base's MLPs on mixed-domain data."""
    from helixmoe.config import SystemConfig, load_config
    from helixmoe.config.loader import read_mapping
    from helixmoe.config.training import budget_override
    from helixmoe.errors import ConfigError

    # without a `moe:` section the run would train default MoE settings nobody asked for
    if "moe" not in read_mapping(config):
        raise ConfigError(
            f"{config}: no `moe:` section; train-moe needs a config with one (e.g. configs/moe-tiny.yaml)"
        )
    extra = list(overrides or [])
    if time_budget is not None:
        extra.append(budget_override(time_budget))
    if data is not None:
        extra.append(f"moe.data={data}")
    cfg: SystemConfig = load_config(config, extra)
    if verbose:
        logging.getLogger("helixmoe").setLevel(logging.INFO)

    from accelerate import PartialState

    from helixmoe.training.moe_pipeline import train_moe as run  # imports torch

    out = output or Path("systems") / cfg.name
    summary = run(cfg, out, resume=resume)
    if PartialState().is_main_process:
        typer.echo(json.dumps(summary, indent=2, default=str))
        if summary.get("interrupted"):
            typer.echo(f"interrupted: checkpoints saved under {out}/.train; continue with --resume", err=True)
            raise typer.Exit(130)
        typer.echo(f"MoE-LoRA written to {out / 'moe'}")


def register(app: typer.Typer) -> None:
    app.command("train-moe")(train_moe)
