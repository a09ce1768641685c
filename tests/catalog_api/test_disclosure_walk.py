"""The walk (issue 20, build item 1): every API route of the OpenAPI spec and every web page,
as each role, fails on any count the role may not see.

The routes are read from the app's OpenAPI spec and the web router, so a new route is
walked without editing this file; its path parameters are filled by name (``PARAMS``). A
route that takes a request body needs an example body in ``BODIES`` (the test names the
missing ones). A count the role may not see: in JSON, an integer under a key that counts
patients (``COUNT_KEY``) that is 1 to 4 or not a multiple of the rounding; in a page, a
number beside "patient(s)"; and anywhere about the request, the id of the centre whose
part is hidden from its requester (C3, two patients). Admins see exact counts (what the
audit must hold), a reviewer or steward those of their centre (in a part or a trail entry
of C1), the requester their own export's.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute

from harmonise.lake import Lake
from tests.catalog_api.conftest import C1_PATIENTS, ApiUserFactory, make_network_lake
from tests.catalog_api.helpers import BRAF, FIELDS, ok, submitted_request
from tests.catalog_api.web_fixtures import WebClient
from tests.harmonise.lakefixtures import make_submission

HEALTH = {"primary": "health"}
GRU = {"primary": "general"}
ROUNDING = 5
#: JSON keys whose integers count patients (or specimens, variants, events of patients)
COUNT_KEY = re.compile(
    r"^(count|patients|covered|excluded|excluded_by_consent|withdrawn_patients|matching|"
    r"permitted|new|numTotalResults|total|at_risk|events|censored|n|specimens|variants|"
    r"by_centre|by_tumour_type|parts)$|_count$|_patients$"
)
#: the web forms whose answers are counts, with a form each (the pages are walked by GET)
WEB_FORMS = {
    "/web/cohorts/count": {"gene": "BRAF", "protein_change": "V600E", "purpose_primary": "health"},
    "/web/cohorts/{cohort_id}/outcomes": {"purpose_primary": "general"},
}
#: the centre hidden from the requester (two patients: neither named nor merged)
HIDDEN = "C3"


@pytest.fixture
def lake(tmp_path: Path) -> Lake:
    """The two-centre lake and C3 with two BRAF V600E patients."""
    lk = make_network_lake(tmp_path / "lake")
    lk.commit(make_submission("D3", "C3", ["C3-P1", "C3-P2"]))
    return lk


def _bodies(ids: dict[str, Any]) -> dict[tuple[str, str], Any]:
    """An example body per route that takes one (None: the route takes none)."""
    beacon = {"meta": {"apiVersion": "v2.0"}, "query": {"filters": [{"id": "oncotree:MEL"}]}}
    request = {
        "cohort_id": ids["cohort_id"],
        "purpose": HEALTH,
        "title": "walk",
        "description": "d",
        "institution": "i",
        "duration_days": 1,
        "fields": FIELDS,
    }
    return {
        ("POST", "/api/v1/cohorts/count"): {"definition": BRAF, "purpose": HEALTH},
        ("POST", "/api/v1/cohorts/treatment-patterns"): {
            "definition": BRAF,
            "purpose": GRU,
            "breakdown": "centre",
        },
        ("POST", "/api/v1/cohorts/survival"): {"definition": BRAF, "purpose": GRU},
        ("POST", "/api/v1/cohorts"): {"name": "walk", "definition": BRAF},
        ("POST", "/api/v1/cohorts/{cohort_id}/versions"): {"definition": BRAF},
        ("POST", "/api/v1/cohorts/{cohort_id}/recount"): None,
        ("POST", "/api/v1/access-requests"): request,
        ("PATCH", "/api/v1/access-requests/{request_id}"): {"title": "walked"},
        ("POST", "/api/v1/access-requests/{request_id}/submit"): None,
        ("POST", "/api/v1/access-requests/{request_id}/revoke"): {"reason": "walk"},
        ("POST", "/api/v1/access-requests/{request_id}/decisions"): {
            "centre_id": "C2",
            "decision": "approve",
        },
        ("POST", "/api/v1/access-requests/{request_id}/exports"): None,
        ("POST", "/api/v1/exports/{export_id}/links"): None,
        ("POST", "/api/v1/users"): {"username": "walker", "roles": ["researcher"]},
        ("PATCH", "/api/v1/users/{user_id}"): {"full_name": "x"},
        ("POST", "/api/v1/users/me/tokens"): {"name": "walk"},
        ("DELETE", "/api/v1/users/me/tokens/{token_id}"): None,
        ("POST", "/api/beacon/v2/individuals"): beacon,
        ("POST", "/api/beacon/v2/biosamples"): beacon,
        ("POST", "/api/beacon/v2/g_variants"): beacon,
    }


#: keys whose value maps a category (a centre, a tumour type) to its count
MAPS = ("parts", "by_centre", "by_tumour_type")


def _leaks(value: Any, key: str, exact: set[str], where: str, centre: str = "") -> Iterator[str]:
    """The counts in a JSON ``value`` that are not disclosed forms (see the module doc);
    ``exact``: the centres whose counts this caller may see exactly."""
    if isinstance(value, dict):
        if key in MAPS:  # {category: count}
            for k, v in value.items():
                inner = centre if key == "by_tumour_type" else k
                yield from _leaks(v, "count", exact, f"{where}.{k}", inner)
            return
        here = value.get("centre_id")
        here = here if isinstance(here, str) else centre
        listed = value.get("centres")
        if isinstance(listed, list) and listed and set(listed) <= exact:
            here = listed[0]  # about centres all exact to this caller (an export of theirs)
        for k, v in value.items():
            yield from _leaks(v, k, exact, f"{where}.{k}", here)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _leaks(
                v, key if not isinstance(v, dict) else "", exact, f"{where}[{i}]", centre
            )
    elif isinstance(value, int) and not isinstance(value, bool) and COUNT_KEY.search(key):
        if centre in exact:
            return
        if 0 < value < ROUNDING or value % ROUNDING:
            yield f"{where} = {value}"


def _page_leaks(html: str) -> list[str]:
    text = re.sub(r"<[^>]+>", " ", html)
    found = re.findall(r"\b(\d+)\s+(?:consenting\s+)?patients?\b", text)
    found += re.findall(r"\bpatients?\s*:?\s+(\d+)\b", text, flags=re.IGNORECASE)
    return [n for n in found if 0 < int(n) < ROUNDING or int(n) % ROUNDING]


def _api_routes(routes: Any) -> Iterator[APIRoute]:
    """Every APIRoute of ``routes``, into the included routers (the web pages' router
    includes the audit and withdrawal pages' own)."""
    for r in routes:
        inner = getattr(r, "original_router", None)
        if inner is not None:
            yield from _api_routes(inner.routes)
        elif isinstance(r, APIRoute):
            yield r


def _fill(path: str, ids: dict[str, Any]) -> str:
    names = re.findall(r"{(\w+)}", path)
    missing = [n for n in names if n not in ids]
    assert not missing, (
        f"{path}: no value for the path parameter(s) {missing}: add it to the walk's params"
    )
    return path.format(**ids)


def test_every_route_and_page_shows_each_role_only_the_counts_it_may_see(
    app: FastAPI, http: httpx.Client, api_user: ApiUserFactory
) -> None:
    alice = api_user("researcher", username="alice")
    board_c1 = api_user("reviewer", centres=["C1"], username="board-c1")
    board_c3 = api_user("reviewer", centres=["C3"], username="board-c3")
    req = submitted_request(http, alice.headers)
    decisions = f"/api/v1/access-requests/{req['id']}/decisions"
    approve = {"centre_id": "C1", "decision": "approve"}
    ok(http.post(decisions, json=approve, headers=board_c1.headers), 201)
    # the export holds C1's patients only; the hidden C3 approves afterwards
    export = ok(
        http.post(f"/api/v1/access-requests/{req['id']}/exports", headers=alice.headers), 201
    )
    approve = {"centre_id": "C3", "decision": "approve"}
    ok(http.post(decisions, json=approve, headers=board_c3.headers), 201)
    ok(
        http.post(
            "/api/v1/cohorts/count",
            json={"definition": BRAF, "purpose": HEALTH},
            headers=alice.headers,
        )
    )
    params = {
        "cohort_id": req["cohort_id"],
        "request_id": req["id"],
        "export_id": export["id"],
        "name": "manifest.json",
        "user_id": alice.id,
        "token_id": 10**6,  # nobody's: the walk revokes no token
        "centre_id": "C1",
        "dataset_id": "D1",
        "withdrawal_id": "none-recorded",
    }
    bodies = _bodies(params)
    spec = app.openapi()["paths"]
    api: list[tuple[str, str]] = [
        (m.upper(), p)
        for p, ops in spec.items()
        for m in ops
        if m in ("get", "post", "patch", "put", "delete")
    ]
    no_body = [
        (m, p) for m, p in api if "requestBody" in spec[p][m.lower()] and (m, p) not in bodies
    ]
    assert not no_body, f"routes without an example body (add them to BODIES): {no_body}"
    pages = sorted(
        r.path for r in _api_routes(app.routes) if r.path.startswith("/web") and "GET" in r.methods
    )
    assert {"/web/admin/withdrawals", "/web/requests/{request_id}"} <= set(pages), pages
    roles: list[tuple[str, Any, set[str]]] = [
        ("anonymous", None, set()),
        ("requester", alice, set()),
        ("other researcher", api_user("researcher", username="bob"), set()),
        ("reviewer C1", board_c1, {"C1"}),
        ("steward C1", api_user("steward", centres=["C1"], username="steward-c1"), {"C1"}),
    ]
    # exact numbers a page may show a role: the requester their export's patients, C1's
    # boards C1's (its dataset's patients, its part's)
    c1 = {len(C1_PATIENTS), export["patients"]}  # C1's dataset; the export holds C1 only
    allowed = {"requester": {export["patients"]}, "reviewer C1": c1, "steward C1": c1}
    # GETs first, then the routes that count (POST), the mutating ones last
    order = sorted(api, key=lambda mp: (mp[0] != "GET", mp[0] == "DELETE", mp[1]))
    problems: list[str] = []
    walked = 0
    for role, user, exact in roles:
        if user is not None:  # the pages first: the API walk below exports again
            web = WebClient(http).sign_in(user.token)
            for page in pages:
                url = _fill(page, params)
                r = web.get(url)
                walked += 1
                assert r.status_code < 500, f"{role} GET {url}: {r.status_code}"
                if r.status_code != 200 or (user is alice and "/exports" in page):
                    continue
                problems += [
                    f"{role} page {url}: '{n} patients'"
                    for n in _page_leaks(r.text)
                    if int(n) not in allowed.get(role, set())
                ]
                if (
                    ("request" in page or "review" in page)
                    and HIDDEN not in exact
                    and HIDDEN in r.text
                ):
                    problems.append(f"{role} page {url}: names the hidden centre {HIDDEN}")
            # the forms that answer with counts (the builder's, the outcomes view's)
            for page, form in WEB_FORMS.items():
                url = _fill(page, params)
                r = web.post(url, {**form, "csrf_token": web.csrf()})
                walked += 1
                assert r.status_code < 500, f"{role} POST {url}: {r.status_code}"
                if user is alice:  # answered (a researcher's forms), so the check is not void
                    assert r.status_code == 200 and "patient" in r.text, (url, r.text[-500:])
                problems += [f"{role} form {url}: '{n} patients'" for n in _page_leaks(r.text)]
        headers = user.headers if user else {}
        for method, path in order:
            url = _fill(path, params)
            r = http.request(method, url, json=bodies.get((method, path)), headers=headers)
            walked += 1
            assert r.status_code < 500, f"{role} {method} {url}: {r.status_code} {r.text[:200]}"
            if not r.headers.get("content-type", "").startswith("application/json"):
                continue
            own_export = user is alice and "/exports" in path
            if own_export:
                continue
            body = r.json()
            if path.endswith(("/datasets", "/cohorts")) and "beacon" in path:
                body.get("responseSummary", {}).pop("numTotalResults")  # collections, no patient
            if user is alice and path.endswith("/audit") and isinstance(body, list):
                # the requester's own export: its patients are theirs to read
                body = [e for e in body if not e["action"].startswith("export.")]
            problems += [f"{role} {method} {url}: {x}" for x in _leaks(body, "", exact, "$")]
            about_request = "request" in path or "review" in path or "exports" in path
            if about_request and HIDDEN not in exact and HIDDEN in r.text:
                problems.append(f"{role} {method} {url}: names the hidden centre {HIDDEN}")
    assert not problems, "\n".join(problems)
    assert walked > 2 * len(api)
