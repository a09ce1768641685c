"""The ``/api/v1`` router: every resource router is included here, one line each."""

from __future__ import annotations

from fastapi import APIRouter

from catalog_api.api.routes import (
    access_requests,
    analytics,
    audit,
    cohorts,
    discovery,
    exports,
    health,
    reviews,
    users,
)

api_router = APIRouter(prefix="/api/v1")
api_router.include_router(health.router)
api_router.include_router(users.router)
api_router.include_router(discovery.router)
api_router.include_router(cohorts.router)
api_router.include_router(analytics.router)
api_router.include_router(access_requests.router)
api_router.include_router(reviews.router)
api_router.include_router(exports.router)
api_router.include_router(audit.router)
