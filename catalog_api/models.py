"""The application state as SQLAlchemy 2 models (the schema is owned by the migrations).

Tables: users, API tokens, saved cohorts and their versions, access requests with one
part per contributing centre and the board members' decisions on each part, exports,
and the append-only, hash-chained audit log (with its one-row chain head).

These are table rows: routes never return them; they answer with the ``*Public`` pydantic
models of ``catalog_api.schemas``.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from catalog_api.db import utcnow


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timezone-aware UTC timestamp on every backend (SQLite stores naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        """Store UTC (naive on SQLite)."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(
        self, value: dt.datetime | None, dialect: Dialect
    ) -> dt.datetime | None:
        """Read back as aware UTC."""
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    """Declarative base of the application tables."""

    type_annotation_map: ClassVar[dict[Any, Any]] = {
        dt.datetime: UTCDateTime(),
        dict[str, Any]: JSON,
        list[str]: JSON,
    }


class Role(enum.StrEnum):
    """What a user may do (a user may hold several roles)."""

    researcher = "researcher"
    reviewer = "reviewer"
    steward = "steward"
    admin = "admin"


#: The centre scope that covers every centre of the network (network-wide board).
NETWORK = "*"


class CentreState(enum.StrEnum):
    """State of one centre's part of an access request."""

    pending = "pending"  # the request is a draft
    under_review = "under_review"
    approved = "approved"
    rejected = "rejected"
    changes_requested = "changes_requested"


class RequestState(enum.StrEnum):
    """Overall state of an access request."""

    draft = "draft"
    submitted = "submitted"
    under_review = "under_review"
    approved = "approved"  # every centre approved
    partially_approved = "partially_approved"  # some approved, the others rejected
    rejected = "rejected"
    changes_requested = "changes_requested"
    expired = "expired"
    revoked = "revoked"


class DecisionKind(enum.StrEnum):
    """What a board member decided on a centre's part."""

    approve = "approve"
    reject = "reject"
    request_changes = "request_changes"


class User(Base):
    """A person or service account; ``centres`` scopes a reviewer's or steward's remit."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(128), unique=True, index=True)
    full_name: Mapped[str] = mapped_column(String(256), default="")
    email: Mapped[str] = mapped_column(String(256), default="")
    roles: Mapped[list[str]] = mapped_column(default=list)
    centres: Mapped[list[str]] = mapped_column(default=list)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    #: ``issuer|subject`` for users provisioned from OpenID Connect tokens.
    external_id: Mapped[str | None] = mapped_column(String(512), unique=True, default=None)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    tokens: Mapped[list[ApiToken]] = relationship(back_populates="user")

    def has_role(self, *roles: Role | str) -> bool:
        """True if the user holds any of ``roles``."""
        return any(str(r) in self.roles for r in roles)

    def governs(self, centre_id: str) -> bool:
        """True if the user's scope covers ``centre_id`` (or the whole network)."""
        return NETWORK in self.centres or centre_id in self.centres


class ApiToken(Base):
    """An API token: only its SHA-256 is stored; the token is shown once at creation."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(128), default="")
    prefix: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime]
    revoked_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(default=None)

    user: Mapped[User] = relationship(back_populates="tokens")


class Cohort(Base):
    """A researcher's saved cohort; its definitions are the versions."""

    __tablename__ = "cohorts"

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(256))
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    owner: Mapped[User] = relationship()
    versions: Mapped[list[CohortVersion]] = relationship(
        back_populates="cohort", order_by="CohortVersion.version"
    )


class CohortVersion(Base):
    """One save of a cohort: its definition, pinned to the lake version it was counted on."""

    __tablename__ = "cohort_versions"
    __table_args__ = (UniqueConstraint("cohort_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    cohort_id: Mapped[int] = mapped_column(ForeignKey("cohorts.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    definition: Mapped[dict[str, Any]]
    lake_version_id: Mapped[str] = mapped_column(String(64))
    lake_version_json: Mapped[str] = mapped_column(Text)
    #: Disclosure-controlled counts per centre at save time (as shown to the researcher).
    counts: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    cohort: Mapped[Cohort] = relationship(back_populates="versions")


class AccessRequest(Base):
    """An application for access: cohort version + DUO-coded purpose + project."""

    __tablename__ = "access_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    requester_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    cohort_version_id: Mapped[int] = mapped_column(ForeignKey("cohort_versions.id"))
    purpose: Mapped[dict[str, Any]]
    title: Mapped[str] = mapped_column(String(512))
    description: Mapped[str] = mapped_column(Text)
    institution: Mapped[str] = mapped_column(String(512))
    duration_days: Mapped[int] = mapped_column(Integer)
    #: Requested fields as ``table.column``.
    fields: Mapped[list[str]]
    state: Mapped[str] = mapped_column(String(32), default=RequestState.draft, index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    submitted_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    expires_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    revoked_reason: Mapped[str] = mapped_column(Text, default="")

    requester: Mapped[User] = relationship()
    cohort_version: Mapped[CohortVersion] = relationship()
    parts: Mapped[list[CentrePart]] = relationship(
        back_populates="request", order_by="CentrePart.centre_id"
    )
    exports: Mapped[list[Export]] = relationship(back_populates="request")


class CentrePart(Base):
    """One contributing centre's part of a request, decided by that centre's board."""

    __tablename__ = "centre_parts"
    __table_args__ = (UniqueConstraint("request_id", "centre_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(
        ForeignKey("access_requests.id", ondelete="CASCADE"), index=True
    )
    centre_id: Mapped[str] = mapped_column(String(128), index=True)
    state: Mapped[str] = mapped_column(String(32), default=CentreState.pending)
    #: Patients of this centre in the cohort whose consent permits the purpose.
    patient_count: Mapped[int] = mapped_column(Integer, default=0)
    quorum: Mapped[int] = mapped_column(Integer, default=1)
    #: Review round: resubmitting after changes were requested starts a new round.
    round: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    #: Pre-approved by a GA4GH ControlledAccessGrants visa (its issuer and value).
    visa: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    decided_at: Mapped[dt.datetime | None] = mapped_column(default=None)

    request: Mapped[AccessRequest] = relationship(back_populates="parts")
    decisions: Mapped[list[Decision]] = relationship(back_populates="part", order_by="Decision.id")


class Decision(Base):
    """A board member's decision on one centre's part (one per member per round)."""

    __tablename__ = "decisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    part_id: Mapped[int] = mapped_column(ForeignKey("centre_parts.id", ondelete="CASCADE"))
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    decision: Mapped[str] = mapped_column(String(32))
    comment: Mapped[str] = mapped_column(Text, default="")
    #: Review round: a resubmission after ``changes_requested`` starts a new round.
    round: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    part: Mapped[CentrePart] = relationship(back_populates="decisions")
    reviewer: Mapped[User] = relationship()


class Export(Base):
    """An export of an approved request: Parquet files + manifest at a pinned lake version."""

    __tablename__ = "exports"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("access_requests.id"), index=True)
    state: Mapped[str] = mapped_column(String(32), default="pending")
    lake_version_id: Mapped[str] = mapped_column(String(64))
    lake_version_json: Mapped[str] = mapped_column(Text)
    centres: Mapped[list[str]] = mapped_column(default=list)
    directory: Mapped[str] = mapped_column(Text, default="")
    #: File name → {sha256, bytes, rows}; the manifest's own digest.
    files: Mapped[dict[str, Any]] = mapped_column(default=dict)
    manifest_sha256: Mapped[str] = mapped_column(String(64), default="")
    patient_count: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str] = mapped_column(Text, default="")
    #: Patients in the export whose consent was withdrawn after it was made.
    #: Exported patients as ``centre/patient`` (to find those withdrawn later).
    patients: Mapped[list[str]] = mapped_column(default=list, server_default="[]")
    withdrawn_patients: Mapped[list[str]] = mapped_column(default=list)
    withdrawal_checked_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(default=None)

    request: Mapped[AccessRequest] = relationship(back_populates="exports")


class AuditEntry(Base):
    """One entry of the append-only audit log; ``digest`` covers ``prev_digest``."""

    __tablename__ = "audit_entries"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    #: ISO-8601 UTC time, stored as text so that it hashes identically on every backend.
    at: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str] = mapped_column(String(256), index=True)
    action: Mapped[str] = mapped_column(String(64), index=True)
    subject: Mapped[str] = mapped_column(String(256), index=True)
    #: Canonical JSON of the details (sorted keys), exactly as hashed.
    details_json: Mapped[str] = mapped_column(Text)
    prev_digest: Mapped[str] = mapped_column(String(64))
    digest: Mapped[str] = mapped_column(String(64), unique=True)


class AuditHead(Base):
    """The chain head (one row): last sequence number and digest; locked while appending."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, default=0)
    digest: Mapped[str] = mapped_column(String(64))
    #: Entries up to this sequence number predate the keyed chain (plain SHA-256 digests).
    keyed_from: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
