"""Analytics as a live service: a new submission is in the treatment-patterns and survival
answers within seconds of its commit (as counts are); the journeys are kept with the
persisted index (a restart reads no journey from the lake); while a new index's journeys
are being read, questions are answered 503 "not ready" with Retry-After, never a hang."""

from __future__ import annotations

import dataclasses
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import uvicorn
from fastapi import FastAPI

from catalog_api.analytics import service
from catalog_api.analytics.journeys import _FILL, _LINE_TYPES, JourneyStore
from catalog_api.analytics.service import JourneySync, journeys_extension, journeys_for
from catalog_api.core.config import ApiConfig
from catalog_api.discovery.engine import DiscoveryEngine
from catalog_api.discovery.index_store import INDEX_DIR, IndexStore
from harmonise.lake import Lake
from tests.catalog_api.conftest import ApiUserFactory, _Server, free_port
from tests.catalog_api.test_analytics_lake import _make_lake, journey_submission
from tests.conftest import TAG_KEY

GRU: dict[str, Any] = {"primary": "general"}
KEY = b"test-secret-key-0123456789abcdef"
PATTERNS = {"definition": {}, "purpose": GRU}
SURVIVAL = {"definition": {}, "purpose": GRU}


@pytest.fixture
def lake(tmp_path: Path) -> Lake:
    return _make_lake(tmp_path / "journey-lake")


@pytest.fixture
def api_config(api_config: ApiConfig) -> ApiConfig:
    # exact answers: threshold 0, rounding 1 (the disclosure rules are tested elsewhere)
    return dataclasses.replace(
        api_config, disclosure_threshold=0, disclosure_rounding=1, query_budget=1000
    )


def _answers(http: httpx.Client, headers: dict[str, str]) -> tuple[int, int]:
    p = http.post("/api/v1/cohorts/treatment-patterns", json=PATTERNS, headers=headers)
    s = http.post("/api/v1/cohorts/survival", json=SURVIVAL, headers=headers)
    assert p.status_code == 200, p.text
    assert s.status_code == 200, s.text
    return p.json()["count"], s.json()["curves"][0]["cohort_patients"]


def test_new_submission_in_patterns_and_survival_within_seconds(
    lake: Lake, http: httpx.Client, api_user: ApiUserFactory, app: FastAPI
) -> None:
    # as test_new_submission_visible_within_seconds… does for counts: the running server
    # (its index refreshed in the background, nobody calls refresh) answers the new
    # submission's patients within seconds of the commit
    headers = api_user("researcher").headers
    before = _answers(http, headers)
    assert before == (700, 700)
    store = journeys_for(app.state.discovery_engine)
    reads = store.reads
    lake.commit(journey_submission("J3", "C3", 50, seed=3))
    t0 = time.monotonic()
    while True:
        now = _answers(http, headers)
        if now == (750, 750):
            break
        assert time.monotonic() - t0 < 5, f"new submission not in the answers within 5 s: {now}"
        time.sleep(0.1)
    assert store.reads == reads + 1  # only the new submission's journeys were read


def _engine(lake: Lake, home: Path) -> tuple[DiscoveryEngine, JourneyStore, JourneySync]:
    """An engine over ``lake`` (a new Lake object: as a restarted process opens it) with its
    index file in ``home`` and the journeys kept in it."""
    again = Lake(lake.config, TAG_KEY)
    again.init()
    store = IndexStore(home / INDEX_DIR, KEY)
    engine = DiscoveryEngine(again, store=store)
    journeys = JourneyStore(again)
    store.extend(journeys_extension(journeys))
    return engine, journeys, JourneySync(engine, journeys)


def _arrays(store: JourneyStore, engine: DiscoveryEngine) -> dict[str, np.ndarray]:
    j = store.get(engine.index)
    assert j is not None
    return {k: getattr(j, k) for k in (*_FILL, *_LINE_TYPES)}


def test_journeys_persist_with_the_index(lake: Lake, tmp_path: Path) -> None:
    engine, store, sync = _engine(lake, tmp_path)
    engine.refresh()  # built and saved (without journeys: none read yet)
    assert sync.step() and store.reads == 2 and store.adopted == 0
    engine.refresh()  # the sync asked for a save: the file now holds the journeys
    first = _arrays(store, engine)
    # a restart: the index is loaded, its journeys taken from the file, no lake read
    engine2, store2, sync2 = _engine(lake, tmp_path)
    engine2.refresh()
    assert engine2.indexer.loads == 1 and engine2.indexer.full_builds == 0
    assert sync2.step()
    assert store2.adopted == 1 and store2.reads == 0
    again = _arrays(store2, engine2)
    for k, v in first.items():
        np.testing.assert_array_equal(again[k], v, err_msg=k)
    # appends since the file: only the new submission is read, the rest stays
    lake.commit(journey_submission("J3", "C3", 50, seed=3))
    engine2.refresh()
    assert sync2.step() and store2.reads == 1
    j = store2.get(engine2.index)
    assert j is not None and j.n_slots == 750
    assert int(np.count_nonzero(j.centre == j.centres.index("C3"))) == 50
    # journeys made by other code are not used: read from the lake again
    engine3, store3, sync3 = _engine(lake, tmp_path)
    ext = journeys_extension(store3)
    engine3.indexer.store.extend(dataclasses.replace(ext, code="other code"))  # type: ignore[union-attr]
    engine3.refresh()
    assert sync3.step() and store3.adopted == 0 and store3.reads == 3  # J1–J3


def test_questions_answer_503_while_a_new_index_is_read(
    lake: Lake, app: FastAPI, api_user: ApiUserFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(service, "JOURNEYS_WAIT", 0.3)
    headers = api_user("researcher").headers
    engine = app.state.discovery_engine
    engine.refresh()  # the index is ready: counts are answered
    store = journeys_for(engine)
    store._lock.acquire()  # as a sync reading a million patients' journeys holds it
    port = free_port()
    srv = _Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    th = threading.Thread(target=srv.run, daemon=True)
    th.start()
    try:
        while not srv.started:
            time.sleep(0.01)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            t0 = time.monotonic()
            r = http.post("/api/v1/cohorts/treatment-patterns", json=PATTERNS, headers=headers)
            assert r.status_code == 503, r.text
            assert time.monotonic() - t0 < 3  # the wait, not the read
            assert r.headers["retry-after"]
            assert "treatment journeys are being read" in r.json()["detail"]
            r = http.post("/api/v1/cohorts/survival", json=SURVIVAL, headers=headers)
            assert r.status_code == 503 and r.headers["retry-after"]
            count = {"definition": {}, "purpose": GRU}
            assert (
                http.post("/api/v1/cohorts/count", json=count, headers=headers).status_code == 200
            )
            store._lock.release()
            t0 = time.monotonic()
            while (
                r := http.post("/api/v1/cohorts/survival", json=SURVIVAL, headers=headers)
            ).status_code == 503:
                assert time.monotonic() - t0 < 10
                time.sleep(0.1)
            assert r.status_code == 200, r.text
    finally:
        if store._lock.locked():
            store._lock.release()
        srv.should_exit = True
        th.join(timeout=10)
