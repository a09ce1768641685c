"""The whole audit log (admins only) and its verification."""

from __future__ import annotations

from fastapi import APIRouter, Query

from catalog_api import audit
from catalog_api.api.deps import AdminUser, SessionDep
from catalog_api.governance.requests import trail_details
from catalog_api.governance.schemas import AuditEntryPublic, AuditVerifyPublic

router = APIRouter(prefix="/audit", tags=["audit"])


@router.get("", response_model=list[AuditEntryPublic])
def read_audit_log(
    session: SessionDep,
    _admin: AdminUser,
    after_seq: int = Query(0, ge=0, le=2_147_483_647, description="Entries after this one."),
    limit: int = Query(100, ge=1, le=5000),
    actor: str | None = Query(None, max_length=256),
    action: str | None = Query(None, max_length=64, description="Action prefix, e.g. export."),
    subject: str | None = Query(None, max_length=256, description="e.g. access_request:3"),
) -> list[AuditEntryPublic]:
    """Audit entries, oldest first (page with ``after_seq``)."""
    stmt = audit.query(
        subjects=[subject] if subject else None,
        actor=actor,
        action=action,
        after_seq=after_seq,
        limit=limit,
    )
    return [
        AuditEntryPublic(
            seq=e.seq,
            at=e.at,
            actor=e.actor,
            action=e.action,
            subject=e.subject,
            details=trail_details(e.details_json),
            prev_digest=e.prev_digest,
            digest=e.digest,
        )
        for e in session.execute(stmt).scalars()
    ]


@router.get("/verify", response_model=AuditVerifyPublic)
def verify_audit_log(session: SessionDep, _admin: AdminUser) -> AuditVerifyPublic:
    """Re-walk the hash chain: edited or deleted entries are reported."""
    report = audit.verify(session)
    return AuditVerifyPublic(ok=report.ok, entries=report.entries, problems=report.problems)
