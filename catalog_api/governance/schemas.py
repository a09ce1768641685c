"""Cohorts, access requests, decisions and exports as the API shows them.

Per resource a Base / Create / Update / Public split; the ``*Public`` models are built by
functions in the services from table rows (routes never return rows).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from catalog_api.models import CentreState, DecisionKind, RequestState

Definition = dict[str, Any]


# -- cohorts ------------------------------------------------------------------------------


class CohortBase(BaseModel):
    """Fields shared by the cohort models."""

    name: str = Field(min_length=1, max_length=256)
    description: str = Field(default="", max_length=10_000)


class CohortCreate(CohortBase):
    """A new saved cohort (its first version)."""

    definition: Definition = Field(
        description="A cohort definition (see POST /api/v1/cohorts/count), e.g. "
        '{"format_version": 1, "criteria": {"type": "variant", "gene": "BRAF", '
        '"protein_change": "V600E"}}'
    )


class CohortVersionCreate(BaseModel):
    """A new version of a saved cohort."""

    definition: Definition


class CohortVersionPublic(BaseModel):
    """One saved version: its definition, lake version and the counts shown at save time."""

    model_config = ConfigDict(from_attributes=True)

    version: int
    definition: Definition
    lake_version_id: str
    counts: dict[str, Any]
    created_at: dt.datetime


class CohortPublic(CohortBase):
    """A saved cohort with its versions (oldest first)."""

    id: int
    owner: str
    created_at: dt.datetime
    versions: list[CohortVersionPublic]


class RecountPublic(BaseModel):
    """A cohort version re-counted on the current lake (disclosure-controlled)."""

    cohort_id: int
    version: int
    saved_lake_version_id: str
    current_lake_version_id: str
    saved_counts: dict[str, Any]
    current_counts: dict[str, Any]


# -- access requests -------------------------------------------------------------------


class AccessRequestBase(BaseModel):
    """The project and what it asks for."""

    title: str = Field(min_length=3, max_length=512)
    description: str = Field(min_length=1, max_length=20_000)
    institution: str = Field(min_length=1, max_length=512)
    duration_days: int = Field(ge=1, le=3660, description="How long access is needed (days).")
    purpose: dict[str, Any] = Field(
        description="Research purpose (consent.purpose), e.g. "
        '{"primary": "disease", "disease_codes": ["LUAD"]}'
    )
    fields: list[str] = Field(
        min_length=1,
        max_length=500,
        description="Requested fields as table.column, e.g. variants.protein_change.",
    )


class AccessRequestCreate(AccessRequestBase):
    """A new request (a draft) for a saved cohort version (default: its newest)."""

    cohort_id: int = Field(ge=1, le=2_147_483_647)
    cohort_version: int | None = Field(default=None, ge=1, le=1_000_000)


class AccessRequestUpdate(BaseModel):
    """Changes to a draft or to a request whose board asked for changes."""

    title: str | None = Field(default=None, min_length=3, max_length=512)
    description: str | None = Field(default=None, min_length=1, max_length=20_000)
    institution: str | None = Field(default=None, min_length=1, max_length=512)
    duration_days: int | None = Field(default=None, ge=1, le=3660)
    purpose: dict[str, Any] | None = None
    fields: list[str] | None = Field(default=None, min_length=1, max_length=500)
    cohort_version: int | None = Field(default=None, ge=1, le=1_000_000)


class DecisionPublic(BaseModel):
    """One board member's decision."""

    id: int
    centre_id: str
    reviewer: str
    decision: DecisionKind
    comment: str
    round: int
    created_at: dt.datetime


class CentrePartPublic(BaseModel):
    """One centre's part of a request and its state."""

    centre_id: str
    state: CentreState
    patients: str = Field(description="Consenting patients, disclosure-controlled.")
    quorum: int
    approvals: int
    preapproved_by_visa: bool
    decided_at: dt.datetime | None


class AccessRequestPublic(AccessRequestBase):
    """A request with its overall state and the centre parts the caller may see."""

    id: int
    requester: str
    cohort_id: int
    cohort_version: int
    lake_version_id: str
    state: RequestState
    created_at: dt.datetime
    submitted_at: dt.datetime | None
    expires_at: dt.datetime | None
    revoked_at: dt.datetime | None
    parts: list[CentrePartPublic]


class DecisionCreate(BaseModel):
    """A decision on one centre's part."""

    centre_id: str = Field(min_length=1, max_length=128)
    decision: DecisionKind
    comment: str = Field(default="", max_length=10_000)


class RevokeBody(BaseModel):
    """Why a request is revoked."""

    reason: str = Field(min_length=1, max_length=2_000)


class ReviewItem(BaseModel):
    """A centre part waiting for the caller's decision."""

    request_id: int
    title: str
    requester: str
    institution: str
    purpose: dict[str, Any]
    centre_id: str
    patients: str
    approvals: int
    quorum: int
    round: int
    submitted_at: dt.datetime | None


# -- exports ------------------------------------------------------------------------------


class ExportPublic(BaseModel):
    """An export and its files."""

    id: int
    request_id: int
    state: str
    lake_version_id: str
    centres: list[str]
    files: dict[str, Any]
    manifest_sha256: str
    #: exact for the requester and admins; through the disclosure rule for a board that
    #: governs only some of the exported centres
    patients: int | str
    downloads_enabled: bool
    affected_by_withdrawal: bool
    withdrawn_patients: int | str
    created_at: dt.datetime
    finished_at: dt.datetime | None


class DownloadLink(BaseModel):
    """An expiring download link (for the requester's own use, with their credentials)."""

    export_id: int
    url: str
    expires_at: dt.datetime


# -- audit --------------------------------------------------------------------------------


class AuditEntryPublic(BaseModel):
    """One audit log entry."""

    model_config = ConfigDict(from_attributes=True)

    seq: int
    at: str
    actor: str
    action: str
    subject: str
    details: dict[str, Any]
    prev_digest: str
    digest: str


class AuditVerifyPublic(BaseModel):
    """Outcome of verifying the chain."""

    ok: bool
    entries: int
    problems: list[str]
