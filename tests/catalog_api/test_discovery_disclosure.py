"""Disclosure control over HTTP (defaults: threshold 5, rounding 5), budget, differencing,
audit, and the index following new commits."""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from hypothesis import given, settings
from hypothesis import strategies as st

from catalog_api import audit
from catalog_api.api.deps import audit_writer_for
from catalog_api.core.config import ApiConfig
from catalog_api.discovery.disclosure import DisclosureControl
from harmonise.lake import Lake
from tests.catalog_api.conftest import ApiUserFactory
from tests.catalog_api.discoveryhelpers import P, V, braf_melanoma, make_discovery_lake, submission

GRU: dict[str, Any] = {"primary": "general"}
V600E = {"type": "variant", "gene": "BRAF", "protein_change": "V600E"}


@pytest.fixture(scope="module")
def discovery_lake(tmp_path_factory: pytest.TempPathFactory) -> Lake:
    """The discovery test lake (read-only here)."""
    return make_discovery_lake(str(tmp_path_factory.mktemp("disclosure-lake")))


@pytest.fixture
def lake(discovery_lake: Lake) -> Lake:
    """The app serves the discovery lake."""
    return discovery_lake


def post(
    http: httpx.Client,
    headers: dict[str, str],
    criteria: Any,
    purpose: dict[str, Any] | None = None,
) -> httpx.Response:
    body: dict[str, Any] = {
        "definition": {"criteria": criteria} if criteria else {},
        "purpose": purpose or GRU,
    }
    return http.post("/api/v1/cohorts/count", json=body, headers=headers)


def test_cells_are_rounded_or_suppressed_and_small_cells_merged(
    http: httpx.Client, api_user: ApiUserFactory
) -> None:
    headers = api_user("researcher").headers
    body = post(http, headers, V600E).json()
    # exact: total 26, SKCM 20, COAD 6, CA 18, CB 8; excluded 0; covered 26
    assert body["count"] == 25
    assert body["by_tumour_type"] == {"SKCM": 20, "COAD": 5}
    assert body["by_centre"] == {"CA": 20, "CB": 10}
    assert body["excluded_by_consent"] == "<5"
    assert body["coverage"]["covered"] == 25
    assert body["disclosure"] == {"threshold": 5, "rounding": 5, "suppressed_as": "<5"}
    # V600* adds one lung patient (V600K) whose DS consent excludes general research
    hmb = post(http, headers, {**V600E, "protein_change": "V600*"}, {"primary": "health"}).json()
    assert hmb["excluded_by_consent"] == "<5"
    # melanoma of centre B: 8 patients; B's lung patients (6, consent lung only) excluded
    ages = post(http, headers, {"type": "age_at_diagnosis", "min": 40, "max": 41}).json()
    # exact: 4 patients (A 2, B 2): total suppressed, no cell shown, no "other" either (an
    # "other" below the threshold would tell one to four patients apart from none)
    assert ages["count"] == "<5"
    assert ages["by_centre"] == {}
    assert ages["by_tumour_type"] == {}
    # every cell of every answer is "<5" or a multiple of 5
    everyone = post(http, headers, None).json()
    cells = [
        everyone["count"],
        everyone["excluded_by_consent"],
        *everyone["by_tumour_type"].values(),
        *everyone["by_centre"].values(),
    ]
    assert all(c == "<5" or (isinstance(c, int) and c % 5 == 0 and c >= 5) for c in cells)


def test_cell_rules() -> None:
    ctl = DisclosureControl(threshold=5, rounding=5)
    assert [ctl.cell(n) for n in (0, 1, 4, 5, 7, 8, 12, 13, 1234)] == [
        "<5",
        "<5",
        "<5",
        5,
        5,
        10,
        10,
        15,
        1235,
    ]
    assert ctl.breakdown({"A": 3, "B": 40, "C": 1, "D": 0}) == {"B": 40}
    assert ctl.breakdown({"A": 3, "B": 40, "C": 4}) == {"B": 40, "other": 5}
    assert DisclosureControl(threshold=10, rounding=10).cell(10) == 10


@settings(max_examples=200, deadline=None)
@given(
    counts=st.dictionaries(st.text(min_size=1, max_size=4), st.integers(0, 10_000), max_size=40),
    threshold=st.integers(0, 20),
    rounding=st.integers(1, 20),
)
def test_breakdown_is_each_cell_disclosed_largest_first(
    counts: dict[str, int], threshold: int, rounding: int
) -> None:
    ctl = DisclosureControl(threshold=threshold, rounding=rounding)
    got = ctl.breakdown(counts)
    # zero counts are no category (the engine's arrays hold a zero for every other centre)
    big = sorted(
        ((k, n) for k, n in counts.items() if n >= threshold and n > 0),
        key=lambda x: (-x[1], x[0]),
    )
    small = sum(n for n in counts.values() if n < threshold)
    want: dict[str, int | str] = {k: ctl.cell(n) for k, n in big}
    if small and small >= threshold:
        want["other"] = ctl.cell(small)
    assert list(got.items()) == list(want.items())
    assert all(type(v) is int or v == ctl.suppressed for v in got.values())


def test_repeats_are_one_remembered_answer_and_differencing_still_checks_each() -> None:
    from pyroaring import BitMap

    from catalog_api.discovery.errors import DifferencingRefusedError, QueryBudgetExceededError
    from catalog_api.discovery.history import MemoryStore

    store = MemoryStore()
    ctl = DisclosureControl(threshold=5, rounding=5, budget=50, window_seconds=3600, store=store)
    wide = BitMap(range(100))
    for _ in range(49):  # the same query on the same lake version, again and again
        ctl.check("ann", "q-wide", wide, "v1")
    assert len(store.remembered("ann")) == 1
    ctl.check("ann", "q-wide", BitMap(range(120)), "v2")  # a new version: another answer
    assert len(store.remembered("ann")) == 2
    with pytest.raises(QueryBudgetExceededError):  # every repeat was charged to the budget
        ctl.check("ann", "q-wide", wide, "v1")
    ctl.budget = 1000
    # against each remembered answer: 98 patients differ from v1's 100 by two
    with pytest.raises(DifferencingRefusedError, match="q-wide"):
        ctl.check("ann", "q-narrow", BitMap(range(98)), "v1")
    ctl.check("ann", "q-other", BitMap(range(60)), "v1")  # differs by 40 and 60: fine
    ctl.check("bob", "q-narrow", BitMap(range(98)), "v1")  # another user's history


def test_differencing_queries_are_refused(http: httpx.Client, api_user: ApiUserFactory) -> None:
    user = api_user("researcher")
    assert post(http, user.headers, V600E).status_code == 200
    # the same set minus the two patients aged 40 (one per centre): refused
    minus_two = {
        "type": "and",
        "criteria": [
            V600E,
            {"type": "not", "criterion": {"type": "age_at_diagnosis", "min": 40, "max": 40}},
        ],
    }
    r = post(http, user.headers, minus_two)
    assert r.status_code == 409
    assert "differ from those of your query" in r.json()["detail"]
    # a difference of six patients in the total is not enough: they are three per
    # centre, so each centre's cell differs by three (the cells are checked too)
    minus_six = {
        "type": "and",
        "criteria": [
            V600E,
            {"type": "not", "criterion": {"type": "age_at_diagnosis", "min": 40, "max": 42}},
        ],
    }
    r = post(http, user.headers, minus_six)
    assert r.status_code == 409
    assert "count of centre" in r.json()["detail"]
    # repeating the first query is fine
    assert post(http, user.headers, V600E).status_code == 200
    # another user has their own history
    assert post(http, api_user("researcher").headers, minus_two).status_code == 200


@pytest.fixture
def api_config(api_config: ApiConfig) -> ApiConfig:
    """A small budget so that the budget test stays short."""
    return dataclasses.replace(api_config, query_budget=4, query_window_seconds=60)


def test_query_budget_and_audit(http: httpx.Client, api_user: ApiUserFactory, app: FastAPI) -> None:
    user = api_user("researcher")
    for i in range(4):
        r = post(http, user.headers, {"type": "age_at_diagnosis", "min": 10 * i, "max": 100})
        assert r.status_code == 200
    r = post(http, user.headers, V600E)
    assert r.status_code == 429
    assert "query budget used: 4 count queries per 60 s" in r.json()["detail"]
    audit_writer_for(app).flush()
    with app.state.sessionmaker() as session:
        entries = session.scalars(audit.query(actor=user.username, action="discovery.")).all()
    assert [e.action for e in entries] == ["discovery.count"] * 4 + ["discovery.count_refused"]
    first = json.loads(entries[0].details_json)
    assert first["definition"]["criteria"]["type"] == "age_at_diagnosis"
    assert first["purpose"] == {"primary": "general"}
    assert first["answer"]["count"] == 25
    assert entries[0].subject.startswith("lake:v-")
    assert "429" in entries[-1].details_json


def test_new_submission_visible_within_seconds_and_replacement_removes(
    tmp_path: Path, api_config: ApiConfig
) -> None:
    from catalog_api.main import create_app
    from tests.catalog_api.conftest import _Server, free_port

    (tmp_path / "lake").mkdir()
    private = make_discovery_lake(str(tmp_path / "lake"))
    app = create_app(dataclasses.replace(api_config, query_budget=1000), private)
    import threading

    import uvicorn

    port = free_port()
    srv = _Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    th = threading.Thread(target=srv.run, daemon=True)
    th.start()
    while not srv.started:
        time.sleep(0.01)
    try:
        with app.state.sessionmaker() as session:
            from catalog_api.auth import tokens
            from catalog_api.models import User

            u = User(username="fresh", roles=["researcher"], centres=[])
            session.add(u)
            session.flush()
            _row, token = tokens.create_token(session, user=u, name="t")
            session.commit()
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            skcm = {"type": "tumour_type", "codes": ["SKCM"]}
            before = post(http, headers, skcm).json()
            assert before["count"] == 20
            private.commit(submission("DC", "CC", braf_melanoma(10, "C-mel")))
            t0 = time.monotonic()
            while True:
                body = post(http, headers, skcm).json()
                if body["count"] == 30:
                    break
                assert time.monotonic() - t0 < 5, "new submission not visible within 5 s"
                time.sleep(0.1)
            assert body["by_centre"] == {"CA": 10, "CB": 10, "CC": 10}
            assert body["lake_version"] != before["lake_version"]
            # a corrected bundle of DC with 5 other patients replaces the first one
            private.commit(
                submission(
                    "DC",
                    "CC",
                    [
                        P(f"C-x{i}", oncotree="SKCM", variants=[V("BRAF", "V600E")])
                        for i in range(5)
                    ],
                    revision=1,
                )
            )
            t0 = time.monotonic()
            while post(http, headers, skcm).json()["by_centre"].get("CC") != 5:
                assert time.monotonic() - t0 < 5, "replacement not visible within 5 s"
                time.sleep(0.1)
    finally:
        srv.should_exit = True
        th.join(timeout=10)
