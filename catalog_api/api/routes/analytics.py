"""Treatment patterns and survival of cohorts: consent-aware, disclosure-controlled,
audited like counts (``catalog_api.analytics``; rules in ``docs/analytics.md``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, model_validator
from starlette.concurrency import run_in_threadpool

from catalog_api.analytics.disclosure import INTERVAL_DAYS
from catalog_api.analytics.patterns import MAX_LINES
from catalog_api.analytics.service import journeys_for, survival_query, treatment_patterns_query
from catalog_api.api.deps import (
    AuditWriterDep,
    ControlDep,
    ResearcherUser,
    SessionDep,
    ready_engine,
)
from catalog_api.api.errors import DiscoveryRoute
from catalog_api.discovery.definition import CohortDefinition
from catalog_api.discovery.service import PendingCount
from consent.purpose import ResearchPurpose

router = APIRouter(tags=["analytics"], route_class=DiscoveryRoute)

Breakdown = Literal["tumour_type", "centre", "country", "start_year", "stage", "sex", "groups"]
Endpoint = Literal["os_from_diagnosis", "os_from_line", "ttnt_after_line"]
Adjustment = Literal["age", "sex", "stage"]
Grouping = Literal["line1_regimen", "line2_regimen", "line3_regimen", "centre", "sex", "stage"]
_Frozen = ConfigDict(frozen=True, extra="forbid")
_ERRORS: dict[int | str, dict[str, str]] = {
    400: {"description": "Bad definition, purpose or parameter"},
    409: {"description": "Refused: differencing"},
    429: {"description": "Query budget used"},
}


class TreatmentPatternsRequest(BaseModel):
    """A treatment-patterns question: a cohort, a purpose, and how to break it down."""

    model_config = _Frozen
    definition: CohortDefinition = Field(description="The cohort definition (format_version 1).")
    purpose: ResearchPurpose = Field(description="The research purpose (consent/ purpose model).")
    max_lines: int = Field(default=3, ge=1, le=MAX_LINES, description="Lines a pathway follows.")
    interval_days: int = Field(
        default=INTERVAL_DAYS,
        ge=7,
        le=365,
        description="Interval of the disclosed time-on-treatment and time-to-next curves.",
    )
    breakdown: Breakdown | None = Field(
        default=None, description="Break the regimen × line table down by this."
    )
    groups: dict[str, CohortDefinition] | None = Field(
        default=None,
        description="With breakdown 'groups': named definitions (e.g. variant or biomarker "
        "groups) the table is broken down by, within the cohort.",
    )

    @model_validator(mode="after")
    def _groups_with_breakdown(self) -> TreatmentPatternsRequest:
        if (self.breakdown == "groups") != bool(self.groups):
            raise ValueError("breakdown 'groups' and a non-empty 'groups' go together")
        return self


class SurvivalGroup(BaseModel):
    """One group of a survival question: a name and its cohort definition."""

    model_config = _Frozen
    name: str = Field(min_length=1, max_length=100)
    definition: CohortDefinition


class SurvivalRequest(BaseModel):
    """A survival question: one cohort (``definition``) or k ≥ 2 exclusive ``groups``."""

    model_config = _Frozen
    purpose: ResearchPurpose = Field(description="The research purpose (consent/ purpose model).")
    definition: CohortDefinition | None = Field(default=None, description="One cohort.")
    groups: list[SurvivalGroup] | None = Field(
        default=None, min_length=2, max_length=12, description="Two or more exclusive groups."
    )
    endpoint: Endpoint = Field(
        default="os_from_diagnosis",
        description="os_from_diagnosis; os_from_line (from the start of line N); "
        "ttnt_after_line (time to next treatment or death after the start of line N).",
    )
    line: int | None = Field(default=None, ge=1, le=MAX_LINES, description="N, for line ends.")
    interval_days: int = Field(default=INTERVAL_DAYS, ge=7, le=365)
    adjust_for: list[Adjustment] = Field(
        default_factory=list, description="Covariates of the two-group Cox model."
    )
    at_risk_every_days: int = Field(default=180, ge=30, le=3650)
    group_by: Grouping | None = Field(
        default=None,
        description="Split the one cohort ('definition') into groups: by the regimen of "
        "line 1, 2 or 3, by centre, sex or stage. Groups below the disclosure threshold are "
        "merged into 'other'; an 'other' below it into the largest group (named so).",
    )

    @model_validator(mode="after")
    def _one_shape(self) -> SurvivalRequest:
        if (self.definition is None) == (self.groups is None):
            raise ValueError("give either 'definition' (one cohort) or 'groups' (two or more)")
        if self.group_by is not None and self.definition is None:
            raise ValueError("'group_by' splits one cohort: give 'definition', not 'groups'")
        if self.groups and len({g.name for g in self.groups}) != len(self.groups):
            raise ValueError("group names must differ")
        if self.endpoint != "os_from_diagnosis" and self.line is None:
            raise ValueError(f"endpoint {self.endpoint!r} needs 'line' (1 = first line)")
        return self


async def _send(start: Callable[[], PendingCount]) -> Response:
    """Answer off the event loop (tens of milliseconds of numpy), then wait for the audit
    entry without blocking the loop."""
    pending = await run_in_threadpool(start)
    return Response(await pending.body_async(), media_type="application/json")


@router.post(
    "/cohorts/treatment-patterns",
    name="treatment_patterns",
    summary="Regimen pathways by line, regimen × line counts, time on treatment and to next",
    responses=_ERRORS,
)
async def post_treatment_patterns(
    body: TreatmentPatternsRequest,
    request: Request,
    user: ResearcherUser,
    session: SessionDep,
    control: ControlDep,
    audit_writer: AuditWriterDep,
) -> Response:
    """The cohort's treatment patterns (only consenting patients): pathways (sunburst tree
    and Sankey links), counts of regimen × line with an optional breakdown, and the median
    and IQR of time on treatment and time to next treatment per regimen; every number
    disclosure-controlled; audited before it is sent."""

    def start() -> PendingCount:
        engine = ready_engine(request)
        pending = treatment_patterns_query(
            session,
            user=user,
            engine=engine,
            store=journeys_for(engine),
            control=control,
            definition=body.definition,
            purpose=body.purpose,
            max_lines=body.max_lines,
            interval=body.interval_days,
            breakdown=body.breakdown,
            groups=body.groups,
            audit_writer=audit_writer,
        )
        session.close()
        return pending

    return await _send(start)


@router.post(
    "/cohorts/survival",
    name="survival",
    summary="Kaplan–Meier curves, log-rank test and Cox hazard ratio of cohorts",
    responses=_ERRORS,
)
async def post_survival(
    body: SurvivalRequest,
    request: Request,
    user: ResearcherUser,
    session: SessionDep,
    control: ControlDep,
    audit_writer: AuditWriterDep,
) -> Response:
    """Disclosed Kaplan–Meier curves (from rounded interval counts) with median, CI and an
    at-risk table per group; the log-rank test for two or more groups and a Cox hazard
    ratio (optionally adjusted for age, sex and stage) for two; audited before it is sent."""
    groups = (
        [(g.name, g.definition) for g in body.groups]
        if body.groups
        else [("cohort", body.definition)]
    )

    def start() -> PendingCount:
        engine = ready_engine(request)
        pending = survival_query(
            session,
            user=user,
            engine=engine,
            store=journeys_for(engine),
            control=control,
            groups=[(n, d) for n, d in groups if d is not None],
            purpose=body.purpose,
            endpoint=body.endpoint,
            line=body.line,
            interval=body.interval_days,
            adjust=body.adjust_for,
            at_risk_every=body.at_risk_every_days,
            group_by=body.group_by,
            audit_writer=audit_writer,
        )
        session.close()
        return pending

    return await _send(start)
