"""The FastAPI application factory."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.routing import APIRoute

from catalog_api.api.main import api_router
from catalog_api.core.config import ApiConfig
from harmonise.lake import Lake


def _operation_id(route: APIRoute) -> str:
    """Stable operation ids (``tag-route name``) so that clients can be generated."""
    tag = route.tags[0] if route.tags else "default"
    return f"{tag}-{route.name}"


def create_app(config: ApiConfig, lake: Lake) -> FastAPI:
    """Build the catalogue app over ``lake`` with ``config``."""
    app = FastAPI(
        title="oncolake catalogue",
        version="1",
        summary="Consent-aware, privacy-safe cohort discovery and governed access.",
        generate_unique_id_function=_operation_id,
    )
    app.state.config = config
    app.state.lake = lake
    app.include_router(api_router)
    return app
