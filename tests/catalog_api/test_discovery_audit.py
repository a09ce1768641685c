"""Every count is audited before it is answered: the entry is committed when the HTTP
response arrives (no flush, no wait), and a count whose entry cannot be committed is not
answered (503)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from catalog_api import audit
from catalog_api.api.deps import audit_writer_for
from catalog_api.models import AuditEntry
from harmonise.lake import Lake
from tests.catalog_api.conftest import BACKENDS, ApiUserFactory
from tests.catalog_api.discoveryhelpers import make_discovery_lake

GRU: dict[str, Any] = {"primary": "general"}
V600E = {"type": "variant", "gene": "BRAF", "protein_change": "V600E"}


@pytest.fixture(scope="module")
def discovery_lake(tmp_path_factory: pytest.TempPathFactory) -> Lake:
    """The discovery test lake (read-only here)."""
    return make_discovery_lake(str(tmp_path_factory.mktemp("audit-lake")))


@pytest.fixture
def lake(discovery_lake: Lake) -> Lake:
    """The app serves the discovery lake."""
    return discovery_lake


def _entries(app: FastAPI, actor: str, action: str) -> list[AuditEntry]:
    with app.state.sessionmaker() as session:
        return list(session.scalars(audit.query(actor=actor, action=action)).all())


@pytest.mark.parametrize("backend", BACKENDS, indirect=True)
def test_count_entry_is_committed_when_the_answer_arrives(
    http: httpx.Client, api_user: ApiUserFactory, app: FastAPI
) -> None:
    user = api_user("researcher")
    body = {"definition": {"criteria": V600E}, "purpose": GRU}
    for i in range(3):
        r = http.post("/api/v1/cohorts/count", json=body, headers=user.headers)
        assert r.status_code == 200, r.text
        got = _entries(app, user.username, "discovery.count")  # read at once: no flush
        assert len(got) == i + 1
        assert json.loads(got[-1].details_json)["answer"] == r.json()
    r = http.get(
        "/api/beacon/v2/individuals",
        params={"geneId": "BRAF", "purpose": "GRU"},
        headers=user.headers,
    )
    assert r.status_code == 200, r.text
    assert len(_entries(app, user.username, "beacon.count")) == 1
    # refusals too: a bad definition is answered 400 after its entry is committed
    bad = {"definition": {"criteria": {"type": "variant", "gene": "NOPE"}}, "purpose": GRU}
    r = http.post("/api/v1/cohorts/count", json=bad, headers=user.headers)
    assert r.status_code == 400
    assert len(_entries(app, user.username, "discovery.count_refused")) == 1
    assert audit_writer_for(app).commits >= 5


def test_count_not_answered_when_its_audit_entry_cannot_be_committed(
    http: httpx.Client, api_user: ApiUserFactory, app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = api_user("researcher")

    def broken(*_args: Any, **_kw: Any) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(audit, "record_many", broken)
    body = {"definition": {"criteria": V600E}, "purpose": GRU}
    r = http.post("/api/v1/cohorts/count", json=body, headers=user.headers)
    assert r.status_code == 503
    assert "could not be audited (RuntimeError: disk full)" in r.json()["detail"]
    assert "count" not in r.json()
    r = http.get("/api/beacon/v2/individuals", params={"geneId": "BRAF"}, headers=user.headers)
    assert r.status_code == 503 and "could not be audited" in r.text
    monkeypatch.undo()
    r = http.post("/api/v1/cohorts/count", json=body, headers=user.headers)
    assert r.status_code == 200


@pytest.mark.parametrize("backend", BACKENDS, indirect=True)
def test_count_answered_after_the_audit_writers_connection_is_lost(
    http: httpx.Client, api_user: ApiUserFactory, app: FastAPI, backend: str
) -> None:
    """The audit writer keeps its own connection between groups; one that the database
    dropped meanwhile (a restart, a killed session) is replaced, and no count is refused."""
    user = api_user("researcher")
    body = {"definition": {"criteria": V600E}, "purpose": GRU}
    assert http.post("/api/v1/cohorts/count", json=body, headers=user.headers).status_code == 200
    writer = audit_writer_for(app)
    old = writer._conn
    assert old is not None
    if backend == "postgresql":
        pid = old.exec_driver_sql("SELECT pg_backend_pid()").scalar()
        old.rollback()
        with app.state.sessionmaker.kw["bind"].connect() as admin:
            admin.exec_driver_sql(f"SELECT pg_terminate_backend({int(pid)})")
    else:
        old.connection.dbapi_connection.close()  # type: ignore[union-attr]
    r = http.post("/api/v1/cohorts/count", json=body, headers=user.headers)
    assert r.status_code == 200, r.text
    assert writer._conn is not None and writer._conn is not old
    assert len(_entries(app, user.username, "discovery.count")) == 2
