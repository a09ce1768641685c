"""Access requests, their per-centre decisions and their audit trail."""

from __future__ import annotations

from fastapi import APIRouter, Query, status

from catalog_api import audit, crud
from catalog_api.api.deps import (
    ConfigDep,
    ControlDep,
    CurrentUser,
    EngineDep,
    IdPath,
    LakeDep,
    ResearcherUser,
    ReviewerUser,
    SessionDep,
    VisaGrants,
)
from catalog_api.governance import exports, policy, requests
from catalog_api.governance.schemas import (
    AccessRequestCreate,
    AccessRequestPublic,
    AccessRequestUpdate,
    AuditEntryPublic,
    DecisionCreate,
    DecisionPublic,
    ExportPublic,
    RevokeBody,
)

router = APIRouter(prefix="/access-requests", tags=["access-requests"])


@router.post("", response_model=AccessRequestPublic, status_code=status.HTTP_201_CREATED)
def create_access_request(
    body: AccessRequestCreate, session: SessionDep, user: ResearcherUser, config: ConfigDep
) -> AccessRequestPublic:
    """Start a request (a draft) for one of the caller's saved cohort versions."""
    req = requests.create(session, user=user, body=body)
    session.commit()
    return requests.request_public(req, user, config)


@router.get("", response_model=list[AccessRequestPublic])
def list_access_requests(
    session: SessionDep,
    user: CurrentUser,
    config: ConfigDep,
    offset: int = Query(0, ge=0, le=1_000_000),
    limit: int = Query(100, ge=1, le=1000),
) -> list[AccessRequestPublic]:
    """Requests the caller may see (own; their centres' for reviewers; all for admins)."""
    rows = crud.list_access_requests(session, user=user, offset=offset, limit=limit)
    return [requests.request_public(r, user, config) for r in rows]


@router.get("/{request_id}", response_model=AccessRequestPublic)
def read_access_request(
    request_id: IdPath, session: SessionDep, user: CurrentUser, config: ConfigDep
) -> AccessRequestPublic:
    """One request with the centre parts the caller may see."""
    req = crud.get_access_request(session, request_id=request_id)
    policy.ensure_can_view_request(user, req)
    requests.refresh(session, req)
    session.commit()
    return requests.request_public(req, user, config)


@router.patch("/{request_id}", response_model=AccessRequestPublic)
def update_access_request(
    request_id: IdPath,
    body: AccessRequestUpdate,
    session: SessionDep,
    user: ResearcherUser,
    config: ConfigDep,
) -> AccessRequestPublic:
    """Edit a draft, or a request whose board asked for changes."""
    req = crud.get_access_request(session, request_id=request_id)
    requests.update(session, user=user, req=req, body=body)
    session.commit()
    return requests.request_public(req, user, config)


@router.post("/{request_id}/submit", response_model=AccessRequestPublic)
def submit_access_request(
    request_id: IdPath,
    session: SessionDep,
    user: ResearcherUser,
    lake: LakeDep,
    engine: EngineDep,
    config: ConfigDep,
    control: ControlDep,
    grants: VisaGrants,
) -> AccessRequestPublic:
    """Check consent, split the request per contributing centre and start the review (the
    parts' counts are charged to the requester's budget and checked for differencing)."""
    req = crud.get_access_request(session, request_id=request_id)
    requests.submit(
        session,
        user=user,
        req=req,
        lake=lake,
        engine=engine,
        config=config,
        control=control,
        grants=grants,
    )
    session.commit()
    return requests.request_public(req, user, config)


@router.post("/{request_id}/revoke", response_model=AccessRequestPublic)
def revoke_access_request(
    request_id: IdPath,
    body: RevokeBody,
    session: SessionDep,
    user: CurrentUser,
    lake: LakeDep,
    config: ConfigDep,
) -> AccessRequestPublic:
    """Revoke a request (requester or admin): downloads of its exports stop at once."""
    req = crud.get_access_request(session, request_id=request_id)
    requests.revoke(session, user=user, req=req, reason=body.reason, lake=lake)
    session.commit()
    return requests.request_public(req, user, config)


@router.get("/{request_id}/decisions", response_model=list[DecisionPublic])
def list_decisions(
    request_id: IdPath, session: SessionDep, user: CurrentUser, config: ConfigDep
) -> list[DecisionPublic]:
    """Decisions on the parts the caller may see."""
    req = crud.get_access_request(session, request_id=request_id)
    policy.ensure_can_view_request(user, req)
    return requests.decisions_public(req, user, config)


@router.post(
    "/{request_id}/decisions", response_model=DecisionPublic, status_code=status.HTTP_201_CREATED
)
def decide(
    request_id: IdPath,
    body: DecisionCreate,
    session: SessionDep,
    user: ReviewerUser,
    config: ConfigDep,
) -> DecisionPublic:
    """Approve, reject or ask for changes on one centre's part (its reviewers only)."""
    req = crud.get_access_request(session, request_id=request_id)
    decision = requests.decide(session, user=user, req=req, body=body)
    session.commit()
    return next(d for d in requests.decisions_public(req, user, config) if d.id == decision.id)


@router.post(
    "/{request_id}/exports", response_model=ExportPublic, status_code=status.HTTP_201_CREATED
)
def create_export(
    request_id: IdPath,
    session: SessionDep,
    user: ResearcherUser,
    lake: LakeDep,
    engine: EngineDep,
    config: ConfigDep,
) -> ExportPublic:
    """Export the approved centres' consenting patients at the cohort's lake version."""
    req = crud.get_access_request(session, request_id=request_id)
    export = exports.run_export(
        session, user=user, req=req, lake=lake, engine=engine, config=config
    )
    session.commit()
    return exports.export_public(export, user, config)


@router.get("/{request_id}/audit", response_model=list[AuditEntryPublic])
def request_trail(
    request_id: IdPath,
    session: SessionDep,
    user: CurrentUser,
    config: ConfigDep,
    after_seq: int = Query(0, ge=0, le=2_147_483_647),
    limit: int = Query(500, ge=1, le=5000),
) -> list[AuditEntryPublic]:
    """The audit trail of a request and its exports (requester, its reviewers, admins);
    patient counts disclosure-controlled except for admins and a reviewer's own centres."""
    req = crud.get_access_request(session, request_id=request_id)
    policy.ensure_can_read_trail(user, req)
    stmt = audit.query(subjects=requests.audit_subjects(req), after_seq=after_seq, limit=limit)
    out = []
    for e in session.execute(stmt).scalars():
        actor = requests.trail_actor(user, req, e.actor, e.details_json, config)
        if actor is None:  # about a part not shown to the user
            continue
        out.append(
            AuditEntryPublic(
                seq=e.seq,
                at=e.at,
                actor=actor,
                action=e.action,
                subject=e.subject,
                details=requests.trail_public(user, req, e.action, e.details_json, config),
                prev_digest=e.prev_digest,
                digest=e.digest,
            )
        )
    return out
