"""``helixmoe`` command line: thin Typer shells over the library (layer 3).

Command modules register themselves on one Typer app and import heavy libraries (torch, transformers)
inside the command functions only, so ``helixmoe convert`` starts without torch.
"""

from helixmoe.cli.app import app, main

__all__ = ["app", "main"]
