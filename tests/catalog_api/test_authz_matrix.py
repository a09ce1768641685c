"""The authorisation matrix: every route × every role, as an outsider to the objects.

The objects (cohort, request split into C1 and C2, export of C2) belong to ``owner``; the
caller under test holds one role (reviewers and stewards of centre C1). The owner's own
success paths are covered by the lifecycle tests.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.catalog_api.conftest import ApiUserFactory
from tests.catalog_api.helpers import FIELDS, ok, submitted_request

ROLES = ["anonymous", "researcher", "reviewer", "steward", "admin"]


def _row(r: int, v: int, s: int, a: int) -> dict[str, int]:
    return {"researcher": r, "reviewer": v, "steward": s, "admin": a}


# name, method, path template, body, expected status per role (anonymous: always 401)
MATRIX: list[tuple[str, str, str, Any, dict[str, int]]] = [
    ("me", "GET", "/users/me", None, _row(200, 200, 200, 200)),
    ("list users", "GET", "/users", None, _row(403, 403, 403, 200)),
    (
        "create user",
        "POST",
        "/users",
        {"username": "{new}", "roles": ["researcher"]},
        _row(403, 403, 403, 201),
    ),
    ("read user", "GET", "/users/{owner_id}", None, _row(403, 403, 403, 200)),
    ("update user", "PATCH", "/users/{owner_id}", {"full_name": "x"}, _row(403, 403, 403, 200)),
    ("my tokens", "GET", "/users/me/tokens", None, _row(200, 200, 200, 200)),
    ("new token", "POST", "/users/me/tokens", {"name": "t"}, _row(201, 201, 201, 201)),
    (
        "save cohort",
        "POST",
        "/cohorts",
        {"name": "c", "definition": {"format_version": 1}},
        _row(201, 403, 403, 403),
    ),
    ("list cohorts", "GET", "/cohorts", None, _row(200, 200, 200, 200)),
    ("read cohort", "GET", "/cohorts/{cohort_id}", None, _row(404, 404, 404, 200)),
    (
        "cohort version",
        "POST",
        "/cohorts/{cohort_id}/versions",
        {"definition": {"format_version": 1}},
        _row(404, 403, 403, 403),
    ),
    ("recount", "POST", "/cohorts/{cohort_id}/recount", None, _row(404, 403, 403, 403)),
    (
        "create request",
        "POST",
        "/access-requests",
        {
            "cohort_id": "{cohort_id}",
            "purpose": {"primary": "health"},
            "title": "ttt",
            "description": "d",
            "institution": "i",
            "duration_days": 1,
            "fields": FIELDS,
        },
        _row(404, 403, 403, 403),
    ),
    ("list requests", "GET", "/access-requests", None, _row(200, 200, 200, 200)),
    ("read request", "GET", "/access-requests/{request_id}", None, _row(404, 200, 200, 200)),
    (
        "update request",
        "PATCH",
        "/access-requests/{request_id}",
        {"title": "new title"},
        _row(404, 403, 403, 403),
    ),
    ("submit", "POST", "/access-requests/{request_id}/submit", None, _row(404, 403, 403, 403)),
    ("decisions", "GET", "/access-requests/{request_id}/decisions", None, _row(404, 200, 200, 200)),
    (
        "decide C1",
        "POST",
        "/access-requests/{request_id}/decisions",
        {"centre_id": "C1", "decision": "approve"},
        _row(403, 201, 403, 403),
    ),
    ("export", "POST", "/access-requests/{request_id}/exports", None, _row(404, 403, 403, 403)),
    ("request trail", "GET", "/access-requests/{request_id}/audit", None, _row(404, 200, 404, 200)),
    ("review queue", "GET", "/reviews", None, _row(403, 200, 403, 403)),
    ("list exports", "GET", "/exports", None, _row(200, 200, 200, 200)),
    ("read export", "GET", "/exports/{export_id}", None, _row(404, 404, 404, 200)),
    ("link", "POST", "/exports/{export_id}/links", None, _row(404, 404, 404, 403)),
    (
        "download",
        "GET",
        "/exports/{export_id}/files/manifest.json?token={token}",
        None,
        _row(403, 403, 403, 403),
    ),
    ("audit log", "GET", "/audit", None, _row(403, 403, 403, 200)),
    ("audit verify", "GET", "/audit/verify", None, _row(403, 403, 403, 200)),
    (
        "revoke",
        "POST",
        "/access-requests/{request_id}/revoke",
        {"reason": "r"},
        _row(404, 403, 403, 200),
    ),
]


def _fill(value: Any, ids: dict[str, Any]) -> Any:
    if isinstance(value, str):
        if value in ("{cohort_id}",):
            return ids["cohort_id"]
        return value.format(**ids)
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    return value


@pytest.mark.parametrize("role", ROLES)
def test_every_route_for_role(role: str, http: httpx.Client, api_user: ApiUserFactory) -> None:
    owner = api_user("researcher", username="owner")
    board_c2 = api_user("reviewer", centres=["C2"], username="board-c2")
    req = submitted_request(http, owner.headers)
    url = f"/api/v1/access-requests/{req['id']}/decisions"
    ok(
        http.post(url, json={"centre_id": "C2", "decision": "approve"}, headers=board_c2.headers),
        201,
    )
    export = ok(
        http.post(f"/api/v1/access-requests/{req['id']}/exports", headers=owner.headers), 201
    )
    link = ok(http.post(f"/api/v1/exports/{export['id']}/links", headers=owner.headers))
    ids = {
        "owner_id": owner.id,
        "cohort_id": req["cohort_id"],
        "request_id": req["id"],
        "export_id": export["id"],
        "token": link["url"].split("token=")[1],
        "new": "newbie",
    }

    headers: dict[str, str] = {}
    if role != "anonymous":
        centres = ["C1"] if role in ("reviewer", "steward") else []
        headers = api_user(role, centres=centres).headers
    wrong = []
    for name, method, path, body, expected in MATRIX:
        want = 401 if role == "anonymous" else expected[role]
        r = http.request(
            method, "/api/v1" + _fill(path, ids), json=_fill(body, ids), headers=headers
        )
        if r.status_code != want:
            wrong.append(f"{name}: {r.status_code} (want {want}) {r.text[:120]}")
        elif r.status_code >= 400:
            assert r.json()["detail"], name
    assert wrong == []
