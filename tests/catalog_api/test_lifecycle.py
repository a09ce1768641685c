"""One request end to end over HTTP: two centres, one approves, one rejects; the export."""

from __future__ import annotations

import io
from pathlib import Path

import httpx
import pyarrow.parquet as pq
import pytest
from fastapi import FastAPI

from catalog_api import audit
from consent.tags import verify_tags
from harmonise.lake import Lake
from tests.catalog_api.conftest import (
    BACKENDS,
    C1_DS_ONLY,
    C1_PATIENTS,
    HEALTH,
    ApiUserFactory,
    make_network_lake,
)
from tests.conftest import TAG_KEY
from tests.harmonise.lakefixtures import make_submission

BRAF = {
    "format_version": 1,
    "criteria": {"type": "variant", "gene": "BRAF", "protein_change": "V600E"},
}
FIELDS = ["patients.sex", "variants.gene", "variants.protein_change"]


@pytest.fixture
def lake(tmp_path: Path) -> Lake:
    """A private lake: this test ingests more data."""
    return make_network_lake(tmp_path / "lake")


def _request(http: httpx.Client, headers: dict[str, str], cohort_id: int) -> dict:
    body = {
        "cohort_id": cohort_id,
        "purpose": HEALTH,
        "title": "BRAF V600E basket",
        "description": "Outcomes of BRAF V600E across tumour types.",
        "institution": "Example University",
        "duration_days": 365,
        "fields": FIELDS,
    }
    r = http.post("/api/v1/access-requests", json=body, headers=headers)
    assert r.status_code == 201, r.text
    return r.json()


@pytest.mark.parametrize("backend", BACKENDS, indirect=True)
def test_one_centre_approves_one_rejects_export_holds_only_approved_consenting(
    http: httpx.Client, app: FastAPI, lake: Lake, api_user: ApiUserFactory
) -> None:
    alice = api_user("researcher", username="alice")
    rev1 = api_user("reviewer", centres=["C1"], username="board-c1")
    rev2 = api_user("reviewer", centres=["C2"], username="board-c2")
    admin = api_user("admin")

    r = http.post(
        "/api/v1/cohorts", json={"name": "BRAF V600E", "definition": BRAF}, headers=alice.headers
    )
    assert r.status_code == 201, r.text
    cohort = r.json()
    counts = cohort["versions"][0]["counts"]
    assert {k: counts[k] for k in ("total", "centres")} == {
        "total": "15",
        "centres": {"C1": "10", "C2": "5"},
    }
    assert counts["consent"].startswith("any consent")  # says why it is not the builder's
    saved_version = cohort["versions"][0]["lake_version_id"]

    req = _request(http, alice.headers, cohort["id"])
    assert req["state"] == "draft" and req["parts"] == []
    r = http.post(f"/api/v1/access-requests/{req['id']}/submit", headers=alice.headers)
    assert r.status_code == 200, r.text
    req = r.json()
    assert req["state"] == "submitted" and req["lake_version_id"] == saved_version
    # C1: 6 of 8 patients consent to health research (2 are DS-BRCA only) → shown as "5"
    assert {p["centre_id"]: p["patients"] for p in req["parts"]} == {"C1": "5", "C2": "5"}

    q1 = http.get("/api/v1/reviews", headers=rev1.headers).json()
    assert [(i["request_id"], i["centre_id"]) for i in q1] == [(req["id"], "C1")]
    seen = http.get(f"/api/v1/access-requests/{req['id']}", headers=rev1.headers).json()
    assert [p["centre_id"] for p in seen["parts"]] == ["C1"]

    url = f"/api/v1/access-requests/{req['id']}/decisions"
    r = http.post(url, json={"centre_id": "C2", "decision": "approve"}, headers=rev1.headers)
    assert r.status_code == 403 and "do not govern centre C2" in r.json()["detail"]
    r = http.post(
        url, json={"centre_id": "C1", "decision": "approve", "comment": "ok"}, headers=rev1.headers
    )
    assert r.status_code == 201, r.text
    r = http.post(url, json={"centre_id": "C1", "decision": "approve"}, headers=rev1.headers)
    assert r.status_code == 409
    assert (
        http.get(f"/api/v1/access-requests/{req['id']}", headers=alice.headers).json()["state"]
        == "under_review"
    )
    r = http.post(
        url, json={"centre_id": "C2", "decision": "reject", "comment": "no"}, headers=rev2.headers
    )
    assert r.status_code == 201
    req = http.get(f"/api/v1/access-requests/{req['id']}", headers=alice.headers).json()
    assert req["state"] == "partially_approved"
    assert {p["centre_id"]: p["state"] for p in req["parts"]} == {
        "C1": "approved",
        "C2": "rejected",
    }
    assert req["expires_at"] is not None

    r = http.post(f"/api/v1/access-requests/{req['id']}/exports", headers=alice.headers)
    assert r.status_code == 201, r.text
    export = r.json()
    assert export["centres"] == ["C1"] and export["patients"] == 6
    assert sorted(export["files"]) == ["patients.parquet", "variants.parquet"]

    link = http.post(f"/api/v1/exports/{export['id']}/links", headers=alice.headers).json()
    r = http.get(link["url"].replace("manifest.json", "patients.parquet"), headers=alice.headers)
    assert r.status_code == 200
    table = pq.read_table(io.BytesIO(r.content))
    assert table.column_names == ["dataset_id", "centre_id", "patient_id", "sex"]
    assert set(table.column("centre_id").to_pylist()) == {"C1"}
    expected = sorted(set(C1_PATIENTS) - set(C1_DS_ONLY))
    assert table.column("patient_id").to_pylist() == expected
    tags = verify_tags(pq.read_metadata(io.BytesIO(r.content)).metadata, TAG_KEY, "download")
    assert list(tags) == ["D1"]
    # the link is for alice only; a reviewer cannot use it
    r = http.get(link["url"], headers=rev1.headers)
    assert r.status_code == 403

    # new data for both centres; the export re-run at the pinned version is byte-identical
    first = {
        n: (Path(app.state.config.exports_dir) / f"export-{export['id']}" / n).read_bytes()
        for n in [*export["files"], "manifest.json"]
    }
    lake.commit(make_submission("D3", "C1", ["C1-new1", "C1-new2"]))
    r = http.post(f"/api/v1/access-requests/{req['id']}/exports", headers=alice.headers)
    again = r.json()
    assert again["manifest_sha256"] == export["manifest_sha256"]
    second = {
        n: (Path(app.state.config.exports_dir) / f"export-{again['id']}" / n).read_bytes()
        for n in first
    }
    assert second == first

    # the board's trail, then revocation disables downloads
    trail = http.get(f"/api/v1/access-requests/{req['id']}/audit", headers=rev1.headers).json()
    actions = [e["action"] for e in trail]
    for a in (
        "access_request.created",
        "access_request.submitted",
        "access_request.decision",
        "export.created",
        "export.downloaded",
    ):
        assert a in actions
    r = http.post(
        f"/api/v1/access-requests/{req['id']}/revoke",
        json={"reason": "audit"},
        headers=admin.headers,
    )
    assert r.status_code == 200 and r.json()["state"] == "revoked"
    r = http.get(link["url"], headers=alice.headers)
    assert r.status_code == 410 and "disabled" in r.json()["detail"]
    with app.state.sessionmaker() as s:
        assert audit.verify(s).ok
