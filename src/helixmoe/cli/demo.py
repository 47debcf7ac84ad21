"""``helixmoe demo``: the main job on the built-in default.

Today it shows the HLX oracle at work: a handful of spec values converted between every notation and
checked to round-trip. The training, routing and evaluation stages join it as they land.
"""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from helixmoe import hlx

__all__ = ["register"]

SAMPLES = (
    "{14: {@0: 42}}",
    '{name: "Alice", age: 30}',
    "[1, 2, 3]",
    '{1000: {@0: "search", @1: &h_documents}}',
    '{902: {@0: "render_pipeline", @1: [&h_vs, &h_fs]}}',
    'b"data"',
    "3.14159",
)


def demo() -> None:
    """Run the demo on the built-in default (today: the HLX codecs across all notations)."""
    console = Console()
    table = Table(title="HLX: one value, five notations (every cell round-trips through the oracle)")
    for name in ("hlxl", "lc-t", "lc-r", "lc-b-text", "lc-b (hex)"):
        table.add_column(name, overflow="fold")
    for text in SAMPLES:
        value = hlx.loads(text, "hlxl")
        cells = []
        for name in ("hlxl", "lc-t", "lc-r", "lc-b-text", "lc-b"):
            out = hlx.dumps(value, name)
            if not hlx.equal(hlx.loads(out, name), value):
                raise AssertionError(f"round trip failed for {text} in {name}")
            cells.append(Text(out.hex() if isinstance(out, bytes) else out))  # Text: brackets are not markup
        table.add_row(*cells)
    console.print(table)
    console.print(
        Text("Try: helixmoe convert --to lc-r '{14: {@0: 42}}'   ·   helixmoe convert --all '[1, 2, 3]'")
    )


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
