"""Steps shared by the governance tests (over HTTP, asserting each step succeeded)."""

from __future__ import annotations

from typing import Any

import httpx

from tests.catalog_api.conftest import HEALTH

BRAF = {
    "format_version": 1,
    "criteria": {"type": "variant", "gene": "BRAF", "protein_change": "V600E"},
}
FIELDS = ["patients.sex", "variants.gene", "variants.protein_change"]


def ok(r: httpx.Response, status: int = 200) -> Any:
    """The JSON of ``r`` after checking its status (the body is shown on failure)."""
    assert r.status_code == status, f"{r.request.method} {r.request.url}: {r.status_code} {r.text}"
    return r.json()


def submitted_request(http: httpx.Client, headers: dict[str, str]) -> dict[str, Any]:
    """Save the BRAF cohort, request it for health research and submit; the request."""
    cohort = ok(
        http.post("/api/v1/cohorts", json={"name": "BRAF", "definition": BRAF}, headers=headers),
        201,
    )
    body = {
        "cohort_id": cohort["id"],
        "purpose": HEALTH,
        "title": "BRAF basket",
        "description": "d",
        "institution": "i",
        "duration_days": 30,
        "fields": FIELDS,
    }
    req = ok(http.post("/api/v1/access-requests", json=body, headers=headers), 201)
    return ok(http.post(f"/api/v1/access-requests/{req['id']}/submit", headers=headers))  # type: ignore[no-any-return]
