"""The audit pages: the whole log with its chain verification (admins) and one request's
trail (its requester, reviewers and admins), each entry's details as labelled items."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from catalog_api import audit, crud
from catalog_api.api.deps import ConfigDep, IdPath, SessionDep
from catalog_api.governance import policy, requests
from catalog_api.web import forms
from catalog_api.web.describe import detail_items
from catalog_api.web.render import WebRoute, render
from catalog_api.web.session import AdminWeb, WebUser

router = APIRouter(route_class=WebRoute, include_in_schema=False)


def _coded_label(value: str) -> str:
    """A DUO term with its label; other values as they are."""
    if value.startswith("DUO:"):
        return f"{value} ({forms.duo_label(value)})"
    return value


def _entries(
    session: SessionDep,
    stmt: Any,
    details_of: Callable[[Any], dict[str, Any]] | None = None,
    actor_of: Callable[[Any], str | None] | None = None,
) -> list[dict[str, Any]]:
    """Audit entries for the page; ``details_of(entry)`` the details as the viewer may read
    them (exact, as stored, when not given: the admins' log), ``actor_of(entry)`` its actor
    as shown to them (None: the entry is left out)."""
    out = []
    for e in session.execute(stmt).scalars():
        actor = actor_of(e) if actor_of else e.actor
        if actor is None:
            continue
        details = details_of(e) if details_of else requests.trail_details(e.details_json)
        out.append(
            {
                "seq": e.seq,
                "at": e.at,
                "actor": actor,
                "action": e.action,
                "subject": e.subject,
                "details": details,
                "items": detail_items(details, _coded_label),
                "digest": e.digest,
            }
        )
    return out


@router.get("/web/audit")
def audit_page(
    request: Request,
    user: AdminWeb,
    session: SessionDep,
    after_seq: int = Query(0, ge=0, le=2_147_483_647),
    actor: str = Query("", max_length=256),
    action: str = Query("", max_length=64),
    subject: str = Query("", max_length=256),
) -> Response:
    """The whole audit log with its chain verification (admins)."""
    stmt = audit.query(
        subjects=[subject] if subject else None,
        actor=actor or None,
        action=action or None,
        after_seq=after_seq,
        limit=100,
    )
    entries = _entries(session, stmt)
    return render(
        request,
        "audit.html",
        {
            "entries": entries,
            "report": audit.verify(session),
            "filters": {"actor": actor, "action": action, "subject": subject},
            "next_seq": entries[-1]["seq"] if len(entries) == 100 else None,
            "trail_of": None,
        },
    )


@router.get("/web/requests/{request_id}/audit")
def request_trail(
    request: Request, request_id: IdPath, user: WebUser, session: SessionDep, config: ConfigDep
) -> Response:
    """The audit trail of one request and its exports (requester, its reviewers, admins),
    every count as the API's trail shows it to this user (``requests.trail_public``)."""
    req = crud.get_access_request(session, request_id=request_id)
    policy.ensure_can_read_trail(user, req)
    stmt = audit.query(subjects=requests.audit_subjects(req), limit=1000)
    return render(
        request,
        "audit.html",
        {
            "entries": _entries(
                session,
                stmt,
                lambda e: requests.trail_public(user, req, e.action, e.details_json, config),
                lambda e: requests.trail_actor(user, req, e.actor, e.details_json, config),
            ),
            "report": None,
            "filters": None,
            "next_seq": None,
            "trail_of": req,
        },
    )
