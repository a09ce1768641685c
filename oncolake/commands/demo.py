"""``oncolake demo``: the whole network on the embedded default."""

from __future__ import annotations

import typer
from rich.console import Console

from oncolake.commands.lake import open_lake, tables
from oncolake.errors import user_errors

console = Console(highlight=False)


def demo() -> None:
    """Set up the embedded default (``ONCOLAKE_HOME``) and show the lake."""
    with user_errors():
        lake = open_lake()
        lake.init()
    console.print(f"lake ready at {lake.config.warehouse}")
    tables()


def register(app: typer.Typer) -> None:
    """Add the ``demo`` command to the root app."""
    app.command("demo")(demo)
