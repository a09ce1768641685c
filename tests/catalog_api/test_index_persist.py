"""The discovery index persisted per lake version: reused after a restart, brought up to date
after appends, never used when the lake moved on otherwise or when the file is corrupt;
"not ready" (503) while the first index is being built."""

from __future__ import annotations

import dataclasses
import logging
import time
import types
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from fastapi import FastAPI

from catalog_api.auth import tokens
from catalog_api.core.config import ApiConfig
from catalog_api.db import make_engine, upgrade
from catalog_api.discovery import index_genomic, index_store
from catalog_api.discovery.definition import parse_definition
from catalog_api.discovery.engine import DiscoveryEngine
from catalog_api.discovery.history import SqlStore
from catalog_api.discovery.index import LakeIndex
from catalog_api.discovery.index_store import FIELDS, INDEX_DIR, IndexStore
from catalog_api.main import create_app
from catalog_api.models import User
from consent.purpose import ResearchPurpose
from harmonise.lake import Lake
from tests.catalog_api.conftest import C1_PATIENTS, make_network_lake
from tests.catalog_api.test_auth_perf_paths import serving
from tests.conftest import TAG_KEY
from tests.harmonise.lakefixtures import make_submission

KEY = b"test-secret-key-0123456789abcdef"
QUESTIONS = [
    {"type": "variant", "gene": "BRAF"},
    {"type": "centre", "values": ["C1"]},
    {"type": "not", "criterion": {"type": "variant", "gene": "KRAS", "protein_change": "G12C"}},
    None,
]
GENERAL = ResearchPurpose.model_validate({"primary": "general"})
HEALTH = ResearchPurpose.model_validate({"primary": "health"})


def reopen(lake: Lake) -> Lake:
    """The same lake as a new object (as a restarted process opens it)."""
    again = Lake(lake.config, TAG_KEY)
    again.init()
    return again


def answers(engine: DiscoveryEngine) -> list[tuple[int, int, dict[str, list[str]]]]:
    """Totals, excluded and the patients of every question (for both purposes)."""
    out = []
    for q in QUESTIONS:
        d = parse_definition({"criteria": q} if q else {})
        for purpose in (GENERAL, HEALTH):
            r = engine.count(d, purpose)
            out.append((r.total, r.excluded, engine.patients(d, purpose)[1]))
    return out


@pytest.fixture
def lake(tmp_path: Path) -> Lake:
    return make_network_lake(tmp_path / "lake")


def researcher(app: FastAPI, name: str) -> dict[str, str]:
    """Headers of a new researcher of ``app``."""
    with app.state.sessionmaker() as s:
        u = User(username=name, roles=["researcher"], centres=[])
        s.add(u)
        s.flush()
        _row, token = tokens.create_token(s, user=u)
        s.commit()
    return {"Authorization": f"Bearer {token}"}


def engine_on(lake: Lake, home: Path) -> DiscoveryEngine:
    return DiscoveryEngine(reopen(lake), store=IndexStore(home / INDEX_DIR, KEY))


def test_every_index_field_is_persisted_or_said_not_to_be() -> None:
    """A new LakeIndex field must say how it is kept (index_store.FIELDS)."""
    assert set(FIELDS) == {f.name for f in dataclasses.fields(LakeIndex)}


def test_index_is_saved_and_reused_after_a_restart(lake: Lake, tmp_path: Path) -> None:
    first = engine_on(lake, tmp_path)
    first.refresh()
    assert first.indexer.full_builds == 1 and first.indexer.loads == 0
    [saved] = IndexStore(tmp_path / INDEX_DIR, KEY).files()
    assert first.index.version_id in saved.name

    restarted = engine_on(lake, tmp_path)
    restarted.refresh()
    assert restarted.indexer.loads == 1 and restarted.indexer.full_builds == 0
    assert restarted.index.version_id == first.index.version_id
    assert answers(restarted) == answers(first)
    assert restarted.datasets() and {d.dataset_id for d in restarted.datasets()} == {"D1", "D2"}


def test_index_saved_by_other_genomic_index_code_is_rebuilt(
    lake: Lake, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The code fingerprint covers index_genomic.py too: a file saved before its source
    changed is not loaded."""
    first = engine_on(lake, tmp_path)
    first.refresh()
    changed = tmp_path / "index_genomic.py"
    changed.write_bytes(Path(index_genomic.__file__).read_bytes() + b"# changed\n")
    modules = tuple(
        types.SimpleNamespace(__file__=str(changed)) if m is index_genomic else m
        for m in index_store.INDEX_MODULES
    )
    monkeypatch.setattr(index_store, "INDEX_MODULES", modules)
    restarted = engine_on(lake, tmp_path)
    restarted.refresh()
    assert restarted.indexer.loads == 0 and restarted.indexer.full_builds == 1
    assert answers(restarted) == answers(first)


def test_appends_since_the_saved_version_are_added_without_a_rebuild(
    lake: Lake, tmp_path: Path
) -> None:
    engine_on(lake, tmp_path).refresh()
    lake.commit(make_submission("D3", "C3", [f"C3-p{i}" for i in range(7)]))
    restarted = engine_on(lake, tmp_path)
    restarted.refresh()
    assert restarted.indexer.loads == 1 and restarted.indexer.full_builds == 0
    fresh = DiscoveryEngine(reopen(lake))
    fresh.refresh()
    assert restarted.index.version_id == fresh.index.version_id
    assert answers(restarted) == answers(fresh)
    assert "C3" in restarted.index.centres


def test_stale_index_is_not_used_when_the_lake_moved_on_by_more_than_appends(
    lake: Lake, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    engine_on(lake, tmp_path).refresh()
    gone = C1_PATIENTS[0]
    lake.delete_rows({"patient_id": [gone]})  # a withdrawal: not an append
    restarted = engine_on(lake, tmp_path)
    with caplog.at_level(logging.INFO, logger="catalog_api.discovery.index"):
        restarted.refresh()
    assert restarted.indexer.loads == 0 and restarted.indexer.full_builds == 1
    assert "not used: the lake changed by more than appends" in caplog.text
    assert gone not in {restarted.index.patient_ids[s] for s in restarted.index.live}
    fresh = DiscoveryEngine(reopen(lake))
    fresh.refresh()
    assert answers(restarted) == answers(fresh)
    # the stale file was replaced by the current version's
    [saved] = IndexStore(tmp_path / INDEX_DIR, KEY).files()
    assert restarted.index.version_id in saved.name
    assert gone.encode() not in saved.read_bytes()


@pytest.mark.parametrize("damage", ["flip", "cut", "other-key"])
def test_corrupt_index_file_is_rebuilt_with_a_log_line(
    lake: Lake, tmp_path: Path, caplog: pytest.LogCaptureFixture, damage: str
) -> None:
    first = engine_on(lake, tmp_path)
    first.refresh()
    [path] = IndexStore(tmp_path / INDEX_DIR, KEY).files()
    raw = bytearray(path.read_bytes())
    if damage == "flip":
        raw[len(raw) // 2] ^= 0x01
        path.write_bytes(bytes(raw))
    elif damage == "cut":
        path.write_bytes(bytes(raw[: len(raw) - 100]))
    else:  # written by someone without the app's key: its MAC does not verify
        IndexStore(tmp_path / INDEX_DIR, b"another key").save(first.index)
    restarted = engine_on(lake, tmp_path)
    with caplog.at_level(logging.WARNING, logger="catalog_api.discovery.index_store"):
        restarted.refresh()
    assert restarted.indexer.loads == 0 and restarted.indexer.full_builds == 1
    [line] = [r.getMessage() for r in caplog.records if "cannot be used" in r.getMessage()]
    assert str(path) in line and "deleted" in line
    assert answers(restarted) == answers(first)
    # rebuilt and saved again: the next restart loads it
    again = engine_on(lake, tmp_path)
    again.refresh()
    assert again.indexer.loads == 1


def test_not_ready_is_a_quick_503_with_retry_after_then_counts(
    lake: Lake, api_config: ApiConfig
) -> None:
    """While the first index is not built, counts, Beacon counts and /ready answer 503 at
    once (Retry-After, a one-line detail), and /health 200; then everything answers."""
    served = reopen(lake)
    app: FastAPI = create_app(api_config, served)
    app.state.index_wait_seconds = 0.2
    engine = app.state.discovery_engine
    hold = engine.indexer._refresh_lock  # the first build cannot start while held
    hold.acquire()
    headers = researcher(app, "rita")
    body = {"definition": {"criteria": QUESTIONS[0]}, "purpose": {"primary": "general"}}
    try:
        with serving(app) as http:
            assert http.get("/api/v1/health").status_code == 200
            for method, url, kw in [
                ("POST", "/api/v1/cohorts/count", {"json": body}),
                ("GET", "/api/v1/ready", {}),
                ("GET", "/api/beacon/v2/individuals", {}),
                ("GET", "/api/v1/filtering-terms", {}),
            ]:
                t = time.perf_counter()
                r = http.request(method, url, headers=headers, **kw)
                assert time.perf_counter() - t < 3, f"{url} hung"
                assert r.status_code == 503, (url, r.text)
                assert r.headers["retry-after"] == "5"
                assert "\n" not in r.text
            detail = http.get("/api/v1/ready").json()
            assert detail["ready"] is False and "being built" in detail["detail"]
            hold.release()
            deadline = time.monotonic() + 30
            while http.get("/api/v1/ready").status_code != 200:
                assert time.monotonic() < deadline, "the index was never ready"
                time.sleep(0.05)
            r = http.post("/api/v1/cohorts/count", json=body, headers=headers)
            assert r.status_code == 200, r.text
            assert http.get("/api/v1/ready").json()["lake_version"] == r.json()["lake_version"]
    finally:
        if hold.locked():
            hold.release()
        engine.stop()


def test_restarted_app_answers_from_the_persisted_index(
    lake: Lake, api_config: ApiConfig, tmp_path: Path
) -> None:
    """A real app restarted on the same home (a new Lake object, as a new process has)
    loads the index its predecessor saved and answers the same count."""
    body = {"definition": {"criteria": QUESTIONS[0]}, "purpose": {"primary": "general"}}
    counts = []
    for _ in range(2):
        app: FastAPI = create_app(api_config, reopen(lake))
        headers = researcher(app, f"r{len(counts)}")
        with serving(app) as http:
            r = http.post("/api/v1/cohorts/count", json=body, headers=headers)
            assert r.status_code == 200, r.text
            counts.append(r.json())
        ix = app.state.discovery_engine.indexer
        counts[-1]["_how"] = (ix.full_builds, ix.loads)
        app.state.discovery_engine.stop()
    assert counts[0]["_how"] == (1, 0) and counts[1]["_how"] == (0, 1)
    assert {k: v for k, v in counts[0].items() if k != "_how"} == {
        k: v for k, v in counts[1].items() if k != "_how"
    }


class CountingStore(SqlStore):
    """The application database's disclosure store, counting the patients it hashes."""

    hashed = 0

    def keys(self, patient_ids: Sequence[str]) -> list[str]:
        self.hashed += len(patient_ids)
        return super().keys(patient_ids)


def test_a_restart_numbers_patients_from_the_persisted_keys(lake: Lake, tmp_path: Path) -> None:
    """The stable numbers of a loaded index come from its persisted keys and the database,
    without hashing any patient again, and equal the numbers the store gives by id."""
    db = make_engine(f"sqlite:///{tmp_path / 'app.db'}")
    upgrade(db)
    first = engine_on(lake, tmp_path)
    first.refresh()
    idx = first.index
    every = np.arange(len(idx.patient_ids), dtype=np.uint32)
    store = CountingStore(db, KEY)
    numbers = idx.stable_slots(every, store)
    assert store.hashed == len(idx.patient_ids) and (numbers > 0).all()
    assert first.indexer.store is not None
    first.indexer.store.save(idx)

    restarted = engine_on(lake, tmp_path)
    restarted.refresh()
    assert restarted.indexer.loads == 1
    again = CountingStore(db, KEY)
    again.preload()
    loaded = restarted.index
    got = loaded.stable_slots(np.arange(len(loaded.patient_ids), dtype=np.uint32), again)
    assert again.hashed == 0
    by_id = dict(zip(idx.patient_ids, numbers.tolist(), strict=True))
    assert got.tolist() == [by_id[p] for p in loaded.patient_ids]
    assert got.tolist() == again.numbers(loaded.patient_ids).tolist()
    db.dispose()


def test_each_app_owns_its_engine_and_stops_it_with_itself(
    lake: Lake, api_config: ApiConfig, tmp_path: Path
) -> None:
    """Two apps over one Lake object: each its own engine (the second's first index a copy
    of the first's, not a build); an app's shutdown stops its engine's threads (none runs
    on against a dropped database) and leaves the other app's serving."""
    one = create_app(api_config, lake)
    other_home = tmp_path / "other"
    two = create_app(
        dataclasses.replace(api_config, home=other_home, exports_dir=other_home / "ex"), lake
    )
    e1, e2 = one.state.discovery_engine, two.state.discovery_engine
    assert e1 is not e2
    headers = researcher(one, "r1")
    count = {"definition": {}, "purpose": {"primary": "general"}}
    with serving(one) as http:
        r = http.post("/api/v1/cohorts/count", json=count, headers=headers)
        assert r.status_code == 200, r.text
        threads = [e1.indexer._thread, e1._numberer]
        assert all(t is not None and t.is_alive() for t in threads)
        e2.refresh()
        assert e2.indexer.copies == 1 and e2.indexer.full_builds == 0
        assert e2.index is not e1.index and e2.index.version_id == e1.index.version_id
        assert answers(e2) == answers(e1)
    assert not any(t is not None and t.is_alive() for t in threads)  # stopped with its app
    headers2 = researcher(two, "r2")
    with serving(two) as http:
        r2 = http.post("/api/v1/cohorts/count", json=count, headers=headers2)
        assert r2.status_code == 200 and r2.json()["count"] == r.json()["count"]
