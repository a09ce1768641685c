"""The lake's commit protocol and reads (harmonise/lake/core.py), on every backend
(SQLite/PostgreSQL catalog × local/S3 files): commit, re-commit, replacement, reads by
submission, version and expression; atomicity under SIGKILL; concurrent committers.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

import pyarrow as pa
import pytest

from harmonise.errors import LakeNotInitialisedError, SubmissionError
from harmonise.lake import Lake, LakeConfig, LakeVersion
from harmonise.model import DATA_TABLES, TABLES
from tests.conftest import TAG_KEY
from tests.harmonise.lake.common import ZERO, all_rows_in_files, visible
from tests.harmonise.lakefixtures import WORKER, make_submission


def test_init_is_idempotent_and_creates_every_table(lake: Lake) -> None:
    assert lake.is_initialised()
    assert lake.init() == []
    assert visible(lake) == {name: 0 for name in TABLES}


def test_commit_makes_every_table_visible_and_reads_back(lake: Lake) -> None:
    sub = make_submission("ds-a", "c1", ["c1-p1", "c1-p2", "c1-p3"])
    result = lake.commit(sub)
    assert result.status == "committed"
    counts = visible(lake)
    assert counts["datasets"] == 1
    assert counts["patients"] == 3
    assert counts["variants"] == 9
    assert counts["consents"] == 3
    braf = lake.read(
        "variants", row_filter="gene == 'BRAF'", columns=["patient_id", "protein_change"]
    )
    assert sorted(braf.column("patient_id").to_pylist()) == ["c1-p1", "c1-p2", "c1-p3"]
    assert set(braf.column("protein_change").to_pylist()) == {"V600E"}
    ds = lake.read("datasets").to_pylist()[0]
    assert ds["dataset_id"] == "ds-a" and ds["centre_id"] == "c1"
    assert json.loads(ds["row_counts_json"])["variants"] == 9


def test_recommitting_the_same_submission_changes_nothing(lake: Lake) -> None:
    sub = make_submission("ds-a", "c1", ["c1-p1", "c1-p2"])
    first = lake.commit(sub)
    again = lake.commit(sub)
    assert again.status == "unchanged"
    assert again.version == first.version
    assert visible(lake)["patients"] == 2


def test_corrected_bundle_replaces_the_dataset_rows(lake: Lake) -> None:
    lake.commit(make_submission("ds-a", "c1", ["c1-p1", "c1-p2"]))
    lake.commit(make_submission("ds-b", "c2", ["c2-p1"]))
    corrected = make_submission("ds-a", "c1", ["c1-p1", "c1-p7", "c1-p8"], revision=1)
    result = lake.commit(corrected)
    assert result.replaced is not None
    patients = set(lake.read("patients", columns=["patient_id"]).column(0).to_pylist())
    assert patients == {"c1-p1", "c1-p7", "c1-p8", "c2-p1"}
    assert visible(lake)["datasets"] == 2


def test_read_filters_by_submission_and_expression_on_unprojected_columns(
    local_lake: Lake,
) -> None:
    a = local_lake.commit(make_submission("ds-a", "c1", ["c1-p1", "c1-p2"]))
    local_lake.commit(make_submission("ds-b", "c2", ["c2-p1"]))
    only_a = local_lake.read("patients", columns=["patient_id"], submissions=[a.submission_id])
    assert sorted(only_a.column(0).to_pylist()) == ["c1-p1", "c1-p2"]
    tp53 = local_lake.read("variants", row_filter="gene == 'TP53'", columns=["patient_id"])
    assert sorted(tp53.column(0).to_pylist()) == ["c1-p1", "c1-p2", "c2-p1"]
    assert local_lake.read("variants", submissions=["no-such-submission"]).num_rows == 0
    datasets = local_lake.read("datasets", submissions=[a.submission_id])
    assert datasets.column("dataset_id").to_pylist() == ["ds-a"]


def test_read_since_a_version_reads_only_the_files_appended_after_it(
    lake: Lake, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``read(since=…)`` (the discovery index's refresh) finds a new submission's rows in
    the files appended after the index's version, without planning over the history; and
    when the submission's rows were appended before that version (the index looked between
    the data appends and the ``datasets`` commit), it plans over every file instead."""
    from pyiceberg.table import DataScan

    lake.commit(make_submission("ds-a", "c1", ["c1-p1", "c1-p2"]))
    before = lake.current_version()
    b = make_submission("ds-b", "c2", ["c2-p1"])
    lake.commit(b)
    expected = lake.read("variants", submissions=[b.submission_id]).to_pylist()
    assert expected and {r["patient_id"] for r in expected} == {"c2-p1"}

    def no_planning(*_a: object, **_k: object) -> None:
        raise AssertionError("planned over the whole table")

    want = {n: lake.read(n, submissions=[b.submission_id]).num_rows for n in DATA_TABLES}
    with monkeypatch.context() as m:
        m.setattr(DataScan, "plan_files", no_planning)
        got_rows = {
            n: lake.read(n, submissions=[b.submission_id], since=before).num_rows
            for n in DATA_TABLES
        }
        got = lake.read("variants", submissions=[b.submission_id], since=before).to_pylist()
    assert got_rows == want
    assert sorted(got, key=str) == sorted(expected, key=str)

    # the race: a version taken after c3's data appends but before its datasets row
    seen: list[LakeVersion] = []
    real = Lake._commit_dataset_row

    def look_first(self: Lake, *args: object) -> object:
        seen.append(self.current_version())
        return real(self, *args)  # type: ignore[arg-type]

    c = make_submission("ds-c", "c3", ["c3-p1"])
    monkeypatch.setattr(Lake, "_commit_dataset_row", look_first)
    lake.commit(c)
    monkeypatch.undo()
    late = lake.read("variants", submissions=[c.submission_id], since=seen[0]).to_pylist()
    assert late and late == lake.read("variants", submissions=[c.submission_id]).to_pylist()
    # a version whose snapshots were expired meanwhile: read as without ``since``
    lake.expire_history(ZERO)
    gone = lake.read("variants", submissions=[b.submission_id], since=before).to_pylist()
    assert sorted(gone, key=str) == sorted(expected, key=str)


def test_old_versions_stay_readable_by_snapshot(lake: Lake) -> None:
    lake.commit(make_submission("ds-a", "c1", ["c1-p1"]))
    v1 = lake.current_version()
    lake.commit(make_submission("ds-b", "c2", ["c2-p1", "c2-p2"]))
    v2 = lake.current_version()
    assert v1.id != v2.id
    assert lake.table_counts(v1)["patients"] == 1
    assert lake.table_counts(v2)["patients"] == 3
    assert LakeVersion.from_json(v1.to_json()) == v1


def test_change_token_changes_with_every_commit_and_only_then(lake: Lake) -> None:
    t0 = lake.change_token()
    assert len(t0) == len(TABLES) and t0 == lake.change_token()
    lake.commit(make_submission("ds-a", "c1", ["c1-p1"]))
    t1 = lake.change_token()
    assert t1 != t0 and t1 == lake.change_token()
    lake.delete_rows({"patient_id": ["c1-p1"]})
    assert lake.change_token() != t1


def test_duckdb_view_answers_sql_at_a_version(lake: Lake) -> None:
    lake.commit(make_submission("ds-a", "c1", ["c1-p1", "c1-p2"]))
    con = lake.duckdb(tables=["variants", "conditions"])
    rows = con.execute(
        "select c.oncotree_code, count(distinct v.patient_id) from variants v "
        "join conditions c using (patient_id) where v.gene = 'BRAF' group by 1 order by 1"
    ).fetchall()
    assert rows == [("COAD", 1), ("LUAD", 1)]


def test_bad_submissions_are_refused_and_leave_nothing(local_lake: Lake) -> None:
    sub = make_submission("ds-a", "c1", ["c1-p1"])
    bad_table = dict(sub.tables)
    bad_table["variants"] = sub.tables["variants"].append_column(
        "colour", pa.array(["red"] * sub.tables["variants"].num_rows)
    )
    with pytest.raises(SubmissionError, match=r"table variants: columns not in the schema"):
        local_lake.commit(
            type(sub)(
                sub.submission_id, sub.dataset_id, sub.centre_id, sub.dataset, bad_table, sub.tags
            )
        )
    wrong_centre = dict(sub.tables)
    wrong_centre["patients"] = sub.tables["patients"].append_column(
        "centre_id", pa.array(["c9"] * sub.tables["patients"].num_rows)
    )
    with pytest.raises(SubmissionError, match=r"column centre_id holds \['c9'\]"):
        local_lake.commit(
            type(sub)(
                sub.submission_id,
                sub.dataset_id,
                sub.centre_id,
                sub.dataset,
                wrong_centre,
                sub.tags,
            )
        )
    assert visible(local_lake) == {name: 0 for name in TABLES}


def test_uninitialised_lake_says_how_to_fix(tmp_path: Path) -> None:
    lake = Lake(LakeConfig(f"sqlite:///{tmp_path / 'c.db'}", str(tmp_path / "w")), TAG_KEY)
    with pytest.raises(LakeNotInitialisedError, match="run `oncolake lake init` first"):
        lake.current_version()


def _worker_config(tmp_path: Path, config: LakeConfig) -> Path:
    path = tmp_path / f"worker-{time.monotonic_ns()}.json"
    path.write_text(
        json.dumps(
            {
                "config": {**asdict(config), "properties": dict(config.properties)},
                "tag_key": TAG_KEY.decode(),
            }
        )
    )
    return path


def _spawn(
    cfg: Path, dataset: str, centre: str, n: int, pause_at: str, marker: Path
) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(Path(__file__).resolve().parents[3]), env.get("PYTHONPATH", "")]
    )
    return subprocess.Popen(
        [sys.executable, str(WORKER), str(cfg), dataset, centre, str(n), pause_at, str(marker)],
        env=env,
        stderr=subprocess.PIPE,
    )


KILL_POINTS = [
    "patients: writing",  # nothing written yet
    "variants: writing",  # patients and conditions committed to their tables
    "datasets: committing",  # every data table committed, the commit point not reached
]


@pytest.mark.parametrize("pause_at", KILL_POINTS)
def test_sigkill_during_commit_leaves_nothing_visible_and_retry_commits_once(
    local_lake: Lake, tmp_path: Path, pause_at: str
) -> None:
    local_lake.commit(make_submission("ds-other", "c2", ["c2-p1"]))
    before = visible(local_lake)
    cfg = _worker_config(tmp_path, local_lake.config)
    marker = tmp_path / "reached"
    proc = _spawn(cfg, "ds-a", "c1", 3, pause_at, marker)
    deadline = time.monotonic() + 60
    while not marker.exists():
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        assert time.monotonic() < deadline, "worker never reached the kill point"
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL

    fresh = Lake(local_lake.config, TAG_KEY)
    assert visible(fresh) == before, "a killed submission must leave nothing visible"

    fresh.commit(make_submission("ds-a", "c1", ["c1-p0", "c1-p1", "c1-p2"]))
    after = visible(fresh)
    assert after["patients"] == before["patients"] + 3
    assert after["variants"] == before["variants"] + 9
    assert after["datasets"] == before["datasets"] + 1
    raw = all_rows_in_files(fresh, "patient_id")
    fresh.maintain(expire_older_than=ZERO, grace=ZERO)
    # exactly once: after maintenance no file holds a second copy of any row
    assert visible(fresh) == after
    files_after = all_rows_in_files(fresh, "patient_id")
    per_table_rows = sum(after[t] for t in DATA_TABLES)
    assert len(files_after) == per_table_rows
    assert len(raw) >= len(files_after)


def test_sigkill_at_random_moments_never_shows_partial_submission(
    local_lake: Lake, tmp_path: Path
) -> None:
    cfg = _worker_config(tmp_path, local_lake.config)
    for delay in (0.3, 0.8, 1.3, 1.8):
        proc = _spawn(cfg, "ds-r", "c5", 4, "-", tmp_path / "unused")
        time.sleep(delay)
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        counts = visible(Lake(local_lake.config, TAG_KEY))
        if counts["datasets"]:
            assert counts["patients"] == 4 and counts["variants"] == 12
            break
        assert counts == {name: 0 for name in TABLES}
    retry = Lake(local_lake.config, TAG_KEY)
    retry.commit(make_submission("ds-r", "c5", [f"c5-p{i}" for i in range(4)]))
    assert visible(retry)["patients"] == 4
    retry.maintain(expire_older_than=ZERO, grace=ZERO)
    counts = visible(retry)
    assert len(all_rows_in_files(retry, "patient_id")) == sum(counts[t] for t in DATA_TABLES)


@pytest.mark.parametrize("catalog", ["sqlite", "postgres"])
def test_concurrent_centres_all_land_exactly_once(
    tmp_path: Path, catalog: str, request: pytest.FixtureRequest
) -> None:
    uri = (
        f"sqlite:///{tmp_path / 'catalog.db'}"
        if catalog == "sqlite"
        else request.getfixturevalue("postgres_url")
    )
    config = LakeConfig(catalog_uri=uri, warehouse=str(tmp_path / "warehouse"))
    Lake(config, TAG_KEY).init()
    cfg = _worker_config(tmp_path, config)
    n_workers = 4
    procs = [_spawn(cfg, f"ds-{i}", f"c{i}", 5, "-", tmp_path / "unused") for i in range(n_workers)]
    for p in procs:
        p.wait(timeout=240)
        assert p.returncode == 0, p.stderr.read().decode() if p.stderr else ""
    lake = Lake(config, TAG_KEY)
    counts = visible(lake)
    assert counts["datasets"] == n_workers
    assert counts["patients"] == 5 * n_workers
    assert counts["variants"] == 15 * n_workers
    ids = lake.read("patients", columns=["patient_id"]).column(0).to_pylist()
    assert len(ids) == len(set(ids))
