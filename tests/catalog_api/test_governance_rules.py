"""Governance rules: self-approval, quorum, changes requested, withdrawal marks, link expiry."""

from __future__ import annotations

import dataclasses
import datetime as dt
import time

import httpx
import pytest

from catalog_api.core.config import ApiConfig
from consent.withdrawal import Withdrawal, record_withdrawal
from tests.catalog_api.conftest import HEALTH, ApiUserFactory
from tests.catalog_api.helpers import BRAF, FIELDS, ok, submitted_request


@pytest.fixture
def api_config(api_config: ApiConfig) -> ApiConfig:
    """Centre C1 needs two approvals; download links last one second."""
    extra = {"quorum:C1": "2", "download_link_seconds": "1"}
    return dataclasses.replace(api_config, extra=extra)


def test_reviewer_cannot_decide_on_own_request(
    http: httpx.Client, api_user: ApiUserFactory
) -> None:
    both = api_user(["researcher", "reviewer"], centres=["*"])
    req = submitted_request(http, both.headers)
    r = http.post(
        f"/api/v1/access-requests/{req['id']}/decisions",
        json={"centre_id": "C2", "decision": "approve"},
        headers=both.headers,
    )
    assert r.status_code == 403
    assert "may not decide on their own request" in r.json()["detail"]
    assert http.get("/api/v1/reviews", headers=both.headers).json() == []


def test_quorum_changes_requested_and_new_round(
    http: httpx.Client, api_user: ApiUserFactory
) -> None:
    alice = api_user("researcher")
    a, b = api_user("reviewer", centres=["C1"]), api_user("reviewer", centres=["*"])
    req = submitted_request(http, alice.headers)
    c1 = {p["centre_id"]: p for p in req["parts"]}["C1"]
    assert c1["quorum"] == 2
    url = f"/api/v1/access-requests/{req['id']}/decisions"
    ok(http.post(url, json={"centre_id": "C1", "decision": "approve"}, headers=a.headers), 201)
    got = ok(http.get(f"/api/v1/access-requests/{req['id']}", headers=alice.headers))
    assert {p["centre_id"]: p["state"] for p in got["parts"]}["C1"] == "under_review"
    ok(
        http.post(
            url,
            json={"centre_id": "C2", "decision": "request_changes", "comment": "narrow the fields"},
            headers=b.headers,
        ),
        201,
    )
    got = ok(http.get(f"/api/v1/access-requests/{req['id']}", headers=alice.headers))
    assert got["state"] == "changes_requested"
    r = http.post(url, json={"centre_id": "C1", "decision": "approve"}, headers=b.headers)
    assert r.status_code == 409 and "changes_requested" in r.json()["detail"]
    ok(
        http.patch(
            f"/api/v1/access-requests/{req['id']}",
            json={"fields": ["patients.sex"]},
            headers=alice.headers,
        )
    )
    got = ok(http.post(f"/api/v1/access-requests/{req['id']}/submit", headers=alice.headers))
    assert got["state"] == "submitted" and got["fields"] == ["patients.sex"]
    queue = ok(http.get("/api/v1/reviews", headers=a.headers))
    assert [(i["centre_id"], i["round"]) for i in queue] == [("C1", 2)]
    for reviewer in (a, b):
        ok(
            http.post(
                url, json={"centre_id": "C1", "decision": "approve"}, headers=reviewer.headers
            ),
            201,
        )
    got = ok(http.get(f"/api/v1/access-requests/{req['id']}", headers=alice.headers))
    assert {p["centre_id"]: p["state"] for p in got["parts"]}["C1"] == "approved"
    assert got["state"] == "under_review"  # C2 still to decide


def test_withdrawal_after_export_marks_it_and_links_expire(
    http: httpx.Client, api_user: ApiUserFactory, api_config: ApiConfig
) -> None:
    alice = api_user("researcher")
    board = api_user("reviewer", centres=["C2"])
    req = submitted_request(http, alice.headers)
    ok(
        http.post(
            f"/api/v1/access-requests/{req['id']}/decisions",
            json={"centre_id": "C2", "decision": "approve"},
            headers=board.headers,
        ),
        201,
    )
    export = ok(
        http.post(f"/api/v1/access-requests/{req['id']}/exports", headers=alice.headers), 201
    )
    assert export["affected_by_withdrawal"] is False and export["patients"] == 6
    record_withdrawal(
        api_config.home,
        Withdrawal(patient_id="C2-p03", date=dt.date.today(), reason="patient request"),
    )
    got = ok(http.get(f"/api/v1/exports/{export['id']}", headers=alice.headers))
    assert got["affected_by_withdrawal"] is True and got["withdrawn_patients"] == 1

    link = ok(http.post(f"/api/v1/exports/{export['id']}/links", headers=alice.headers))
    time.sleep(2.1)
    r = http.get(link["url"], headers=alice.headers)
    assert r.status_code == 410 and "expired" in r.json()["detail"]


def test_bad_input_is_4xx_with_detail(http: httpx.Client, api_user: ApiUserFactory) -> None:
    alice = api_user("researcher")
    r = http.post(
        "/api/v1/cohorts",
        json={"name": "x", "definition": {"criteria": {"type": "gene"}}},
        headers=alice.headers,
    )
    assert r.status_code == 422 and "unknown criterion type 'gene'" in r.json()["detail"]
    cohort = ok(
        http.post(
            "/api/v1/cohorts",
            json={"name": "all", "definition": {"format_version": 1}},
            headers=alice.headers,
        ),
        201,
    )
    body = {
        "cohort_id": cohort["id"],
        "purpose": {"primary": "health"},
        "title": "ttt",
        "description": "d",
        "institution": "i",
        "duration_days": 1,
        "fields": ["patients.name"],
    }
    r = http.post("/api/v1/access-requests", json=body, headers=alice.headers)
    assert r.status_code == 422 and "unknown fields 'patients.name'" in r.json()["detail"]


def test_assay_and_pipeline_criteria_can_be_requested(
    http: httpx.Client, api_user: ApiUserFactory
) -> None:
    """Governance evaluates with the discovery engine: every criterion type works in a
    saved cohort and its access request (assay and pipeline used to be refused)."""
    alice = api_user("researcher")
    definition = {
        "format_version": 1,
        "criteria": {
            "type": "and",
            "criteria": [
                BRAF["criteria"],
                {"type": "not", "criterion": {"type": "assay", "assay_type": ["WGS"]}},
                {"type": "not", "criterion": {"type": "pipeline", "harmonised": False}},
            ],
        },
    }
    cohort = ok(
        http.post(
            "/api/v1/cohorts",
            json={"name": "BRAF", "definition": definition},
            headers=alice.headers,
        ),
        201,
    )
    assert cohort["versions"][0]["counts"]["centres"] == {"C1": "10", "C2": "5"}
    body = {
        "cohort_id": cohort["id"],
        "purpose": HEALTH,
        "title": "BRAF basket",
        "description": "d",
        "institution": "i",
        "duration_days": 30,
        "fields": FIELDS,
    }
    req = ok(http.post("/api/v1/access-requests", json=body, headers=alice.headers), 201)
    req = ok(http.post(f"/api/v1/access-requests/{req['id']}/submit", headers=alice.headers))
    assert {p["centre_id"]: p["patients"] for p in req["parts"]} == {"C1": "5", "C2": "5"}
