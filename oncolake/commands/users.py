"""``oncolake users``: add, list and change users of the catalogue."""

from __future__ import annotations

from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from catalog_api import audit, crud
from catalog_api.auth.schemas import UserCreate, UserUpdate
from catalog_api.db import make_engine, make_sessionmaker, session_scope, upgrade
from oncolake.api_config import api_config
from oncolake.errors import fail, user_errors

app = typer.Typer(no_args_is_help=True)
console = Console(highlight=False)

ROLES_HELP = "Role (repeat): researcher, reviewer, steward, admin."
CENTRES_HELP = "Centre a reviewer/steward acts for (repeat); '*' for the whole network."


def sessions():  # type: ignore[no-untyped-def]
    """A migrated database's session factory (for the commands)."""
    config = api_config()
    engine = make_engine(config.database_url)
    upgrade(engine)
    audit.configure(engine, key=config.audit_key, anchors=config.home / audit.ANCHOR_DIR)
    return make_sessionmaker(engine)


@app.command("add")
def add(
    username: str,
    role: Annotated[list[str] | None, typer.Option("--role", "-r", help=ROLES_HELP)] = None,
    centre: Annotated[list[str] | None, typer.Option("--centre", "-c", help=CENTRES_HELP)] = None,
    full_name: str = typer.Option("", help="Full name."),
    email: str = typer.Option("", help="E-mail address."),
) -> None:
    """Add a user with roles and centres."""
    try:
        user_in = UserCreate(
            username=username,
            roles=role or [],
            centres=centre or [],
            full_name=full_name,
            email=email,
        )
    except ValidationError as exc:
        raise fail(
            "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        ) from None
    with user_errors(), session_scope(sessions()) as session:
        user = crud.create_user(session, user_in=user_in, actor="cli")
        console.print(
            f"added user {user.username} (id {user.id}): roles {', '.join(user.roles) or '-'}; "
            f"centres {', '.join(user.centres) or '-'}"
        )


@app.command("list")
def list_cmd() -> None:
    """List the users."""
    with user_errors(), session_scope(sessions()) as session:
        out = Table()
        for col in ("id", "username", "roles", "centres", "active"):
            out.add_column(col)
        for u in crud.list_users(session, limit=100_000):
            out.add_row(
                str(u.id),
                u.username,
                ",".join(u.roles),
                ",".join(u.centres),
                "yes" if u.is_active else "no",
            )
        console.print(out)


@app.command("set")
def set_cmd(
    username: str,
    role: Annotated[
        list[str] | None, typer.Option("--role", "-r", help=ROLES_HELP + " Replaces the roles.")
    ] = None,
    centre: Annotated[
        list[str] | None, typer.Option("--centre", "-c", help=CENTRES_HELP + " Replaces them.")
    ] = None,
    active: Annotated[
        bool | None, typer.Option("--active/--inactive", help="Activate or deactivate.")
    ] = None,
) -> None:
    """Change a user's roles, centres or active flag."""
    try:
        changes = UserUpdate(roles=role or None, centres=centre or None, is_active=active)
    except ValidationError as exc:
        raise fail(str(exc.errors()[0]["msg"])) from None
    with user_errors(), session_scope(sessions()) as session:
        user = crud.get_user_by_username(session, username=username)
        if user is None:
            raise fail(f"no user {username!r}; add it with `oncolake users add {username}`")
        crud.update_user(session, user=user, user_in=changes, actor="cli")
        console.print(
            f"{user.username}: roles {', '.join(user.roles) or '-'}; centres "
            f"{', '.join(user.centres) or '-'}; active {user.is_active}"
        )
