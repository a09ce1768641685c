"""``oncolake serve``: the catalogue (API, Beacon v2, web pages) over HTTP with uvicorn."""

from __future__ import annotations

import typer
import uvicorn
from fastapi import FastAPI

from catalog_api.main import create_app
from oncolake.api_config import api_config
from oncolake.commands.lake import open_lake
from oncolake.errors import user_errors
from oncolake.settings import get_settings


def build_app() -> FastAPI:
    """The catalogue app over the lake and database of the current settings."""
    settings = get_settings()
    lake = open_lake(settings)
    lake.init()
    return create_app(api_config(settings), lake)


def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8000, help="Port to listen on."),
) -> None:
    """Serve the catalogue: JSON API (/docs), Beacon v2 (/api/beacon/v2), web pages (/)."""
    with user_errors():
        app = build_app()
    # uvicorn handles Ctrl-C: it stops accepting, finishes requests in flight and exits.
    uvicorn.run(app, host=host, port=port, log_level="info")


def register(app: typer.Typer) -> None:
    """Add the ``serve`` command to the root app."""
    app.command("serve")(serve)
