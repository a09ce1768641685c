"""The disclosure breaches of issue 20, each tried as an attacker would: each test makes the
attack and asserts that it now fails (a refusal, or an answer that tells nothing more).

The lake is the discovery test lake (``discoveryhelpers``): centre CA has 12 melanoma
(BRAF V600E, general-research consent, aged 40–51), 6 colorectal and 5 breast patients
(health research only); centre CB 8 melanoma (aged 40–47) and 6 lung patients whose
consent permits lung research only (one with BRAF V600K).
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
import uvicorn
from fastapi import FastAPI
from pyroaring import BitMap

from catalog_api.auth import tokens
from catalog_api.core.config import ApiConfig
from catalog_api.db import make_engine, upgrade
from catalog_api.discovery.disclosure import DisclosureControl
from catalog_api.discovery.errors import DifferencingRefusedError, QueryBudgetExceededError
from catalog_api.discovery.history import MemoryStore, SqlStore
from catalog_api.main import create_app
from catalog_api.models import User
from harmonise.lake import Lake, LakeConfig
from tests.catalog_api.conftest import ApiUserFactory, _Server, free_port
from tests.catalog_api.discoveryhelpers import FP_OLD, centre_b, make_discovery_lake, submission
from tests.catalog_api.helpers import FIELDS, ok
from tests.conftest import TAG_KEY

GRU = {"primary": "general"}
V600E = {"type": "variant", "gene": "BRAF", "protein_change": "V600E"}
AGED_40 = {"type": "age_at_diagnosis", "min": 40, "max": 40}  # A-mel000 and B-mel000


def _not(c: dict[str, Any]) -> dict[str, Any]:
    return {"type": "not", "criterion": c}


def _and(*cs: dict[str, Any]) -> dict[str, Any]:
    return {"type": "and", "criteria": list(cs)}


def count(
    http: httpx.Client, headers: dict[str, str], criteria: dict[str, Any] | None
) -> httpx.Response:
    body: dict[str, Any] = {"definition": {"criteria": criteria} if criteria else {}}
    body["purpose"] = GRU
    return http.post("/api/v1/cohorts/count", json=body, headers=headers)


@pytest.fixture(scope="module")
def discovery_lake(tmp_path_factory: pytest.TempPathFactory) -> Lake:
    """The discovery test lake (read-only here)."""
    return make_discovery_lake(str(tmp_path_factory.mktemp("attack-lake")))


@pytest.fixture
def lake(discovery_lake: Lake) -> Lake:
    """The app serves the discovery lake."""
    return discovery_lake


# -- 1. exact counts leak ---------------------------------------------------------------------


def _request_aged_40(http: httpx.Client, headers: dict[str, str]) -> dict[str, Any]:
    """Save "aged 40" (one patient per centre), request it for general research, submit."""
    cohort = ok(
        http.post(
            "/api/v1/cohorts",
            json={"name": "two", "definition": {"criteria": AGED_40}},
            headers=headers,
        ),
        201,
    )
    assert cohort["versions"][0]["counts"]["total"] == "<5"
    assert cohort["versions"][0]["counts"]["centres"] == {}  # 1 and 1: like none
    body = {
        "cohort_id": cohort["id"],
        "purpose": GRU,
        "title": "two patients",
        "description": "d",
        "institution": "i",
        "duration_days": 30,
        "fields": FIELDS,
    }
    req = ok(http.post("/api/v1/access-requests", json=body, headers=headers), 201)
    return ok(http.post(f"/api/v1/access-requests/{req['id']}/submit", headers=headers))  # type: ignore[no-any-return]


def test_request_audit_trail_shows_disclosed_parts_not_exact_counts(
    http: httpx.Client, api_user: ApiUserFactory
) -> None:
    researcher = api_user("researcher")
    req = _request_aged_40(http, researcher.headers)
    # one patient a centre: neither part named to the requester (a part "<5" would still
    # tell that the centre holds one to four), nor merged ("other" would be below 5 too)
    assert req["parts"] == []

    def submitted_parts(headers: dict[str, str]) -> Any:
        trail = ok(http.get(f"/api/v1/access-requests/{req['id']}/audit", headers=headers))
        (entry,) = [e for e in trail if e["action"] == "access_request.submitted"]
        return entry["details"]["parts"]

    # the requester: no count, no centre (the attack read {"CA": 1, "CB": 1} here)
    assert submitted_parts(researcher.headers) == {}
    # a reviewer of CA: CA's exact count only; an admin: what the audit holds
    assert submitted_parts(api_user("reviewer", centres=["CA"]).headers) == {"CA": 1}
    assert submitted_parts(api_user("admin").headers) == {"CA": 1, "CB": 1}


def test_saved_cohorts_are_differencing_checked(
    http: httpx.Client, api_user: ApiUserFactory
) -> None:
    headers = api_user("researcher").headers

    def save(criteria: dict[str, Any]) -> httpx.Response:
        body = {"name": "c", "definition": {"criteria": criteria}}
        return http.post("/api/v1/cohorts", json=body, headers=headers)

    first = ok(save(V600E), 201)
    assert first["versions"][0]["counts"]["total"] == "25"  # 26 matching, any consent
    # the same cohort without the two patients aged 40: refused, nothing saved
    r = save(_and(V600E, _not(AGED_40)))
    assert r.status_code == 409, r.text
    assert "differ from those of your query" in r.json()["detail"]
    assert len(ok(http.get("/api/v1/cohorts", headers=headers))) == 1
    # nor can a count in the builder be the other half of the pair
    assert count(http, headers, _and(V600E, _not(AGED_40))).status_code == 409
    # while the cohort's own count for a purpose is not refused (the pair differs only by
    # the patients excluded by consent, a number the answer discloses and checks itself)
    assert ok(count(http, headers, V600E))["count"] == 25


# -- 2. differencing gaps ------------------------------------------------------------------


def test_excluded_by_consent_is_differencing_checked(
    http: httpx.Client, api_user: ApiUserFactory
) -> None:
    headers = api_user("researcher").headers
    centre_b_ = {"type": "centre", "values": ["CB"]}
    first = ok(count(http, headers, centre_b_))
    assert (first["count"], first["excluded_by_consent"]) == (10, 5)  # exact: 8 and 6
    # the lung patient with V600K left out: the same 8 counted, the excluded 6 become 5
    minus_one = _and(centre_b_, _not({"type": "variant", "protein_change": "BRAF V600K"}))
    r = count(http, headers, minus_one)
    assert r.status_code == 409, r.text
    assert "excluded-by-consent count" in r.json()["detail"]


def test_zero_and_one_to_four_patients_answer_alike(
    http: httpx.Client, api_user: ApiUserFactory
) -> None:
    headers = api_user("researcher").headers
    two = ok(count(http, headers, AGED_40))  # exact: 2, one per centre
    none = ok(count(http, headers, {"type": "age_at_diagnosis", "min": 1, "max": 2}))
    assert two == none
    assert two["by_centre"] == {} and two["by_tumour_type"] == {} and two["count"] == "<5"


@contextmanager
def serving(app: FastAPI) -> Iterator[httpx.Client]:
    """``app`` under uvicorn on a free loopback port, and a client on it."""
    port = free_port()
    srv = _Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    th = threading.Thread(target=srv.run, daemon=True)
    th.start()
    deadline = time.monotonic() + 10
    while not srv.started:
        assert time.monotonic() < deadline and th.is_alive(), "uvicorn did not start"
        time.sleep(0.01)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            yield client
    finally:
        srv.should_exit = True
        th.join(timeout=10)


def _token(app: FastAPI, username: str) -> dict[str, str]:
    with app.state.sessionmaker() as session:
        user = session.scalar(sa.select(User).where(User.username == username))
        if user is None:
            user = User(username=username, roles=["researcher"], centres=[])
            session.add(user)
            session.flush()
        _row, token = tokens.create_token(session, user=user, name="t")
        session.commit()
    return {"Authorization": f"Bearer {token}"}


def test_same_query_before_and_after_a_withdrawal_is_refused(
    tmp_path: Path, api_config: ApiConfig
) -> None:
    lake = make_discovery_lake(str(tmp_path))
    app = create_app(api_config, lake)
    with serving(app) as http:
        headers = _token(app, "ann")
        melanoma = {"type": "tumour_type", "codes": ["SKCM"]}
        before = ok(count(http, headers, melanoma))
        assert before["count"] == 20
        # one melanoma patient of CB leaves (the corrected bundle without B-mel007)
        pats = [p for p in centre_b() if p.pid != "B-mel007"]
        lake.commit(submission("DB", "CB", pats, fingerprint=FP_OLD, revision=1))
        deadline = time.monotonic() + 10
        after = lake.current_version().id
        while app.state.discovery_engine.index.version_id != after:
            assert time.monotonic() < deadline, "the index did not follow the lake"
            time.sleep(0.05)
        # the same question on the new version: its answer minus the old one is a patient
        r = count(http, headers, melanoma)
        assert r.status_code == 409, r.text
        assert before["lake_version"] in r.json()["detail"]


# -- 3. disclosure state shared and durable ------------------------------------------------


def _replica(api_config: ApiConfig, root: Path, **changes: Any) -> FastAPI:
    """Another app on the same application database and lake, with its own lake object,
    index and disclosure control (as another ``oncolake serve`` process would have)."""
    lake = Lake(
        LakeConfig(catalog_uri=f"sqlite:///{root}/catalog.db", warehouse=f"{root}/wh"), TAG_KEY
    )
    return create_app(dataclasses.replace(api_config, **changes), lake)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)
def test_differencing_pair_split_across_two_replicas_is_refused(
    tmp_path: Path, api_config: ApiConfig
) -> None:
    make_discovery_lake(str(tmp_path))
    one, two = _replica(api_config, tmp_path), _replica(api_config, tmp_path)
    with serving(one) as http_one, serving(two) as http_two:
        assert ok(count(http_one, _token(one, "ann"), V600E))["count"] == 25
        r = count(http_two, _token(two, "ann"), _and(V600E, _not(AGED_40)))
        assert r.status_code == 409, r.text
        # another user's history is their own, on either replica
        assert count(http_two, _token(two, "bob"), _and(V600E, _not(AGED_40))).status_code == 200


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)
def test_budget_is_shared_by_replicas_and_survives_a_restart(
    tmp_path: Path, api_config: ApiConfig
) -> None:
    make_discovery_lake(str(tmp_path))
    small = {"query_budget": 3, "query_window_seconds": 600}
    one, two = _replica(api_config, tmp_path, **small), _replica(api_config, tmp_path, **small)
    with serving(one) as http_one, serving(two) as http_two:
        ages = [{"type": "age_at_diagnosis", "min": 10 * i, "max": 100} for i in range(3)]
        assert ok(count(http_one, _token(one, "ann"), ages[0]))
        assert ok(count(http_two, _token(two, "ann"), ages[1]))
        assert ok(count(http_one, _token(one, "ann"), ages[2]))
        r = count(http_two, _token(two, "ann"), V600E)
        assert r.status_code == 429, r.text
    # a restart: new apps, new disclosure controls, the same database
    restarted = _replica(api_config, tmp_path, **small)
    with serving(restarted) as http:
        r = count(http, _token(restarted, "ann"), V600E)
        assert r.status_code == 429, r.text
        assert "query budget used: 3 count queries per 600 s" in r.json()["detail"]


# -- the rule itself, on both stores ----------------------------------------------------------


@pytest.fixture(params=["memory", "sqlite"])
def store_factory(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[], Any]:
    """Makes disclosure stores over one state (a fresh one per call: a restart)."""
    if request.param == "memory":
        store = MemoryStore()
        return lambda: store
    engine = make_engine(f"sqlite:///{tmp_path / 'app.db'}")
    upgrade(engine)
    return lambda: SqlStore(engine, b"secret")


def test_history_is_kept_for_the_stated_horizon_not_the_budget_window(
    store_factory: Callable[[], Any],
) -> None:
    now = [1_000_000.0]

    def control() -> DisclosureControl:
        return DisclosureControl(
            budget=2,
            window_seconds=3600,
            history_days=30,
            store=store_factory(),
            clock=lambda: now[0],
        )

    control().check("ann", "q1", BitMap(range(100)), "v1")
    control().check("ann", "q2", BitMap(range(50)), "v1")
    with pytest.raises(QueryBudgetExceededError):
        control().check("ann", "q3", BitMap(range(10)), "v1")
    now[0] += 2 * 3600  # the budget's window has passed; the history has not
    with pytest.raises(DifferencingRefusedError, match="q1"):
        control().check("ann", "q4", BitMap(range(98)), "v2")
    now[0] += 31 * 86400  # past the horizon: forgotten, as stated
    control().check("ann", "q5", BitMap(range(98)), "v2")


def test_dataset_counts_are_disclosed(discovery_lake: Lake) -> None:
    from catalog_api.discovery.datasets import dataset_counts
    from catalog_api.discovery.engine import DiscoveryEngine

    engine = DiscoveryEngine(discovery_lake)
    engine.refresh()
    ctl = DisclosureControl()
    for info in engine.datasets():
        exact = json.loads(info.row["row_counts_json"])
        shown = dataset_counts(info.row, ctl)
        assert shown["rows"] == {k: ctl.cell(v) for k, v in sorted(exact.items())}
        cells = [*shown["rows"].values(), shown["tumour_specimens"], shown["normal_specimens"]]
        assert all(c == "<5" or (isinstance(c, int) and c % 5 == 0) for c in cells)
