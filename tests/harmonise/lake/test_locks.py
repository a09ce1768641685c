"""Committers at once, in separate processes: the same bundle ingested twice at once
commits once."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from harmonise.lake import Lake, LakeConfig
from tests.conftest import TAG_KEY
from tests.harmonise.lakefixtures import spawn_worker, worker_config


@pytest.mark.parametrize("catalog", ["sqlite", "postgres"])
def test_same_bundle_ingested_twice_at_once_commits_once(
    tmp_path: Path, catalog: str, request: pytest.FixtureRequest
) -> None:
    """Both processes check for an earlier commit of the submission before either has
    written anything (each waits at the start of writing until both are there, or until
    the other holds the dataset's commit lock); then they go on together. Before the
    commit lock, both appended every table and the one datasets row made both copies
    visible (521 patients read as 1,042)."""
    uri = (
        f"sqlite:///{tmp_path / 'catalog.db'}"
        if catalog == "sqlite"
        else request.getfixturevalue("postgres_url")
    )
    config = LakeConfig(catalog_uri=uri, warehouse=str(tmp_path / "warehouse"))
    Lake(config, TAG_KEY).init()
    cfg = worker_config(tmp_path, config, TAG_KEY)
    release = tmp_path / "go"
    markers = [tmp_path / "first", tmp_path / "second"]
    procs = [spawn_worker(cfg, "ds-a", "c1", 5, "patients: writing", m, release) for m in markers]
    # one reaches the write; the other either reaches it too (no lock: the bug) or waits
    # for the first's lock (says so, and reaches the write only after the first committed)
    logs = [Path(f"{m}.log") for m in markers]

    def waiting() -> bool:
        return any("waiting for" in (lg.read_text() if lg.exists() else "") for lg in logs)

    deadline = time.monotonic() + 120
    while not (
        all(m.exists() for m in markers) or (any(m.exists() for m in markers) and waiting())
    ):
        for p in procs:
            assert p.poll() is None, p.communicate()[1].decode()
        assert time.monotonic() < deadline, "the workers neither both wrote nor one waited"
        time.sleep(0.02)
    release.write_text("go")
    statuses = []
    for p in procs:
        out, err = p.communicate(timeout=240)
        assert p.returncode == 0, err.decode()
        statuses.append(out.decode().strip())
    assert sorted(statuses) == ["committed", "unchanged"]
    lake = Lake(config, TAG_KEY)
    counts = lake.table_counts()
    assert counts["datasets"] == 1
    assert counts["patients"] == 5 and counts["variants"] == 15 and counts["consents"] == 5
    ids = lake.read("patients", columns=["patient_id"]).column(0).to_pylist()
    assert len(ids) == len(set(ids)) == 5
