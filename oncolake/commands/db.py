"""``oncolake db``: the application database (migrations)."""

from __future__ import annotations

import typer
from rich.console import Console

from catalog_api.db import current_revision, head_revision, make_engine, upgrade
from oncolake.api_config import api_config
from oncolake.errors import user_errors

app = typer.Typer(no_args_is_help=True)
console = Console(highlight=False)


@app.command("upgrade")
def upgrade_cmd() -> None:
    """Migrate the application database to the newest revision (idempotent)."""
    with user_errors():
        engine = make_engine(api_config().database_url)
        upgrade(engine)
        console.print(f"application database at revision {current_revision(engine)}")
        engine.dispose()


@app.command("status")
def status_cmd() -> None:
    """Show the database's revision and the newest one shipped."""
    with user_errors():
        engine = make_engine(api_config().database_url)
        console.print(
            f"database: {current_revision(engine) or 'empty'}; newest: {head_revision(engine)}"
        )
        engine.dispose()
