"""Discovery: consent-aware, disclosure-controlled cohort counts, filtering terms, datasets."""

from __future__ import annotations

import json

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from catalog_api.api.deps import (
    AuditWriterDep,
    ControlDep,
    CurrentUser,
    ReadyEngineDep,
    ResearcherUser,
    SessionDep,
    discovery_engine,
    ready_engine,
)
from catalog_api.api.errors import DiscoveryRoute
from catalog_api.discovery.datasets import DatasetPublic, dataset_entries
from catalog_api.discovery.definition import CohortDefinition
from catalog_api.discovery.service import PendingCount, start_count_query
from catalog_api.discovery.terms import filtering_terms
from consent.purpose import ResearchPurpose

router = APIRouter(tags=["discovery"], route_class=DiscoveryRoute)


class CountRequest(BaseModel):
    """A count question: a cohort definition and the DUO-coded purpose of the research."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    definition: CohortDefinition = Field(description="The cohort definition (format_version 1).")
    purpose: ResearchPurpose = Field(description="The research purpose (consent/ purpose model).")


Cell = int | str


class Coverage(BaseModel):
    """Coverage-aware denominator: patients whose assay covered the genes asked about."""

    genes: list[str]
    covered: Cell


class Disclosure(BaseModel):
    """The disclosure rules applied to every count of the answer."""

    threshold: int
    rounding: int
    suppressed_as: str


class CountResponse(BaseModel):
    """Disclosure-controlled counts; every count is a rounded number or ``"<5"``."""

    lake_version: str = Field(description="Lake version (snapshot set) the counts were made on.")
    count: Cell = Field(
        description="Patients matching the definition whose consent permits the purpose."
    )
    excluded_by_consent: Cell = Field(description="Matching patients left out by consent.")
    by_tumour_type: dict[str, Cell] = Field(
        description="Basket view: OncoTree code of the "
        "primary diagnosis → count; cells below the "
        "threshold merged into 'other'."
    )
    by_centre: dict[str, Cell] = Field(description="Centre → count; small cells in 'other'.")
    coverage: Coverage | None = Field(description="Denominator when genes/variants are asked.")
    disclosure: Disclosure


@router.post(
    "/cohorts/count",
    name="count",
    summary="Count the patients of a cohort definition whose consent permits the purpose",
    responses={
        200: {"model": CountResponse},
        400: {"description": "Bad definition/purpose"},
        409: {"description": "Refused: differencing"},
        429: {"description": "Query budget used"},
    },
)
async def count(
    body: CountRequest,
    request: Request,
    user: ResearcherUser,
    session: SessionDep,
    control: ControlDep,
    audit_writer: AuditWriterDep,
) -> Response:
    """Counts: total, basket view by tumour type, by centre, the coverage denominator and how
    many were excluded by consent; every count disclosure-controlled; the query is audited
    (the answer is sent only once its audit entry is committed)."""

    def start() -> PendingCount:
        pending = start_count_query(
            session,
            user=user,
            engine=ready_engine(request),
            control=control,
            definition=body.definition,
            purpose=body.purpose,
            audit_writer=audit_writer,
        )
        # give the connection back while waiting: the audit writer needs one from the pool
        session.close()
        return pending

    if not discovery_engine(request).ready:
        pending = await run_in_threadpool(start)  # the first index build: wait off the loop
    else:
        # the index is ready: the count is a millisecond or two of GIL-bound work, cheaper
        # on the event loop than a hop to a worker thread and back (measured with wrk)
        pending = start()
    return Response(await pending.body_async(), media_type="application/json")


@router.get(
    "/filtering-terms",
    name="filtering_terms",
    summary="What can be asked: criterion types, fields, codes and labels",
)
def get_filtering_terms(_user: CurrentUser, engine: ReadyEngineDep) -> JSONResponse:
    """Every criterion type with its fields and the codes present in the lake (no counts)."""
    with engine.current() as idx:
        return JSONResponse(filtering_terms(idx))


@router.get(
    "/datasets",
    name="datasets",
    response_model=list[DatasetPublic],
    summary="The catalogue of datasets (metadata only)",
)
def get_datasets(_user: CurrentUser, engine: ReadyEngineDep) -> JSONResponse:
    """Every visible dataset: centre, data types, assays, pipeline fingerprint, dates, DUO."""
    return JSONResponse(json.loads(json.dumps(dataset_entries(engine))))
