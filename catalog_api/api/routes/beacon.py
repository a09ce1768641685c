"""Beacon v2 under ``/api/beacon/v2`` (see :mod:`catalog_api.discovery.beacon`).

Informational endpoints (info, service-info, configuration, map, entry_types,
filtering_terms, datasets, cohorts) are public metadata; the count endpoints (individuals,
biosamples, g_variants) need a researcher token (Beacon security level "registered") and go
through the same consent filtering, disclosure control, budget and audit as
``/api/v1/cohorts/count``.
"""

from __future__ import annotations

import hashlib
from concurrent.futures import Future
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from catalog_api.api.deps import (
    ResearcherUser,
    SessionDep,
    audit_writer_for,
    control_for,
    ready_engine,
)
from catalog_api.discovery import beacon as bn
from catalog_api.discovery.audit_writer import AuditWriter
from catalog_api.discovery.datasets import dataset_entries
from catalog_api.discovery.errors import DiscoveryError
from consent.tags import canonical_json

router = APIRouter(prefix="/api/beacon/v2", tags=["beacon"])


def _root(request: Request) -> str:
    return str(request.base_url).rstrip("/") + "/api/beacon/v2"


def _error(exc: DiscoveryError) -> JSONResponse:
    retry = {"Retry-After": "5"} if exc.status_code == 503 else None  # not ready: retry
    return JSONResponse(
        bn.error_response(exc.status_code, str(exc)), status_code=exc.status_code, headers=retry
    )


@router.get("", name="root", summary="Beacon info")
@router.get("/", name="root_slash", include_in_schema=False)
@router.get("/info", name="info", summary="Beacon info")
def info(request: Request) -> JSONResponse:
    """The beacon's identity (beaconInfoResponse)."""
    return JSONResponse({"meta": bn.info_meta("info"), "response": bn.info_results(_root(request))})


@router.get("/service-info", name="service_info", summary="GA4GH service-info")
def service_info(request: Request) -> JSONResponse:
    """GA4GH service-info 1.0."""
    return JSONResponse(bn.service_info(_root(request)))


@router.get("/configuration", name="configuration", summary="Beacon configuration")
def configuration() -> JSONResponse:
    """beaconConfigurationResponse."""
    return JSONResponse({"meta": bn.info_meta("configuration"), "response": bn.configuration()})


@router.get("/map", name="map", summary="Beacon map")
def beacon_map(request: Request) -> JSONResponse:
    """beaconMapResponse."""
    return JSONResponse({"meta": bn.info_meta("map"), "response": bn.beacon_map(_root(request))})


@router.get("/entry_types", name="entry_types", summary="Entry types")
def entry_types() -> JSONResponse:
    """beaconEntryTypesResponse."""
    return JSONResponse({"meta": bn.info_meta("entryType"), "response": bn.entry_types()})


@router.get("/filtering_terms", name="filtering_terms", summary="Filtering terms")
def filtering_terms(request: Request) -> JSONResponse:
    """beaconFilteringTermsResponse: OncoTree, NCIt sex, custom and alphanumeric terms."""
    try:
        eng = ready_engine(request)
    except DiscoveryError as exc:
        return _error(exc)
    with eng.current() as idx:
        body = bn.filtering_terms(idx)
    return JSONResponse({"meta": bn.info_meta("filteringTerm"), "response": body})


@router.get("/datasets", name="datasets", summary="Datasets (metadata)")
def datasets(request: Request) -> JSONResponse:
    """beaconCollectionsResponse of the datasets (metadata only)."""
    try:
        eng = ready_engine(request)
    except DiscoveryError as exc:
        return _error(exc)
    items = [bn.dataset_item(d) for d in dataset_entries(eng)]
    return JSONResponse(bn.collections_response("dataset", items))


@router.get("/cohorts", name="cohorts", summary="Cohorts (one per centre)")
def cohorts(request: Request) -> JSONResponse:
    """beaconCollectionsResponse: a beacon-defined cohort per centre, size disclosure-
    controlled (below the threshold: no size)."""
    try:
        eng = ready_engine(request)
    except DiscoveryError as exc:
        return _error(exc)
    ctl = control_for(request)
    with eng.current() as idx:
        sizes = {c: ctl.cell(len(idx.feature("centre", c) & idx.live)) for c in idx.centres}
        items = bn.cohort_items(idx, sizes)
    return JSONResponse(bn.collections_response("cohort", items))


def _count(
    request: Request,
    user: Any,
    session: Any,
    path: str,
    filters: list[Any],
    params: dict[str, Any],
    granularity: str,
) -> tuple[JSONResponse, Future[None] | None]:
    """The Beacon answer of one count query and its audit entry's commit (send the answer
    only once that is done: :func:`_answer`)."""
    entry = bn.PATH_TO_ENTRY[path]
    if granularity not in ("boolean", "count", "record"):
        return _error(
            DiscoveryError(f"requestedGranularity {granularity!r}: use boolean, count or record")
        ), None
    try:
        eng = ready_engine(request)
        ctl = control_for(request)
        purpose = bn.purpose_of(params)
        definition = bn.definition_of(filters, params)
        query = {
            "entry": entry,
            "definition": definition.model_dump(mode="json", exclude_none=True),
            "purpose": purpose.model_dump(mode="json", exclude_defaults=True),
        }
        digest = hashlib.sha256(canonical_json(query)).hexdigest()
        result = eng.count(definition, purpose)
        ctl.check_result(
            user.username,
            digest,
            result,
            shown=("count", "excluded"),
            definition=definition.digest(),
        )
    except DiscoveryError as exc:
        fut = audit_writer_for(request.app).submit(
            actor=user.username,
            action="beacon.count_refused",
            subject=f"beacon:{path}",
            details={
                "filters": filters,
                "requestParameters": params,
                "status": exc.status_code,
                "reason": str(exc),
            },
        )
        return _error(exc), fut
    rounded = ctl.cell(result.total)
    info = {
        "lakeVersion": result.version_id,
        "countedUnit": "individuals",
        "excludedByConsent": ctl.cell(result.excluded),
        "purpose": query["purpose"],
        "disclosure": f"counts below {ctl.threshold} are answered as 0/false; others "
        f"rounded to {ctl.rounding}",
    }
    body = bn.count_response(
        entry, granularity, filters, params, result.total, ctl.threshold, rounded, info
    )
    fut = audit_writer_for(request.app).submit(
        actor=user.username,
        action="beacon.count",
        subject=f"lake:{result.version_id}",
        details={**query, "digest": digest, "answer": body["responseSummary"]},
    )
    return JSONResponse(body), fut


async def _answer(
    request: Request,
    user: Any,
    session: Session,
    path: str,
    filters: list[Any],
    params: dict[str, Any],
    granularity: str,
) -> JSONResponse:
    """:func:`_count` off the event loop, answered once its audit entry is committed."""

    def start() -> tuple[JSONResponse, Future[None] | None]:
        out = _count(request, user, session, path, filters, params, granularity)
        # give the connection back while waiting: the audit writer needs one from the pool
        session.close()
        return out

    response, audited = await run_in_threadpool(start)
    if audited is not None:
        try:
            await AuditWriter.wait_async(audited)
        except DiscoveryError as exc:
            return _error(exc)
    return response


def _split(filters: str | None) -> list[Any]:
    return [f.strip() for f in (filters or "").split(",") if f.strip()]


for _path in ("individuals", "biosamples", "g_variants"):

    def _make(path: str) -> None:
        @router.get(f"/{path}", name=f"{path}_get", summary=f"Count {path} (GET)")
        async def get_entry(
            request: Request,
            user: ResearcherUser,
            session: SessionDep,
            filters: str | None = Query(None, description="Comma-separated filter ids."),
            requestedGranularity: str = Query("count"),
            geneId: str | None = Query(None),
            aminoacidChange: str | None = Query(None),
            variantType: str | None = Query(None),
            purpose: str | None = Query(None, description="DUO code/shorthand: GRU, HMB …"),
        ) -> JSONResponse:
            """Beacon count/boolean query with GET parameters."""
            params = {
                k: v
                for k, v in {
                    "geneId": geneId,
                    "aminoacidChange": aminoacidChange,
                    "variantType": variantType,
                    "purpose": purpose,
                }.items()
                if v is not None
            }
            return await _answer(
                request, user, session, path, _split(filters), params, requestedGranularity
            )

        @router.post(f"/{path}", name=f"{path}_post", summary=f"Count {path} (POST)")
        async def post_entry(
            request: Request,
            user: ResearcherUser,
            session: SessionDep,
            body: Annotated[dict[str, Any], Body()],
        ) -> JSONResponse:
            """Beacon count/boolean query with a beaconRequestBody."""
            query = body.get("query") or {}
            if not isinstance(query, dict):
                return _error(DiscoveryError("query: must be an object"))
            filters = query.get("filters") or []
            params = query.get("requestParameters") or {}
            if not isinstance(filters, list) or not isinstance(params, dict):
                return _error(
                    DiscoveryError(
                        "query.filters must be a list and query.requestParameters an object"
                    )
                )
            return await _answer(
                request,
                user,
                session,
                path,
                filters,
                params,
                str(query.get("requestedGranularity", "count")),
            )

    _make(_path)
