"""The Typer application, command registration and the user-error boundary."""

from __future__ import annotations

import importlib
import logging
import signal
import sys

import typer

from helixmoe.errors import HelixMoEError
from helixmoe.hlx import HLXError

__all__ = ["app", "main"]

app = typer.Typer(
    name="helixmoe",
    help="Helix MoE: a verifiable mixture of small LLM experts (HLX codecs, corpora, training, routing).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

# One line per command module; each defines ``register(app)``.
_COMMAND_MODULES = (
    "helixmoe.cli.hlx_cmds",
    "helixmoe.cli.corpus",
    "helixmoe.cli.train",
    "helixmoe.cli.moe",
    "helixmoe.cli.query_cmds",
    "helixmoe.cli.eval_cmds",
    "helixmoe.cli.demo",
)


def _register() -> None:
    for name in _COMMAND_MODULES:
        importlib.import_module(name).register(app)


_register()


class Terminated(SystemExit):
    """Raised in the main thread on SIGTERM: unwinds like an exception, so every atomic write in progress
    removes its temp file (the default SIGTERM action kills the process where it stands). Training phases
    install their own handler (finish the step, checkpoint, stop) and restore this one after."""


def _terminate(signum: int, frame: object) -> None:
    raise Terminated(128 + signum)


def _os_error(err: OSError) -> str:
    """``PATH: reason`` (``[Errno 20] Not a directory: 'PATH'`` reads like a crash, not like a user's path)."""
    if err.filename is None or not err.strerror:
        return str(err)
    where = f"{err.filename} -> {err.filename2}" if err.filename2 is not None else str(err.filename)
    return f"{where}: {err.strerror}"


def main() -> None:
    """Console-script entry point: run the app, turning user errors into a message and exit code 1."""
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _terminate)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # optional backends announce what they cannot load on this machine; users need none of it
    logging.getLogger("bitsandbytes").setLevel(logging.ERROR)
    try:
        app()
    except (HLXError, HelixMoEError) as err:
        typer.echo(f"error: {err}", err=True)
        sys.exit(1)
    except OSError as err:  # a path the user gave that cannot be written or read
        typer.echo(f"error: {_os_error(err)}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        sys.exit(130)
    except Terminated as stop:
        typer.echo("terminated", err=True)
        sys.exit(stop.code)
    except SystemExit as stop:
        # Typer turns a Ctrl-C it did not expect into a silent exit 130 (``raise Exit(130) from err``);
        # commands that handle Ctrl-C themselves say what they saved and exit without that cause
        if isinstance(getattr(stop.__context__, "__cause__", None), KeyboardInterrupt):
            typer.echo("interrupted", err=True)
        raise
