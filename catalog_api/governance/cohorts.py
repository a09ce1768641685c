"""Saved cohorts: each save is a new version pinned to the lake version it was counted on."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from catalog_api import audit
from catalog_api.core.config import ApiConfig
from catalog_api.governance.engine import (
    CohortEngine,
    centre_counts,
    disclosed,
    validate_definition,
)
from catalog_api.governance.schemas import CohortPublic, CohortVersionPublic, RecountPublic
from catalog_api.models import Cohort, CohortVersion, User
from harmonise.lake import Lake, LakeVersion


def disclosed_counts(
    engine: CohortEngine, definition: Any, version: LakeVersion, config: ApiConfig
) -> dict[str, Any]:
    """Counts per centre and in total, disclosure-controlled (no consent applied: no purpose)."""
    per_centre = centre_counts(engine, definition, version)
    kw = {"threshold": config.disclosure_threshold, "rounding": config.disclosure_rounding}
    return {
        "total": disclosed(sum(per_centre.values()), **kw),
        "centres": {c: disclosed(n, **kw) for c, n in sorted(per_centre.items())},
    }


def _add_version(
    session: Session,
    *,
    cohort: Cohort,
    definition_data: Any,
    lake: Lake,
    engine: CohortEngine,
    config: ApiConfig,
    user: User,
) -> CohortVersion:
    definition = validate_definition(definition_data)
    version = lake.current_version()
    counts = disclosed_counts(engine, definition, version, config)
    n = len(cohort.versions) + 1
    row = CohortVersion(
        cohort=cohort,
        version=n,
        definition=definition.model_dump(mode="json"),
        lake_version_id=version.id,
        lake_version_json=version.to_json(),
        counts=counts,
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor=user,
        action="cohort.saved",
        subject=f"cohort:{cohort.id}",
        details={
            "version": n,
            "lake_version": version.id,
            "definition_digest": definition.digest(),
            "counts": counts,
        },
    )
    return row


def save_cohort(
    session: Session,
    *,
    user: User,
    name: str,
    description: str,
    definition: Any,
    lake: Lake,
    engine: CohortEngine,
    config: ApiConfig,
) -> Cohort:
    """Create a cohort with its first version (validated and counted on the current lake)."""
    cohort = Cohort(owner_id=user.id, name=name, description=description)
    session.add(cohort)
    session.flush()
    _add_version(
        session,
        cohort=cohort,
        definition_data=definition,
        lake=lake,
        engine=engine,
        config=config,
        user=user,
    )
    return cohort


def add_version(
    session: Session,
    *,
    user: User,
    cohort: Cohort,
    definition: Any,
    lake: Lake,
    engine: CohortEngine,
    config: ApiConfig,
) -> CohortVersion:
    """Save a new version of ``cohort`` on the current lake."""
    return _add_version(
        session,
        cohort=cohort,
        definition_data=definition,
        lake=lake,
        engine=engine,
        config=config,
        user=user,
    )


def recount(
    session: Session,
    *,
    user: User,
    cohort: Cohort,
    version: CohortVersion,
    lake: Lake,
    engine: CohortEngine,
    config: ApiConfig,
) -> RecountPublic:
    """Count a saved version on the current lake (audited as a query)."""
    definition = validate_definition(version.definition)
    current = lake.current_version()
    counts = disclosed_counts(engine, definition, current, config)
    audit.record(
        session,
        actor=user,
        action="cohort.recounted",
        subject=f"cohort:{cohort.id}",
        details={"version": version.version, "lake_version": current.id, "counts": counts},
    )
    return RecountPublic(
        cohort_id=cohort.id,
        version=version.version,
        saved_lake_version_id=version.lake_version_id,
        current_lake_version_id=current.id,
        saved_counts=version.counts,
        current_counts=counts,
    )


def cohort_public(cohort: Cohort) -> CohortPublic:
    """The API view of a cohort."""
    return CohortPublic(
        id=cohort.id,
        name=cohort.name,
        description=cohort.description,
        owner=cohort.owner.username,
        created_at=cohort.created_at,
        versions=[CohortVersionPublic.model_validate(v) for v in cohort.versions],
    )
