"""Saved cohorts: save, new versions, re-count on the current lake."""

from __future__ import annotations

from fastapi import APIRouter, Query, status

from catalog_api import crud
from catalog_api.api.deps import (
    ConfigDep,
    ControlDep,
    CurrentUser,
    EngineDep,
    IdPath,
    LakeDep,
    ResearcherUser,
    SessionDep,
)
from catalog_api.governance import cohorts, policy
from catalog_api.governance.schemas import (
    CohortCreate,
    CohortPublic,
    CohortVersionCreate,
    CohortVersionPublic,
    RecountPublic,
)
from catalog_api.models import Role

router = APIRouter(prefix="/cohorts", tags=["cohorts"])


@router.post("", response_model=CohortPublic, status_code=status.HTTP_201_CREATED)
def save_cohort(
    body: CohortCreate,
    session: SessionDep,
    user: ResearcherUser,
    lake: LakeDep,
    engine: EngineDep,
    config: ConfigDep,
    control: ControlDep,
) -> CohortPublic:
    """Save a cohort definition (version 1, pinned to the current lake version)."""
    cohort = cohorts.save_cohort(
        session,
        user=user,
        name=body.name,
        description=body.description,
        definition=body.definition,
        lake=lake,
        engine=engine,
        config=config,
        control=control,
    )
    session.commit()
    return cohorts.cohort_public(cohort)


@router.get("", response_model=list[CohortPublic])
def list_cohorts(
    session: SessionDep,
    user: CurrentUser,
    offset: int = Query(0, ge=0, le=1_000_000),
    limit: int = Query(100, ge=1, le=1000),
) -> list[CohortPublic]:
    """The caller's saved cohorts (every cohort for admins), newest first."""
    owner = None if user.has_role(Role.admin) else user
    rows = crud.list_cohorts(session, owner=owner, offset=offset, limit=limit)
    return [cohorts.cohort_public(c) for c in rows]


@router.get("/{cohort_id}", response_model=CohortPublic)
def read_cohort(cohort_id: IdPath, session: SessionDep, user: CurrentUser) -> CohortPublic:
    """One saved cohort with its versions."""
    cohort = crud.get_cohort(session, cohort_id=cohort_id)
    policy.ensure_cohort_owner(user, cohort)
    return cohorts.cohort_public(cohort)


@router.post(
    "/{cohort_id}/versions", response_model=CohortVersionPublic, status_code=status.HTTP_201_CREATED
)
def add_cohort_version(
    cohort_id: IdPath,
    body: CohortVersionCreate,
    session: SessionDep,
    user: ResearcherUser,
    lake: LakeDep,
    engine: EngineDep,
    config: ConfigDep,
    control: ControlDep,
) -> CohortVersionPublic:
    """Save a new version of a cohort, counted on the current lake."""
    cohort = crud.get_cohort(session, cohort_id=cohort_id)
    policy.ensure_cohort_writer(user, cohort)
    row = cohorts.add_version(
        session,
        user=user,
        cohort=cohort,
        definition=body.definition,
        lake=lake,
        engine=engine,
        config=config,
        control=control,
    )
    session.commit()
    return CohortVersionPublic.model_validate(row)


@router.post("/{cohort_id}/recount", response_model=RecountPublic)
def recount_cohort(
    cohort_id: IdPath,
    session: SessionDep,
    user: ResearcherUser,
    lake: LakeDep,
    engine: EngineDep,
    config: ConfigDep,
    control: ControlDep,
    version: int | None = Query(None, ge=1, le=1_000_000, description="Default: newest."),
) -> RecountPublic:
    """Count a saved version on the current lake (disclosure-controlled)."""
    cohort = crud.get_cohort(session, cohort_id=cohort_id)
    policy.ensure_cohort_writer(user, cohort)
    cv = crud.get_cohort_version(session, cohort=cohort, version=version)
    out = cohorts.recount(
        session,
        user=user,
        cohort=cohort,
        version=cv,
        lake=lake,
        engine=engine,
        config=config,
        control=control,
    )
    session.commit()
    return out
