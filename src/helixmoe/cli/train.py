"""``helixmoe train``: run the training stages of a system config (torch is imported only when it runs).

Works unchanged under ``accelerate launch [--num_processes N] [--cpu] -m helixmoe train ...``.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Annotated, Optional

import typer

__all__ = ["register"]


def train(
    config: Annotated[Path, typer.Option("--config", "-c", help="System config YAML/TOML.")],
    overrides: Annotated[
        Optional[list[str]],
        typer.Argument(help="Dotted overrides, e.g. training.experts.max_steps=100 lora.r=8."),
    ] = None,
    stage: Annotated[
        list[str],
        typer.Option(
            "--stage", "-s", help="corpus | tokenizer | base | experts | router | all (repeatable)."
        ),
    ] = ["all"],  # noqa: B006
    output: Annotated[
        Optional[Path],
        typer.Option("--output", "-o", help="System directory to write (default: systems/<name>)."),
    ] = None,
    time_budget: Annotated[
        Optional[str],
        typer.Option(
            "--time-budget", help="Wall-clock budget of this run, e.g. 90s, 15m, 1h (overrides the config)."
        ),
    ] = None,
    resume: Annotated[
        bool,
        typer.Option("--resume", help="Continue from the last complete checkpoints; skip finished stages."),
    ] = False,
    expert: Annotated[
        Optional[list[str]], typer.Option("--expert", "-e", help="Only train these experts (repeatable).")
    ] = None,
    eval_limit: Annotated[
        int,
        typer.Option("--eval-limit", help="Examples per expert and split graded after training (0 = skip)."),
    ] = 200,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log progress at INFO level.")] = False,
) -> None:
    """Train a system: corpus → tokenizer → base → experts, writing the system directory."""
    from helixmoe.config import SystemConfig, load_config
    from helixmoe.config.training import budget_override

    all_overrides = list(overrides or [])
    if time_budget is not None:
        all_overrides.append(budget_override(time_budget))
    cfg: SystemConfig = load_config(config, all_overrides)
    if verbose:
        logging.getLogger("helixmoe").setLevel(logging.INFO)

    from helixmoe.training.pipeline import train_system  # imports torch

    out = output or Path("systems") / cfg.name
    summary = train_system(cfg, out, stages=stage, resume=resume, experts=expert, final_eval_limit=eval_limit)
    from helixmoe.training.context import process_state

    if process_state().is_main_process:
        typer.echo(json.dumps(summary, indent=2, default=str))
        if summary.get("interrupted"):
            typer.echo(f"interrupted: checkpoints saved under {out}/.train; continue with --resume", err=True)
            raise typer.Exit(130)
        typer.echo(f"system written to {out}")


def register(app: typer.Typer) -> None:
    app.command("train")(train)
