"""``oncolake audit``: verify the keyed, hash-chained audit log and its anchors; anchor the
head; show the tail."""

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
def verify(
    anchor: bool = typer.Option(
        True, help="When intact, anchor the verified head outside the database."
    ),
) -> None:
    """Re-walk the chain and check every anchor; exit 1 naming every edited, deleted or
    re-chained entry and every altered anchor if it is broken."""
    with user_errors(), session_scope(sessions()) as session:
        report = audit.verify(session)
        written = audit.write_anchor(session) if report.ok and anchor else None
    if report.ok:
        keyed = (
            f"keyed after entry {report.keyed_from}" if report.keyed_from else "keyed throughout"
        )
        console.print(
            f"audit log intact: {report.entries} entries ({keyed}); {report.anchors} anchor(s) "
            f"checked, anchored up to entry {report.anchored_seq}"
            + (f"; anchored entry {report.entries} in {written}" if written else "")
        )
        return
    for p in report.problems:
        err_console.print(f"[bold red]tampered:[/] {p}", markup=True)
    raise typer.Exit(1)


@app.command("anchor")
def anchor() -> None:
    """Anchor the current chain head outside the database (run it from cron, for example;
    the server also anchors every minute while it runs)."""
    with user_errors(), session_scope(sessions()) as session:
        written = audit.write_anchor(session)
    console.print(f"anchored: {written}" if written else "the head is anchored already")


@app.command("tail")
def tail(n: int = typer.Option(20, min=1, help="How many entries.")) -> None:
    """The last entries of the log."""
    with user_errors(), session_scope(sessions()) as session:
        rows = list(session.execute(audit.query(limit=1_000_000_000)).scalars())[-n:]
        for e in rows:
            console.print(f"{e.seq}\t{e.at}\t{e.actor}\t{e.action}\t{e.subject}\t{e.details_json}")
