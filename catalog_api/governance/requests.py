"""Access requests: draft → submitted → under review → per-centre decisions → overall state.

On submission the cohort's patients are matched against their consent for the stated
purpose (``consent.matching.permits``) and the request is split into one
:class:`CentrePart` per contributing centre (a centre with no consenting patient
contributes nothing). Each centre's board decides for its own part; a part is approved
when ``quorum`` reviewers of the current round approved it, rejected on any rejection,
and sent back on any request for changes. The overall state follows from the parts.
The lake version of the cohort is pinned (``request-<id>``) so that exports can be
re-run at that version; revocation releases the pin.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog_api import audit, crud
from catalog_api.auth.oidc import VisaGrant
from catalog_api.core.config import ApiConfig
from catalog_api.db import utcnow
from catalog_api.discovery.disclosure import DisclosureControl, sees_exact_counts
from catalog_api.governance import policy
from catalog_api.governance.engine import (
    CohortEngine,
    check_shown,
    disclosed,
    patients_by_centre,
    validate_definition,
    validate_purpose,
)
from catalog_api.governance.errors import Conflict, Invalid
from catalog_api.governance.schemas import (
    AccessRequestCreate,
    AccessRequestPublic,
    AccessRequestUpdate,
    CentrePartPublic,
    DecisionCreate,
    DecisionPublic,
    ReviewItem,
)
from catalog_api.models import (
    NETWORK,
    AccessRequest,
    CentrePart,
    CentreState,
    Decision,
    DecisionKind,
    RequestState,
    User,
)
from harmonise.errors import HarmoniseError
from harmonise.lake import Lake, LakeVersion
from harmonise.model import DATA_TABLES, TABLES

EDITABLE = (RequestState.draft, RequestState.changes_requested)
CLOSED = (RequestState.revoked, RequestState.expired)


def pin_name(request_id: int) -> str:
    """The lake pin that keeps a request's lake version readable."""
    return f"request-{request_id}"


def quorum_for(config: ApiConfig, centre_id: str) -> int:
    """Approvals needed for ``centre_id`` (``extra['quorum:<centre>']``, else ``config.quorum``)."""
    raw = config.extra.get(f"quorum:{centre_id}")
    return max(1, int(raw)) if raw else max(1, config.quorum)


def validate_fields(fields: Sequence[str]) -> list[str]:
    """Requested ``table.column`` fields, checked against the lake model; sorted, unique."""
    bad: list[str] = []
    for f in fields:
        table, _, column = f.partition(".")
        if table not in DATA_TABLES or column not in TABLES[table].column_names:
            bad.append(f)
    if bad:
        raise Invalid(
            f"unknown fields {', '.join(repr(b) for b in bad)}: give table.column with a table "
            f"of {', '.join(DATA_TABLES)} and one of its columns (e.g. variants.protein_change)"
        )
    return sorted(set(fields))


# -- state --------------------------------------------------------------------------------


def part_approvals(part: CentrePart) -> int:
    """Approvals in the part's current round."""
    return sum(
        1 for d in part.decisions if d.round == part.round and d.decision == DecisionKind.approve
    )


def _part_state(part: CentrePart) -> CentreState:
    current = [d for d in part.decisions if d.round == part.round]
    if any(d.decision == DecisionKind.reject for d in current):
        return CentreState.rejected
    if any(d.decision == DecisionKind.request_changes for d in current):
        return CentreState.changes_requested
    if part.visa is not None or part_approvals(part) >= part.quorum:
        return CentreState.approved
    return CentreState.under_review


def overall_state(
    req: AccessRequest,
    now: dt.datetime | None = None,
    groups: Sequence[Sequence[CentrePart]] | None = None,
) -> RequestState:
    """The request's state from its parts, expiry and revocation (``groups``: from these
    groups of parts instead, each one part with their merged state, as a user who sees
    some merged into ``other`` is shown them: :func:`shown_state`)."""
    now = now or utcnow()
    if req.revoked_at is not None:
        return RequestState.revoked
    if req.expires_at is not None and now >= req.expires_at:
        return RequestState.expired
    if req.submitted_at is None:
        return RequestState.draft
    if groups is None:
        groups = [[p] for p in req.parts]
    states = [_merged_state(g) for g in groups]
    if any(s == CentreState.changes_requested for s in states):
        return RequestState.changes_requested
    final = (CentreState.approved, CentreState.rejected)
    if states and all(s in final for s in states):
        approved = sum(s == CentreState.approved for s in states)
        if approved == len(states):
            return RequestState.approved
        return RequestState.partially_approved if approved else RequestState.rejected
    started = any(s in final for s in states) or any(
        d.round == p.round for g in groups for p in g for d in p.decisions
    )
    return RequestState.under_review if started else RequestState.submitted


def refresh(session: Session, req: AccessRequest) -> RequestState:
    """Store the request's current state (records expiry in the audit once)."""
    state = overall_state(req)
    if state != req.state:
        if state == RequestState.expired:
            audit.record(
                session,
                actor="system",
                action="access_request.expired",
                subject=f"access_request:{req.id}",
                details={"expires_at": req.expires_at.isoformat() if req.expires_at else None},
            )
        req.state = state.value
    return state


def approved_centres(req: AccessRequest) -> list[str]:
    """Centres whose part is approved (empty once the request is revoked or expired)."""
    if overall_state(req) in CLOSED:
        return []
    return sorted(p.centre_id for p in req.parts if p.state == CentreState.approved)


# -- lifecycle ----------------------------------------------------------------------------


def create(session: Session, *, user: User, body: AccessRequestCreate) -> AccessRequest:
    """A draft request for the caller's saved cohort."""
    cohort = crud.get_cohort(session, cohort_id=body.cohort_id)
    policy.ensure_cohort_writer(user, cohort)
    version = crud.get_cohort_version(session, cohort=cohort, version=body.cohort_version)
    purpose = validate_purpose(body.purpose)
    req = AccessRequest(
        requester_id=user.id,
        cohort_version_id=version.id,
        purpose=purpose.model_dump(mode="json"),
        title=body.title,
        description=body.description,
        institution=body.institution,
        duration_days=body.duration_days,
        fields=validate_fields(body.fields),
        state=RequestState.draft.value,
    )
    session.add(req)
    session.flush()
    audit.record(
        session,
        actor=user,
        action="access_request.created",
        subject=f"access_request:{req.id}",
        details={
            "cohort_id": cohort.id,
            "cohort_version": version.version,
            "purpose": purpose.duo_codes(),
            "fields": req.fields,
        },
    )
    return req


def update(
    session: Session, *, user: User, req: AccessRequest, body: AccessRequestUpdate
) -> AccessRequest:
    """Edit a draft, or a request whose board asked for changes."""
    policy.ensure_requester(user, req)
    state = refresh(session, req)
    if state not in EDITABLE:
        raise Conflict(
            f"access request {req.id} is {state.value}; only a draft or a request with changes "
            "requested can be edited"
        )
    changes = body.model_dump(exclude_unset=True)
    changes = {k: v for k, v in changes.items() if v is not None}
    if "purpose" in changes:
        req.purpose = validate_purpose(changes["purpose"]).model_dump(mode="json")
    if "fields" in changes:
        req.fields = validate_fields(changes["fields"])
    if "cohort_version" in changes:
        cohort = req.cohort_version.cohort
        req.cohort_version = crud.get_cohort_version(
            session, cohort=cohort, version=changes["cohort_version"]
        )
    for key in ("title", "description", "institution", "duration_days"):
        if key in changes:
            setattr(req, key, changes[key])
    session.flush()
    audit.record(
        session,
        actor=user,
        action="access_request.updated",
        subject=f"access_request:{req.id}",
        details={"changed": sorted(changes)},
    )
    return req


def submit(
    session: Session,
    *,
    user: User,
    req: AccessRequest,
    lake: Lake,
    engine: CohortEngine,
    config: ApiConfig,
    control: DisclosureControl,
    grants: Sequence[VisaGrant] = (),
) -> AccessRequest:
    """Check consent, split into centre parts, pin the lake version, start a review round.

    The parts' patient counts are shown to the requester (disclosed): the submission is
    charged to their query budget and its numbers go through the differencing check
    (:class:`DiscoveryError` if refused: nothing is submitted)."""
    policy.ensure_requester(user, req)
    state = refresh(session, req)
    if state not in EDITABLE:
        raise Conflict(f"access request {req.id} is {state.value}; it cannot be submitted again")
    cv = req.cohort_version
    definition = validate_definition(cv.definition)
    purpose = validate_purpose(req.purpose)
    version = LakeVersion.from_json(cv.lake_version_json)
    try:
        lake.pin(version, pin_name(req.id))
        per_centre = patients_by_centre(engine, definition, purpose, version)
    except HarmoniseError as exc:
        raise Conflict(
            f"the cohort's lake version {cv.lake_version_id} can no longer be read ({exc}); "
            "save the cohort again on the current lake and request that version"
        ) from exc
    if not per_centre:
        raise Conflict(
            "no patient of the cohort has a consent that permits this purpose "
            f"({', '.join(purpose.duo_codes())}); change the purpose or the cohort"
        )
    shown: dict[str, list[str]] = {"count": [p for ids in per_centre.values() for p in ids]}
    shown.update({f"centre:{c}": ids for c, ids in per_centre.items()})
    query = {
        "request_parts": definition.model_dump(mode="json", exclude_none=True),
        "purpose": purpose.model_dump(mode="json", exclude_defaults=True),
    }
    check_shown(
        control,
        user=user,
        query=query,
        shown=shown,
        definition=definition,
        version=version,
        session=session,
    )
    existing = {p.centre_id: p for p in req.parts}
    for centre, gone in list(existing.items()):
        if centre not in per_centre:
            req.parts.remove(gone)
            session.delete(gone)
    by_visa = {g.centre_id: g for g in grants}
    now = utcnow()
    for centre, patients in per_centre.items():
        part = existing.get(centre)
        if part is None:
            part = CentrePart(centre_id=centre, round=1, decisions=[])
            req.parts.append(part)
        else:
            part.round += 1
        part.patient_count = len(patients)
        part.quorum = quorum_for(config, centre)
        part.decided_at = None
        grant = by_visa.get(centre)
        part.visa = (
            {
                "issuer": grant.issuer,
                "value": grant.value,
                "asserted": grant.asserted,
                "expires": grant.expires,
            }
            if grant
            else None
        )
        part.state = _part_state(part).value
        if part.state == CentreState.approved:
            part.decided_at = now
    req.submitted_at = now
    if any(p.state == CentreState.approved for p in req.parts) and req.expires_at is None:
        req.expires_at = now + dt.timedelta(days=req.duration_days)
    session.flush()
    refresh(session, req)
    audit.record(
        session,
        actor=user,
        action="access_request.submitted",
        subject=f"access_request:{req.id}",
        details={
            "lake_version": cv.lake_version_id,
            "purpose": purpose.duo_codes(),
            "parts": {c: len(p) for c, p in sorted(per_centre.items())},
            "preapproved_by_visa": sorted(by_visa.keys() & per_centre.keys()),
        },
    )
    return req


def decide(session: Session, *, user: User, req: AccessRequest, body: DecisionCreate) -> Decision:
    """Record a board member's decision on one centre's part."""
    part = next((p for p in req.parts if p.centre_id == body.centre_id), None)
    if part is None:
        policy.ensure_can_view_request(user, req)
        raise Invalid(
            f"centre {body.centre_id} has no part in access request {req.id}; its centres: "
            f"{', '.join(p.centre_id for p in req.parts) or 'none (not submitted)'}"
        )
    policy.ensure_can_decide(user, req, part)
    state = refresh(session, req)
    if state in CLOSED or state in EDITABLE:
        raise Conflict(f"access request {req.id} is {state.value}; there is nothing to decide")
    if part.state != CentreState.under_review:
        raise Conflict(
            f"centre {part.centre_id}'s part of access request {req.id} is already {part.state}"
        )
    if any(d.reviewer_id == user.id and d.round == part.round for d in part.decisions):
        raise Conflict(
            f"you already decided on centre {part.centre_id}'s part of access request {req.id} "
            "in this round"
        )
    decision = Decision(
        part=part,
        reviewer_id=user.id,
        decision=body.decision.value,
        comment=body.comment,
        round=part.round,
    )
    session.add(decision)
    session.flush()
    part.state = _part_state(part).value
    now = utcnow()
    if part.state != CentreState.under_review:
        part.decided_at = now
    if part.state == CentreState.approved and req.expires_at is None:
        req.expires_at = now + dt.timedelta(days=req.duration_days)
    audit.record(
        session,
        actor=user,
        action="access_request.decision",
        subject=f"access_request:{req.id}",
        details={
            "centre_id": part.centre_id,
            "decision": body.decision.value,
            "round": part.round,
            "comment": body.comment,
            "part_state": part.state,
        },
    )
    refresh(session, req)
    return decision


def revoke(
    session: Session, *, user: User, req: AccessRequest, reason: str, lake: Lake
) -> AccessRequest:
    """Revoke a request: its exports can no longer be downloaded; the lake pin is released."""
    policy.ensure_can_revoke(user, req)
    if req.revoked_at is not None:
        raise Conflict(f"access request {req.id} is already revoked")
    req.revoked_at = utcnow()
    req.revoked_reason = reason
    refresh(session, req)
    audit.record(
        session,
        actor=user,
        action="access_request.revoked",
        subject=f"access_request:{req.id}",
        details={"reason": reason},
    )
    # the pin is a retention hint; revocation must not fail on it
    with contextlib.suppress(HarmoniseError):
        lake.unpin(pin_name(req.id))
    return req


# -- views ------------------------------------------------------------------------------


def request_public(req: AccessRequest, user: User, config: ApiConfig) -> AccessRequestPublic:
    """The API view of ``req`` for ``user`` (only the parts they may see)."""
    kw = {"threshold": config.disclosure_threshold, "rounding": config.disclosure_rounding}
    named, merged, merged_shown = shown_parts(req, user, config.disclosure_threshold)
    parts = [
        CentrePartPublic(
            centre_id=p.centre_id,
            state=CentreState(p.state),
            patients=disclosed(p.patient_count, **kw),
            quorum=p.quorum,
            approvals=part_approvals(p),
            preapproved_by_visa=p.visa is not None,
            decided_at=p.decided_at,
        )
        for p in named
    ]
    if merged_shown:
        parts.append(_merged_part(merged, kw))
    cv = req.cohort_version
    return AccessRequestPublic(
        id=req.id,
        requester=req.requester.username,
        cohort_id=cv.cohort_id,
        cohort_version=cv.version,
        lake_version_id=cv.lake_version_id,
        state=shown_state(req, user, config.disclosure_threshold),
        title=req.title,
        description=req.description,
        institution=req.institution,
        duration_days=req.duration_days,
        purpose=req.purpose,
        fields=req.fields,
        created_at=req.created_at,
        submitted_at=req.submitted_at,
        expires_at=req.expires_at,
        revoked_at=req.revoked_at,
        parts=parts,
    )


def _merged_state(parts: Sequence[CentrePart]) -> CentreState:
    """One state for merged parts: theirs when they agree; otherwise changes requested if
    any board asked for them, under review while any part is, else approved (some of the
    merged centres approved, the others rejected: their patients are the approved ones)."""
    states = {CentreState(p.state) for p in parts}
    if len(states) == 1:
        return states.pop()
    for s in (CentreState.changes_requested, CentreState.under_review, CentreState.pending):
        if s in states:
            return s
    return CentreState.approved


def _merged_part(parts: Sequence[CentrePart], kw: dict[str, int]) -> CentrePartPublic:
    """The centres below the threshold as one part named :data:`OTHER`."""
    decided = [p.decided_at for p in parts if p.decided_at is not None]
    return CentrePartPublic(
        centre_id=OTHER,
        state=_merged_state(parts),
        patients=disclosed(sum(p.patient_count for p in parts), **kw),
        quorum=max(p.quorum for p in parts),
        approvals=min(part_approvals(p) for p in parts),
        preapproved_by_visa=all(p.visa is not None for p in parts),
        decided_at=max(decided) if len(decided) == len(parts) else None,
    )


def shown_parts(
    req: AccessRequest, user: User, threshold: int
) -> tuple[list[CentrePart], list[CentrePart], bool]:
    """The parts of ``req`` that ``user`` may see, as they are shown to them: ``(the parts
    listed by name, the small parts merged into one``  :data:`OTHER` ``part, whether that
    part is shown)``: it is left out when its patients are below the threshold too (the
    rule of the count answer's breakdowns, :func:`_small_centres`)."""
    visible = policy.visible_parts(user, req)
    small = _small_centres(user, req, threshold)
    named = [p for p in visible if p.centre_id not in small]
    merged = [p for p in visible if p.centre_id in small]
    return named, merged, bool(merged) and sum(p.patient_count for p in merged) >= threshold


def shown_state(req: AccessRequest, user: User, threshold: int) -> RequestState:
    """The request's state as ``user`` is shown it: from the parts they are shown
    (:func:`shown_parts`), so that it says nothing of a part hidden from them (a
    ``partially_approved`` would tell a requester that a centre they are not shown holds
    patients and rejected). When no part is shown by name, all of them count as one
    (the request as a whole: it tells nothing of any centre). Admins and reviewers: the
    request's own state."""
    if req.requester_id != user.id or policy.is_admin(user):
        return overall_state(req)
    named, merged, merged_shown = shown_parts(req, user, threshold)
    if not merged:
        return overall_state(req)
    groups = [[p] for p in named]
    if merged_shown or not named:
        groups.append(merged)
    return overall_state(req, groups=groups)


def decisions_public(req: AccessRequest, user: User, config: ApiConfig) -> list[DecisionPublic]:
    """Decisions on the parts ``user`` may see, oldest first, as the parts are shown to
    them (:func:`shown_parts`): those on the small parts merged into :data:`OTHER` name
    neither the centre nor the reviewer (``other``), and are left out with that part."""
    named, merged, merged_shown = shown_parts(req, user, config.disclosure_threshold)
    out = [
        DecisionPublic(
            id=d.id,
            centre_id=p.centre_id if hidden is None else hidden,
            reviewer=d.reviewer.username if hidden is None else hidden,
            decision=DecisionKind(d.decision),
            comment=d.comment,
            round=d.round,
            created_at=d.created_at,
        )
        for parts, hidden in ((named, None), (merged if merged_shown else [], OTHER))
        for p in parts
        for d in p.decisions
    ]
    return sorted(out, key=lambda d: d.id)


def trail_actor(
    user: User, req: AccessRequest, actor: str, details_json: str, config: ApiConfig
) -> str | None:
    """Who an entry of ``req``'s trail shows ``user`` as its actor: for an entry about one
    small centre's part merged into :data:`OTHER` (:func:`shown_parts`), ``other`` (a
    reviewer's name would name the centre), and None, the entry left out, when that part
    is not shown at all (as the decisions list leaves its decisions out)."""
    centre = trail_details(details_json).get("centre_id")
    if not isinstance(centre, str):
        return actor
    _named, merged, merged_shown = shown_parts(req, user, config.disclosure_threshold)
    if centre not in {p.centre_id for p in merged}:
        return actor
    return OTHER if merged_shown else None


def review_queue(session: Session, *, user: User, config: ApiConfig) -> list[ReviewItem]:
    """Parts of centres the reviewer governs that wait for their decision (not their own)."""
    stmt = (
        select(CentrePart)
        .join(AccessRequest)
        .where(CentrePart.state == CentreState.under_review.value)
        .where(AccessRequest.requester_id != user.id)
        .where(AccessRequest.revoked_at.is_(None))
        .order_by(AccessRequest.submitted_at, CentrePart.id)
    )
    if NETWORK not in user.centres:
        stmt = stmt.where(CentrePart.centre_id.in_(user.centres))
    kw = {"threshold": config.disclosure_threshold, "rounding": config.disclosure_rounding}
    items: list[ReviewItem] = []
    for part in session.execute(stmt).scalars():
        req = part.request
        if overall_state(req) in CLOSED:
            continue
        if any(d.reviewer_id == user.id and d.round == part.round for d in part.decisions):
            continue
        items.append(
            ReviewItem(
                request_id=req.id,
                title=req.title,
                requester=req.requester.username,
                institution=req.institution,
                purpose=req.purpose,
                centre_id=part.centre_id,
                patients=disclosed(part.patient_count, **kw),
                approvals=part_approvals(part),
                quorum=part.quorum,
                round=part.round,
                submitted_at=req.submitted_at,
            )
        )
    return items


def audit_subjects(req: AccessRequest) -> list[str]:
    """The audit subjects of a request's trail (the request and its exports)."""
    return [f"access_request:{req.id}", *(f"export:{e.id}" for e in req.exports)]


def is_reviewer_of(user: User, req: AccessRequest) -> bool:
    """True if ``user`` reviews a centre of ``req`` (see :func:`policy.is_reviewer_of`)."""
    return policy.is_reviewer_of(user, req)


def trail_details(details_json: str) -> dict[str, Any]:
    """Parse an entry's stored details (exact, as the audit holds them: admins only; others
    read :func:`trail_public`)."""
    value = json.loads(details_json)
    return value if isinstance(value, dict) else {"value": value}


#: Detail keys of a request's trail whose integers count patients.
COUNT_KEYS = frozenset(
    {"patients", "withdrawn_patients", "new", "matching", "permitted", "excluded", "count"}
)


def trail_public(
    user: User, req: AccessRequest, action: str, details_json: str, config: ApiConfig
) -> dict[str, Any]:
    """An entry of ``req``'s trail as ``user`` may read it: admins the exact details (what
    the audit must hold); everyone else every patient count through the disclosure rule,
    except the counts of centres they govern (reviewers) and of an export of their own
    approved request (its patients are theirs to read)."""
    details = trail_details(details_json)
    if policy.is_admin(user):
        return details
    kw = {"threshold": config.disclosure_threshold, "rounding": config.disclosure_rounding}
    own_export = action.startswith("export.") and req.requester_id == user.id

    small = _small_centres(user, req, config.disclosure_threshold)

    def exact(centres: Sequence[str]) -> bool:
        return own_export or sees_exact_counts(user, centres)

    def walk(value: Any, key: str, centres: Sequence[str]) -> Any:
        if isinstance(value, dict):
            if key == "parts":  # centre → patients
                return _parts_shown(value, small, kw, lambda c: walk(value[c], "patients", [c]))
            return {k: walk(v, k, centres) for k, v in value.items()}
        if key == "centre_id" and isinstance(value, str) and value in small:
            return OTHER
        if isinstance(value, list):
            return [walk(v, key, centres) for v in value]
        if isinstance(value, int) and not isinstance(value, bool) and key in COUNT_KEYS:
            return value if exact(centres) else disclosed(value, **kw)
        return value

    scope = details.get("centres") or ([details["centre_id"]] if "centre_id" in details else [])
    out = {k: walk(v, k, scope) for k, v in details.items()}
    if isinstance(out.get("centres"), list) and small:
        out["centres"] = sorted({OTHER if c in small else c for c in out["centres"]})
    return out


#: The name of the merged part of the centres whose counts are below the threshold.
OTHER = "other"


def _small_centres(user: User, req: AccessRequest, threshold: int) -> set[str]:
    """The centres of ``req`` whose part ``user`` sees merged into :data:`OTHER`: fewer
    consenting patients than the threshold and not theirs to see exactly (the rule of
    the count answer's breakdowns: a part listed by name would tell that the centre holds
    at least one consenting patient where its count says ``<5``)."""
    return {
        p.centre_id
        for p in req.parts
        if p.patient_count < threshold and not sees_exact_counts(user, [p.centre_id])
    }


def _parts_shown(
    parts: dict[str, Any], small: set[str], kw: dict[str, int], shown: Any
) -> dict[str, Any]:
    """A trail entry's ``{centre: patients}`` as :func:`request_public` lists the parts:
    the small centres merged into ``other`` (left out when that is below the threshold)."""
    out = {c: shown(c) for c in parts if c not in small}
    merged = sum(n for c, n in parts.items() if c in small and isinstance(n, int))
    if merged >= kw["threshold"]:
        out[OTHER] = disclosed(merged, **kw)
    return out
