"""A request's centre parts follow the disclosure rule of the count breakdowns (issue 20,
gap 2): a centre with one to four consenting patients is not listed by name to the
requester (its part would tell that it holds at least one where the count says ``<5``);
its reviewers and admins see it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from harmonise.lake import Lake
from tests.catalog_api.conftest import ApiUserFactory, make_network_lake
from tests.catalog_api.helpers import ok, submitted_request
from tests.catalog_api.web_fixtures import WebClient
from tests.harmonise.lakefixtures import make_submission


@pytest.fixture
def lake(tmp_path: Path, request: pytest.FixtureRequest) -> Lake:
    """The two-centre lake and a third centre, C3, with two BRAF V600E patients (marked
    "with C4": and a fourth, C4, with three)."""
    lk = make_network_lake(tmp_path / "lake")
    lk.commit(make_submission("D3", "C3", ["C3-P1", "C3-P2"]))
    if getattr(request, "param", None) == "with C4":
        lk.commit(make_submission("D4", "C4", ["C4-P1", "C4-P2", "C4-P3"]))
    return lk


def test_a_centre_below_the_threshold_is_not_named_in_the_requesters_parts(
    http: httpx.Client, api_user: ApiUserFactory
) -> None:
    alice = api_user("researcher", username="alice")
    board3 = api_user("reviewer", centres=["C3"], username="board-c3")
    admin = api_user("admin")
    req = submitted_request(http, alice.headers)
    # the requester: C1 and C2 by name; C3's two patients neither named nor merged into an
    # "other" (below the threshold it would tell one to four patients apart from none)
    assert {p["centre_id"]: p["patients"] for p in req["parts"]} == {"C1": "5", "C2": "5"}
    again = ok(http.get(f"/api/v1/access-requests/{req['id']}", headers=alice.headers))
    assert "C3" not in {p["centre_id"] for p in again["parts"]}
    trail = ok(http.get(f"/api/v1/access-requests/{req['id']}/audit", headers=alice.headers))
    text = str(trail)
    assert "C3" not in text, text
    submitted = next(e for e in trail if e["action"] == "access_request.submitted")
    assert set(submitted["details"]["parts"]) == {"C1", "C2"}
    # C3's board sees its own part, exactly; the admin every part
    seen = ok(http.get(f"/api/v1/access-requests/{req['id']}", headers=board3.headers))
    assert [(p["centre_id"], p["patients"]) for p in seen["parts"]] == [("C3", "<5")]
    board_trail = ok(http.get(f"/api/v1/access-requests/{req['id']}/audit", headers=board3.headers))
    sub = next(e for e in board_trail if e["action"] == "access_request.submitted")
    assert sub["details"]["parts"]["C3"] == 2
    everything = ok(http.get(f"/api/v1/access-requests/{req['id']}", headers=admin.headers))
    assert {p["centre_id"] for p in everything["parts"]} == {"C1", "C2", "C3"}


def _decide(
    http: httpx.Client, req: dict[str, Any], headers: dict[str, str], centre: str, what: str
) -> None:
    url = f"/api/v1/access-requests/{req['id']}/decisions"
    body = {"centre_id": centre, "decision": what, "comment": "ok"}
    ok(http.post(url, json=body, headers=headers), 201)


def test_the_decisions_list_does_not_name_a_centre_below_the_threshold(
    http: httpx.Client, api_user: ApiUserFactory
) -> None:
    alice = api_user("researcher", username="alice")
    board = api_user("reviewer", centres=["C1", "C2"], username="board-c12")
    board3 = api_user("reviewer", centres=["C3"], username="board-c3")
    admin = api_user("admin")
    req = submitted_request(http, alice.headers)
    _decide(http, req, board3.headers, "C3", "approve")
    _decide(http, req, board.headers, "C1", "approve")
    url = f"/api/v1/access-requests/{req['id']}/decisions"
    # the requester: C1's decision only; nothing names C3 or its board
    mine = ok(http.get(url, headers=alice.headers))
    assert [(d["centre_id"], d["reviewer"]) for d in mine] == [("C1", "board-c12")]
    # nor the trail (the decision's entry is about a part not shown to them)
    trail = ok(http.get(f"/api/v1/access-requests/{req['id']}/audit", headers=alice.headers))
    assert "C3" not in str(trail) and "board-c3" not in str(trail), trail
    # nor the web pages (the request page lists the decisions, the trail page the entries)
    web = WebClient(http).sign_in(alice.token)
    for page in (f"/web/requests/{req['id']}", f"/web/requests/{req['id']}/audit"):
        html = web.get(page)
        assert html.status_code == 200, page
        assert "C3" not in html.text and "board-c3" not in html.text, page
    # C3's board and the admin see it by name
    theirs = ok(http.get(url, headers=board3.headers))
    assert [(d["centre_id"], d["reviewer"]) for d in theirs] == [("C3", "board-c3")]
    assert {d["centre_id"] for d in ok(http.get(url, headers=admin.headers))} == {"C1", "C3"}


def test_the_requesters_state_does_not_reflect_a_hidden_part(
    http: httpx.Client, api_user: ApiUserFactory
) -> None:
    alice = api_user("researcher", username="alice")
    board = api_user("reviewer", centres=["C1", "C2"])
    board3 = api_user("reviewer", centres=["C3"])
    admin = api_user("admin")
    req = submitted_request(http, alice.headers)
    one = f"/api/v1/access-requests/{req['id']}"
    # only the hidden part is decided: for the requester nothing has happened yet
    _decide(http, req, board3.headers, "C3", "reject")
    assert ok(http.get(one, headers=alice.headers))["state"] == "submitted"
    assert ok(http.get(one, headers=admin.headers))["state"] == "under_review"
    # the parts shown are approved: "approved", not the "partially_approved" that would
    # tell the requester a centre they are not shown holds patients and said no
    _decide(http, req, board.headers, "C1", "approve")
    _decide(http, req, board.headers, "C2", "approve")
    assert ok(http.get(one, headers=alice.headers))["state"] == "approved"
    listed = ok(http.get("/api/v1/access-requests", headers=alice.headers))
    assert {r["id"]: r["state"] for r in listed}[req["id"]] == "approved"
    assert ok(http.get(one, headers=admin.headers))["state"] == "partially_approved"
    page = WebClient(http).sign_in(alice.token).get(f"/web/requests/{req['id']}")
    assert page.status_code == 200 and "partially" not in page.text.lower()


@pytest.mark.parametrize("lake", ["with C4"], indirect=True)
def test_decisions_on_merged_parts_are_shown_as_other(
    http: httpx.Client, api_user: ApiUserFactory
) -> None:
    alice = api_user("researcher", username="alice")
    board3 = api_user("reviewer", centres=["C3"], username="board-c3")
    req = submitted_request(http, alice.headers)
    # C3 (2) and C4 (3) are one "other" part of five: shown, its decisions as "other"
    assert {p["centre_id"]: p["patients"] for p in req["parts"]} == {
        "C1": "5",
        "C2": "5",
        "other": "5",
    }
    _decide(http, req, board3.headers, "C3", "approve")
    mine = ok(http.get(f"/api/v1/access-requests/{req['id']}/decisions", headers=alice.headers))
    assert [(d["centre_id"], d["reviewer"]) for d in mine] == [("other", "other")]
    trail = ok(http.get(f"/api/v1/access-requests/{req['id']}/audit", headers=alice.headers))
    decision = next(e for e in trail if e["action"] == "access_request.decision")
    assert (decision["actor"], decision["details"]["centre_id"]) == ("other", "other")
    assert "board-c3" not in str(trail) and "C3" not in str(trail)
