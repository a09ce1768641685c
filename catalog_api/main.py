"""The FastAPI application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles

from catalog_api import audit
from catalog_api.analytics.service import journeys_extension, journeys_for, start_journeys
from catalog_api.api.errors import install_error_handlers
from catalog_api.api.main import api_router
from catalog_api.api.routes.beacon import router as beacon_router
from catalog_api.core.config import ApiConfig
from catalog_api.db import make_engine, make_sessionmaker, upgrade
from catalog_api.discovery.audit_writer import AuditWriter
from catalog_api.discovery.disclosure import DisclosureControl
from catalog_api.discovery.engine import engine_for
from catalog_api.discovery.history import SqlStore
from catalog_api.discovery.index_store import INDEX_DIR, IndexStore
from catalog_api.web.render import STATIC_DIR, STATIC_URL
from catalog_api.web.routes import router as web_router
from harmonise.lake import Lake


def _operation_id(route: APIRoute) -> str:
    """Stable operation ids (``tag-route name``) so that clients can be generated."""
    tag = route.tags[0] if route.tags else "default"
    return f"{tag}-{route.name}"


def create_app(config: ApiConfig, lake: Lake, *, migrate: bool = True) -> FastAPI:
    """Build the catalogue app over ``lake`` with ``config``.

    The application database is migrated to the newest revision first (``migrate``). The
    app's shared objects are built here, once, and reached by the routes through
    :mod:`catalog_api.api.deps`: the app's own discovery engine over the lake (its index
    loaded from the home or built in the background from start-up, or from the first
    request that needs it; its threads stop with the app), the journeys of the analytics
    questions kept in step with it, the disclosure control and the discovery audit writer.
    """
    engine = make_engine(config.database_url)
    if migrate:
        upgrade(engine)
    # the index is persisted per lake version in the home (a restart loads it), with the
    # analytics journeys aligned with its slots
    index_store = IndexStore(config.home / INDEX_DIR, config.secret_key)
    discovery = engine_for(lake, index_store)
    journeys = journeys_for(discovery)
    index_store.extend(journeys_extension(journeys))

    sessions = make_sessionmaker(engine)
    audit.configure(
        engine,
        key=config.audit_key or audit.key_from_secret(config.secret_key),
        anchors=config.home / audit.ANCHOR_DIR,
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        discovery.start()
        sync = start_journeys(discovery)  # read in the background, never in a request
        try:
            async with audit.anchoring(sessions):
                yield
        finally:
            sync.stop()
            discovery.stop()  # this app's own engine: its threads end with the app
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
    app.state.discovery_engine = discovery
    app.state.disclosure_control = DisclosureControl(
        threshold=config.disclosure_threshold,
        rounding=config.disclosure_rounding,
        budget=config.query_budget,
        window_seconds=config.query_window_seconds,
        history_days=config.disclosure_history_days,
        store=SqlStore(engine, config.secret_key),
    )
    # patients get their stable numbers in the background, not on a first count
    discovery.number_patients_with(app.state.disclosure_control.store)
    app.state.discovery_audit = AuditWriter(sessions)
    install_error_handlers(app)
    app.include_router(api_router)
    app.include_router(beacon_router)
    app.include_router(web_router)
    app.mount(STATIC_URL, StaticFiles(directory=STATIC_DIR), name="web-static")
    return app
