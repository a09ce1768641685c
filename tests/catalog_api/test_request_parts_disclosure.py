"""A request's centre parts follow the disclosure rule of the count breakdowns (issue 20,
gap 2): a centre with one to four consenting patients is not listed by name to the
requester (its part would tell that it holds at least one where the count says ``<5``);
its reviewers and admins see it."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from harmonise.lake import Lake
from tests.catalog_api.conftest import ApiUserFactory, make_network_lake
from tests.catalog_api.helpers import ok, submitted_request
from tests.harmonise.lakefixtures import make_submission


@pytest.fixture
def lake(tmp_path: Path) -> Lake:
    """The two-centre lake and a third centre, C3, with two BRAF V600E patients."""
    lk = make_network_lake(tmp_path / "lake")
    lk.commit(make_submission("D3", "C3", ["C3-P1", "C3-P2"]))
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
