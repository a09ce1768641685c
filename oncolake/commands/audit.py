"""``oncolake audit``: verify the hash-chained audit log, show its tail."""

from __future__ import annotations

import typer
from rich.console import Console

from catalog_api import audit
from catalog_api.db import session_scope
from oncolake.commands.users import sessions
from oncolake.errors import err_console, user_errors

app = typer.Typer(no_args_is_help=True)
console = Console(highlight=False)


@app.command("verify")
def verify() -> None:
    """Re-walk the chain; exit 1 and name every edited or deleted entry if it is broken."""
    with user_errors(), session_scope(sessions()) as session:
        report = audit.verify(session)
    if report.ok:
        console.print(f"audit log intact: {report.entries} entries")
        return
    for p in report.problems:
        err_console.print(f"[bold red]tampered:[/] {p}", markup=True)
    raise typer.Exit(1)


@app.command("tail")
def tail(n: int = typer.Option(20, min=1, help="How many entries.")) -> None:
    """The last entries of the log."""
    with user_errors(), session_scope(sessions()) as session:
        rows = list(session.execute(audit.query(limit=1_000_000_000)).scalars())[-n:]
        for e in rows:
            console.print(f"{e.seq}\t{e.at}\t{e.actor}\t{e.action}\t{e.subject}\t{e.details_json}")
