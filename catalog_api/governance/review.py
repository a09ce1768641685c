"""What a board member sees when reviewing one centre's part of an access request: the
request's purpose against the consent of that centre's patients (disclosed, audited)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from catalog_api import audit
from catalog_api.core.config import ApiConfig
from catalog_api.governance.engine import (
    CohortEngine,
    centre_counts,
    disclosed,
    validate_definition,
    validate_purpose,
)
from catalog_api.models import AccessRequest, CentrePart, User
from harmonise.errors import HarmoniseError
from harmonise.lake import LakeVersion


@dataclass(frozen=True)
class ConsentCheck:
    """Purpose vs consent at one centre, every count disclosed on its own: the patients
    matching the cohort, those whose consent permits the purpose, those left out by
    consent; the purpose's DUO codes and each of the centre's datasets' DUO codes.
    ``error`` says why the counts are missing (the cohort's lake version is gone)."""

    purpose_codes: list[str]
    permitted: str
    error: str = ""
    matching: str | None = None
    excluded: str | None = None
    datasets: list[tuple[str, list[str]]] = field(default_factory=list)


def consent_check(
    session: Session,
    *,
    user: User,
    req: AccessRequest,
    part: CentrePart,
    engine: CohortEngine,
    datasets: Callable[[], Iterable[Mapping[str, Any]]],
    config: ApiConfig,
) -> ConsentCheck:
    """The consent check of ``part`` for ``user`` (the counts shown are audited like every
    other count); ``datasets`` lists the catalogue's datasets (``DatasetPublic`` dicts)."""
    cv = req.cohort_version
    purpose = validate_purpose(req.purpose)
    kw = {"threshold": config.disclosure_threshold, "rounding": config.disclosure_rounding}
    codes = purpose.duo_codes()
    permitted = disclosed(part.patient_count, **kw)
    try:
        matched = centre_counts(
            engine, validate_definition(cv.definition), LakeVersion.from_json(cv.lake_version_json)
        )
    except HarmoniseError as exc:
        error = f"the cohort's lake version can no longer be read ({exc})"
        return ConsentCheck(codes, permitted, error=error)
    n = matched.get(part.centre_id, 0)
    matching = disclosed(n, **kw)
    # a count shown to a user: audited like every other count
    audit.record(
        session,
        actor=user,
        action="review.consent_check",
        subject=f"access_request:{req.id}",
        details={
            "centre_id": part.centre_id,
            "lake_version": cv.lake_version_id,
            "matching": matching,
            "permitted": permitted,
        },
    )
    return ConsentCheck(
        codes,
        permitted,
        matching=matching,
        excluded=disclosed(max(0, n - part.patient_count), **kw),
        datasets=[
            (d["dataset_id"], list(d["duo_codes"]))
            for d in datasets()
            if d["centre_id"] == part.centre_id
        ],
    )
