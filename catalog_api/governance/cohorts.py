"""Saved cohorts: each save is a new version pinned to the lake version it was counted on."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from catalog_api import audit
from catalog_api.core.config import ApiConfig
from catalog_api.discovery.definition import CohortDefinition
from catalog_api.discovery.disclosure import DisclosureControl
from catalog_api.governance.engine import (
    CohortEngine,
    check_shown,
    patients_by_centre,
    validate_definition,
)
from catalog_api.governance.schemas import CohortPublic, CohortVersionPublic, RecountPublic
from catalog_api.models import Cohort, CohortVersion, User
from harmonise.lake import Lake, LakeVersion

#: How a saved cohort's counts are made: every matching patient, whatever their consent
#: (a cohort has no purpose; a request applies its purpose's consent when submitted).
CONSENT_BASIS = (
    "any consent: every matching patient; an access request counts only the patients whose "
    "consent permits its purpose"
)


def disclosed_counts(
    engine: CohortEngine,
    definition: CohortDefinition,
    version: LakeVersion,
    *,
    control: DisclosureControl,
    user: User,
    session: Session,
) -> dict[str, Any]:
    """Counts in total and per centre (no purpose: any consent), through the disclosure
    rule (centres below the threshold merged into ``other``, left out when that is below
    it too) and charged to ``user`` as a query: budget and differencing check on the
    total and on every centre shown as a number (:class:`DiscoveryError` if refused)."""
    per_centre = patients_by_centre(engine, definition, None, version)
    cells = control.breakdown({c: len(p) for c, p in per_centre.items()})
    t = control.threshold
    everyone = [p for ids in per_centre.values() for p in ids]
    shown: dict[str, list[str]] = {"any:count": everyone}
    for centre in cells:
        if centre != "other":
            shown[f"any:centre:{centre}"] = per_centre[centre]
    if "other" in cells:
        small = [p for ids in per_centre.values() if len(ids) < t for p in ids]
        shown["any:centre:other"] = small
    query = {"cohort": definition.model_dump(mode="json", exclude_none=True), "consent": "any"}
    check_shown(
        control,
        user=user,
        query=query,
        shown=shown,
        definition=definition,
        version=version,
        session=session,
    )
    return {
        "total": str(control.cell(len(everyone))),
        "centres": {c: str(v) for c, v in cells.items()},
        "consent": CONSENT_BASIS,
    }


def _counted(
    session: Session,
    *,
    definition_data: Any,
    lake: Lake,
    engine: CohortEngine,
    control: DisclosureControl,
    user: User,
) -> tuple[CohortDefinition, LakeVersion, dict[str, Any]]:
    """The definition validated and counted on the current lake (before any row is added:
    the check may refuse it)."""
    definition = validate_definition(definition_data)
    version = lake.current_version()
    counts = disclosed_counts(
        engine, definition, version, control=control, user=user, session=session
    )
    return definition, version, counts


def _add_version(
    session: Session,
    *,
    cohort: Cohort,
    counted: tuple[CohortDefinition, LakeVersion, dict[str, Any]],
    user: User,
) -> CohortVersion:
    definition, version, counts = counted
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
    control: DisclosureControl,
) -> Cohort:
    """Create a cohort with its first version (validated and counted on the current lake;
    the counts are a query of ``user``: see :func:`disclosed_counts`)."""
    counted = _counted(
        session, definition_data=definition, lake=lake, engine=engine, control=control, user=user
    )
    cohort = Cohort(owner_id=user.id, name=name, description=description)
    session.add(cohort)
    session.flush()
    _add_version(session, cohort=cohort, counted=counted, user=user)
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
    control: DisclosureControl,
) -> CohortVersion:
    """Save a new version of ``cohort`` on the current lake."""
    counted = _counted(
        session, definition_data=definition, lake=lake, engine=engine, control=control, user=user
    )
    return _add_version(session, cohort=cohort, counted=counted, user=user)


def recount(
    session: Session,
    *,
    user: User,
    cohort: Cohort,
    version: CohortVersion,
    lake: Lake,
    engine: CohortEngine,
    config: ApiConfig,
    control: DisclosureControl,
) -> RecountPublic:
    """Count a saved version on the current lake (audited, and charged as a query)."""
    definition = validate_definition(version.definition)
    current = lake.current_version()
    counts = disclosed_counts(
        engine, definition, current, control=control, user=user, session=session
    )
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
