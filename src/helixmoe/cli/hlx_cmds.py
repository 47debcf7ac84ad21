"""``helixmoe convert`` and ``helixmoe validate``: the HLX codecs on the command line (no torch)."""

from __future__ import annotations

import sys
from typing import Annotated, Optional

import typer

from helixmoe import hlx
from helixmoe.errors import DataError

__all__ = ["register"]

_NOTATION_HELP = "one of: " + ", ".join(hlx.NOTATIONS)


def _notation(option: str, name: Optional[str]) -> Optional[str]:
    """The registry name of an option's notation (``None`` stays ``None``); an unknown one names the option."""
    if name is None:
        return None
    try:
        return hlx.api.normalise(name)
    except hlx.HLXError:
        raise DataError(f"{option} {name!r}: unknown notation; {_NOTATION_HELP}") from None


def _read_input(text: Optional[str], notation: Optional[str]) -> str | bytes:
    """The value text from the argument, or from stdin when it is ``-`` or missing."""
    binary = notation is not None and hlx.api.normalise(notation) == "lc-b"
    if text is not None and text != "-":
        if binary:
            raise DataError(
                "--from lc-b reads raw bytes from stdin ('-'); for a value on the command line use "
                "--from lc-b-hex (hex digits) or --from lc-b-text"
            )
        return text
    if sys.stdin is None or sys.stdin.isatty():
        raise DataError("no input: pass the value as an argument, or '-' and pipe it on stdin")
    if binary:
        return sys.stdin.buffer.read()
    return sys.stdin.read()


def _write(out: str | bytes, hex_bytes: bool) -> None:
    if isinstance(out, bytes):
        if hex_bytes or sys.stdout.isatty():
            typer.echo(out.hex())
        else:
            sys.stdout.flush()
            sys.stdout.buffer.write(out)
            sys.stdout.buffer.flush()
    else:
        typer.echo(out)


def convert(
    text: Annotated[Optional[str], typer.Argument(help="The value; '-' or nothing reads stdin.")] = None,
    to: Annotated[
        Optional[str], typer.Option("--to", "-t", help=f"Target notation, {_NOTATION_HELP}.")
    ] = None,
    src: Annotated[
        Optional[str], typer.Option("--from", "-f", help="Input notation (default: detect).")
    ] = None,
    all_: Annotated[bool, typer.Option("--all", "-a", help="Print the value in every notation.")] = False,
    hex_bytes: Annotated[bool, typer.Option("--hex", help="Write LC-B bytes as hex text.")] = False,
    strict: Annotated[bool, typer.Option("--strict", help="Reject the lenient input forms.")] = False,
) -> None:
    """Convert an HLX value between notations, e.g. ``helixmoe convert --to lc-r '{14: {@0: 42}}'``."""
    if to is None and not all_:
        raise DataError("say which notation to write: --to NOTATION (" + _NOTATION_HELP + ") or --all")
    to, src = _notation("--to", to), _notation("--from", src)
    data = _read_input(text, src)
    if isinstance(data, str) and src is None:
        data = data.strip()
    notation = hlx.api.normalise(src) if src else hlx.detect(data)
    value = hlx.loads(data, notation, strict=strict)
    if all_:
        for name in hlx.NOTATIONS:
            if name == "lc-b-hex":
                continue
            out = hlx.dumps(value, name)
            typer.echo(f"{name}: {out.hex() if isinstance(out, bytes) else out}")
        return
    assert to is not None
    _write(hlx.dumps(value, to), hex_bytes)


def validate(
    text: Annotated[Optional[str], typer.Argument(help="The value; '-' or nothing reads stdin.")] = None,
    notation: Annotated[
        Optional[str], typer.Option("--notation", "-n", help=f"Notation, {_NOTATION_HELP}.")
    ] = None,
    strict: Annotated[bool, typer.Option("--strict", help="Reject the lenient forms.")] = False,
) -> None:
    """Check that a value parses; exit 0 and say ``valid``, or exit 1 with the error and a caret."""
    notation = _notation("--notation", notation)
    data = _read_input(text, notation)
    name = notation or hlx.detect(data)
    hlx.loads(data, name, strict=strict)
    typer.echo(f"valid {name}")


def register(app: typer.Typer) -> None:
    app.command("convert")(convert)
    app.command("validate")(validate)
