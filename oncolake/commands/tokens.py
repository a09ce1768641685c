"""``oncolake tokens``: create, list and revoke API tokens."""

from __future__ import annotations

import datetime as dt

import typer
from rich.console import Console

from catalog_api import audit, crud
from catalog_api.auth import tokens
from catalog_api.db import session_scope
from oncolake.commands.users import sessions
from oncolake.errors import fail, user_errors

app = typer.Typer(no_args_is_help=True)
console = Console(highlight=False)


@app.command("create")
def create(
    username: str,
    name: str = typer.Option("", help="What the token is for."),
    days: float = typer.Option(90.0, help="Days until the token expires (at most 366)."),
) -> None:
    """Create an API token for a user; it is printed once and never stored."""
    with user_errors(), session_scope(sessions()) as session:
        user = crud.get_user_by_username(session, username=username)
        if user is None:
            raise fail(f"no user {username!r}; add it with `oncolake users add {username}`")
        row, token = tokens.create_token(session, user=user, name=name, ttl=dt.timedelta(days=days))
        audit.record(
            session,
            actor="cli",
            action="token.created",
            subject=f"user:{user.id}",
            details={"token_id": row.id, "prefix": row.prefix},
        )
        console.print(
            f"token {row.id} for {username}, expires {row.expires_at:%Y-%m-%d %H:%M} UTC "
            "(shown once; store it now):",
            style="bold",
        )
        typer.echo(token)


@app.command("list")
def list_cmd(username: str) -> None:
    """List a user's tokens (never the tokens themselves)."""
    with user_errors(), session_scope(sessions()) as session:
        user = crud.get_user_by_username(session, username=username)
        if user is None:
            raise fail(f"no user {username!r}")
        for t in tokens.list_tokens(session, user=user):
            state = "revoked" if t.revoked_at else f"expires {t.expires_at:%Y-%m-%d}"
            console.print(f"{t.id}\t{t.prefix}…\t{t.name or '-'}\t{state}")


@app.command("revoke")
def revoke(token_id: int) -> None:
    """Revoke a token by id (it stops working at once)."""
    with user_errors(), session_scope(sessions()) as session:
        row = tokens.revoke_token(session, user=None, token_id=token_id)
        audit.record(
            session,
            actor="cli",
            action="token.revoked",
            subject=f"user:{row.user_id}",
            details={"token_id": row.id, "prefix": row.prefix},
        )
        console.print(f"revoked token {row.id} ({row.prefix}…)")
