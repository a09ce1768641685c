"""The analytics routes over HTTP (the app under uvicorn, a real lake): answers, audit,
the differencing check and budget shared with counts, bad input, roles."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from catalog_api import audit
from catalog_api.models import AuditEntry
from harmonise.lake import Lake, LakeConfig
from tests.catalog_api.conftest import ApiUserFactory
from tests.conftest import TAG_KEY
from tests.harmonise.lakefixtures import make_submission

GRU: dict[str, Any] = {"primary": "general"}
C1 = {"criteria": {"type": "centre", "values": ["C1"]}}
D1 = {"criteria": {"type": "dataset", "values": ["D1"]}}
C2 = {"criteria": {"type": "centre", "values": ["C2"]}}


def _lake(root: Path) -> Lake:
    root.mkdir(parents=True, exist_ok=True)
    lake = Lake(
        LakeConfig(catalog_uri=f"sqlite:///{root / 'catalog.db'}", warehouse=str(root / "wh")),
        TAG_KEY,
    )
    lake.init()
    lake.commit(make_submission("D1", "C1", [f"A{i:02d}" for i in range(30)]))
    lake.commit(make_submission("D3", "C1", ["B00", "B01"]))
    lake.commit(make_submission("D2", "C2", [f"C{i:02d}" for i in range(20)]))
    return lake


@pytest.fixture(scope="module")
def analytics_lake(tmp_path_factory: pytest.TempPathFactory) -> Lake:
    return _lake(tmp_path_factory.mktemp("analytics-lake"))


@pytest.fixture
def lake(analytics_lake: Lake) -> Lake:
    return analytics_lake


def _entries(app: FastAPI, actor: str, action: str) -> list[AuditEntry]:
    with app.state.sessionmaker() as session:
        return list(session.scalars(audit.query(actor=actor, action=action)).all())


def test_survival_answer_is_audited_before_it_is_sent(
    http: httpx.Client, api_user: ApiUserFactory, app: FastAPI
) -> None:
    user = api_user("researcher")
    body = {"definition": C1, "purpose": GRU, "endpoint": "os_from_diagnosis"}
    r = http.post("/api/v1/cohorts/survival", json=body, headers=user.headers)
    assert r.status_code == 200, r.text
    ans = r.json()
    assert ans["curves"][0]["cohort_patients"] == 30  # 32 rounded to 5
    assert ans["disclosure"]["threshold"] == 5
    got = _entries(app, user.username, "analytics.survival")
    assert len(got) == 1 and json.loads(got[0].details_json)["answer"] == ans


def test_treatment_patterns_answer_is_audited(
    http: httpx.Client, api_user: ApiUserFactory, app: FastAPI
) -> None:
    user = api_user("researcher")
    body = {"definition": C2, "purpose": GRU, "breakdown": "centre"}
    r = http.post("/api/v1/cohorts/treatment-patterns", json=body, headers=user.headers)
    assert r.status_code == 200, r.text
    ans = r.json()
    assert ans["count"] == 20 and ans["parameters"]["max_lines"] == 3
    got = _entries(app, user.username, "analytics.treatment_patterns")
    assert len(got) == 1 and json.loads(got[0].details_json)["answer"] == ans


def test_survival_groups_differing_by_two_patients_are_refused(
    http: httpx.Client, api_user: ApiUserFactory, app: FastAPI
) -> None:
    # centre C1 holds D1 (30) and D3 (2): the two curves would isolate D3's patients
    user = api_user("researcher")
    body = {
        "purpose": GRU,
        "groups": [{"name": "C1", "definition": C1}, {"name": "D1", "definition": D1}],
    }
    r = http.post("/api/v1/cohorts/survival", json=body, headers=user.headers)
    assert r.status_code == 409, r.text
    assert "differ" in r.json()["detail"]
    assert len(_entries(app, user.username, "analytics.survival_refused")) == 1


def test_a_count_then_a_curve_differing_by_two_is_refused(
    http: httpx.Client, api_user: ApiUserFactory
) -> None:
    user = api_user("researcher")
    r = http.post(
        "/api/v1/cohorts/count", json={"definition": C1, "purpose": GRU}, headers=user.headers
    )
    assert r.status_code == 200, r.text
    body = {"definition": D1, "purpose": GRU}
    r = http.post("/api/v1/cohorts/treatment-patterns", json=body, headers=user.headers)
    assert r.status_code == 409, r.text
    # the same definition as the count is a repeat, not a difference
    body = {"definition": C1, "purpose": GRU}
    r = http.post("/api/v1/cohorts/survival", json=body, headers=user.headers)
    assert r.status_code == 200, r.text


def test_overlapping_groups_are_a_400(http: httpx.Client, api_user: ApiUserFactory) -> None:
    user = api_user("researcher")
    body = {
        "purpose": GRU,
        "groups": [{"name": "C1", "definition": C1}, {"name": "all", "definition": {}}],
    }
    r = http.post("/api/v1/cohorts/survival", json=body, headers=user.headers)
    assert r.status_code == 400, r.text
    assert "share patients" in r.json()["detail"]


@pytest.mark.parametrize(
    ("path", "body", "words"),
    [
        ("survival", {"purpose": GRU}, "either 'definition'"),
        ("survival", {"purpose": GRU, "definition": C1, "endpoint": "os_from_line"}, "line"),
        ("survival", {"purpose": GRU, "definition": C1, "adjust_for": ["bmi"]}, "adjust_for"),
        ("treatment-patterns", {"purpose": GRU, "definition": C1, "breakdown": "groups"}, "groups"),
        ("treatment-patterns", {"purpose": GRU, "definition": C1, "max_lines": 9}, "max_lines"),
        (
            "treatment-patterns",
            {"purpose": GRU, "definition": {"criteria": {"type": "centre", "values": ["X"]}}},
            "unknown centre",
        ),
    ],
)
def test_bad_questions_are_a_400_naming_the_problem(
    http: httpx.Client, api_user: ApiUserFactory, path: str, body: dict, words: str
) -> None:
    user = api_user("researcher")
    r = http.post(f"/api/v1/cohorts/{path}", json=body, headers=user.headers)
    assert r.status_code == 400, r.text
    assert words in r.json()["detail"]


@pytest.mark.parametrize("path", ["survival", "treatment-patterns"])
def test_only_researchers_ask(http: httpx.Client, api_user: ApiUserFactory, path: str) -> None:
    body = {"purpose": GRU, "definition": C1}
    assert http.post(f"/api/v1/cohorts/{path}", json=body).status_code == 401
    reviewer = api_user("reviewer", centres=["C1"])
    r = http.post(f"/api/v1/cohorts/{path}", json=body, headers=reviewer.headers)
    assert r.status_code == 403, r.text
