"""The ``/api/v1`` router: every resource router is included here, one line each."""

from __future__ import annotations

from fastapi import APIRouter

api_router = APIRouter(prefix="/api/v1")
