"""The FastAPI application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import IntegrityError, OperationalError

from catalog_api import audit
from catalog_api.api.main import api_router
from catalog_api.api.routes.beacon import router as beacon_router
from catalog_api.core.config import ApiConfig
from catalog_api.db import make_engine, make_sessionmaker, upgrade
from catalog_api.errors import ApiError
from catalog_api.web.render import STATIC_DIR, STATIC_URL
from catalog_api.web.routes import router as web_router
from harmonise.lake import Lake


def _operation_id(route: APIRoute) -> str:
    """Stable operation ids (``tag-route name``) so that clients can be generated."""
    tag = route.tags[0] if route.tags else "default"
    return f"{tag}-{route.name}"


async def _api_error(_request: Request, exc: Exception) -> JSONResponse:
    status = int(getattr(exc, "status_code", 400))
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse({"detail": str(exc)}, status_code=status, headers=headers)


async def _integrity_error(_request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse(
        {
            "detail": "the change conflicts with existing data (a duplicate or a missing "
            "reference); reload and try again"
        },
        status_code=409,
    )


async def _database_busy(_request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse(
        {"detail": "the database is busy; retry in a moment"},
        status_code=503,
        headers={"Retry-After": "1"},
    )


def create_app(config: ApiConfig, lake: Lake, *, migrate: bool = True) -> FastAPI:
    """Build the catalogue app over ``lake`` with ``config``.

    The application database is migrated to the newest revision first (``migrate``).
    """
    engine = make_engine(config.database_url)
    if migrate:
        upgrade(engine)

    sessions = make_sessionmaker(engine)
    audit.configure(
        engine,
        key=config.audit_key or audit.key_from_secret(config.secret_key),
        anchors=config.home / audit.ANCHOR_DIR,
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        async with audit.anchoring(sessions):
            yield
        engine.dispose()

    app = FastAPI(
        title="oncolake catalogue",
        version="1",
        summary="Consent-aware, privacy-safe cohort discovery and governed access.",
        generate_unique_id_function=_operation_id,
        lifespan=lifespan,
    )
    app.state.config = config
    app.state.lake = lake
    app.state.engine = engine
    app.state.sessionmaker = sessions
    app.add_exception_handler(ApiError, _api_error)
    # other packages' input errors (ValueError subclasses, some with a status_code)
    app.add_exception_handler(ValueError, _api_error)
    app.add_exception_handler(IntegrityError, _integrity_error)
    app.add_exception_handler(OperationalError, _database_busy)
    app.include_router(api_router)
    app.include_router(beacon_router)
    app.include_router(web_router)
    app.mount(STATIC_URL, StaticFiles(directory=STATIC_DIR), name="web-static")
    return app
