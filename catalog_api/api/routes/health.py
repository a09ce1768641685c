"""Liveness and readiness, for load balancers and deploys (public: no count, no patient).

* ``GET /api/v1/health``: the process answers (always 200 while it runs);
* ``GET /api/v1/ready``: 200 once the discovery index is ready (counts are answered),
  else 503 with ``Retry-After`` and a one-line ``detail`` saying what the index is doing
  (being loaded from disk, or built, with how many submissions are read so far). A
  replica should receive traffic only once ready.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from catalog_api.api.deps import discovery_engine
from catalog_api.discovery.disclosure import disclose_count

router = APIRouter(tags=["health"])


@router.get("/health", name="health", summary="Liveness: the process answers")
async def health() -> JSONResponse:
    """Always ``{"status": "ok"}`` while the process runs."""
    return JSONResponse({"status": "ok"})


@router.get(
    "/ready",
    name="ready",
    summary="Readiness: counts can be answered (the discovery index is built or loaded)",
    responses={503: {"description": "Not ready yet: see detail and Retry-After"}},
)
async def ready(request: Request) -> JSONResponse:
    """``{"ready": true, "lake_version": …, "patients": (disclosed), "numbering_complete":
    …}``, or 503 ``{"ready": false, "detail": …}``."""
    engine = discovery_engine(request)
    engine.start()
    status = engine.status()
    if "patients" in status:
        # public: the index's size through the disclosure rule like every number shown
        # (an exact one would tell, say, that one patient withdrew since yesterday)
        config = request.app.state.config
        n, numbered = status["patients"], status.pop("patients_numbered")
        status["patients"] = disclose_count(
            n, threshold=config.disclosure_threshold, rounding=config.disclosure_rounding
        )
        status["numbering_complete"] = numbered >= n
    if status["ready"]:
        return JSONResponse(status)
    return JSONResponse(status, status_code=503, headers={"Retry-After": "5"})
