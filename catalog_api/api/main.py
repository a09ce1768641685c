"""The ``/api/v1`` router: every resource router is included here, one line each."""

from __future__ import annotations

from fastapi import APIRouter

from catalog_api.api.routes import users

api_router = APIRouter(prefix="/api/v1")
api_router.include_router(users.router)
