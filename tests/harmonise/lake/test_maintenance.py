"""Maintenance (``Lake.maintenance``, harmonise/lake/maintenance.py): deleted rows purged
from every file, compaction, the grace that spares commits in flight; files that crashed
writers leave are removed by the default ``maintain``; files that may still be being
written are not."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pyarrow as pa

from harmonise.lake import Lake
from harmonise.lake.writer import DataFileWriter, conform, writer_state
from harmonise.model import TABLES, TableDef
from tests.conftest import TAG_KEY
from tests.harmonise.lake.common import ZERO, all_rows_in_files, visible
from tests.harmonise.lakefixtures import make_submission, spawn_worker, wait_for, worker_config


def unreferenced(lake: Lake) -> set[str]:
    referenced: set[str] = set()
    for name in TABLES:
        referenced |= lake.maintenance._referenced_files(lake.table(name))
    return set(lake.data_files()) - referenced


def has_footer(path: str) -> bool:
    data = Path(path).read_bytes()
    return len(data) >= 12 and data[-4:] == b"PAR1"


def test_sigkilled_ingest_leaves_footerless_files_that_default_maintain_removes(
    local_lake: Lake, tmp_path: Path
) -> None:
    local_lake.commit(make_submission("ds-other", "c2", ["c2-p1"]))
    cfg = worker_config(tmp_path, local_lake.config, TAG_KEY)
    marker = tmp_path / "reached"
    proc = spawn_worker(cfg, "ds-a", "c1", 3, "mid-variants", marker)
    wait_for(marker, proc)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()

    left = unreferenced(local_lake)
    assert left and any(not has_footer(p) for p in left), "the killed write left no file"
    assert all(writer_state(p) == "dead" for p in left)
    report = local_lake.maintain()  # the defaults: a week of history, an hour's grace
    assert report.crashed_writer_files == len(left)
    assert report.orphan_files_removed == len(left)
    assert unreferenced(local_lake) == set()
    assert local_lake.table_counts()["patients"] == 1

    # nothing of it was appended (files are registered after every table is written): the
    # retry writes and commits it once
    retry = Lake(local_lake.config, TAG_KEY)
    retry.commit(make_submission("ds-a", "c1", [f"c1-p{i}" for i in range(3)]))
    assert retry.table_counts()["patients"] == 4 and retry.table_counts()["variants"] == 12


def test_files_a_live_or_unknown_writer_may_still_be_writing_are_kept(local_lake: Lake) -> None:
    sub = make_submission("ds-a", "c1", ["c1-p1"])
    tdef: TableDef = TABLES["patients"]
    tbl = local_lake.table("patients")
    rows = sub.tables["patients"]
    assert isinstance(rows, pa.Table)
    writer = DataFileWriter(tbl, tdef, {"ds-a": dict(sub.tags)}, TAG_KEY, "in-flight", sort=False)
    writer.write(conform(tdef, rows, sub))  # a file open, its footer not written yet
    other_host = Path(
        tbl.location().removeprefix("file://"),
        "data",
        f"x-w00000000p1s1-{'0' * 32}.parquet",
    )
    other_host.write_bytes(b"PAR1 half a file")
    try:
        [open_file] = unreferenced(local_lake) - {str(other_host)}
        assert writer_state(open_file) == "alive"
        assert writer_state(str(other_host)) == "unknown"
        report = local_lake.maintain()
        assert report.orphan_files_removed == 0
        assert Path(open_file).exists() and other_host.exists()
    finally:
        writer.abort()
    assert not Path(open_file).exists()


def test_delete_then_maintain_purges_rows_from_every_file(lake: Lake) -> None:
    lake.commit(make_submission("ds-a", "c1", ["c1-p1", "c1-p2", "c1-p3"]))
    lake.commit(make_submission("ds-b", "c2", ["c2-p1"]))
    removed = lake.delete_rows({"patient_id": ["c1-p2"]})
    assert removed["patients"] == 1 and removed["variants"] == 3 and removed["consents"] == 1
    assert "c1-p2" not in lake.read("patients", columns=["patient_id"]).column(0).to_pylist()
    # Until maintenance, older snapshots' files still hold the row (time travel).
    assert "c1-p2" in all_rows_in_files(lake, "patient_id")
    lake.maintain(expire_older_than=ZERO, grace=ZERO)
    assert "c1-p2" not in all_rows_in_files(lake, "patient_id")
    assert visible(lake)["patients"] == 3


def test_purge_with_default_grace_removes_released_files_but_spares_commits_in_flight(
    local_lake: Lake, tmp_path: Path
) -> None:
    local_lake.commit(make_submission("ds-a", "c1", ["c1-p1", "c1-p2"]))
    # rows of a submission still committing (its datasets row not written yet)
    in_flight = make_submission("ds-b", "c2", ["c2-p1"])
    local_lake._append_files(
        local_lake.table("patients"),
        local_lake._write_files(
            local_lake.table("patients"),
            TABLES["patients"],
            conform(TABLES["patients"], in_flight.tables["patients"], in_flight),
            {"ds-b": dict(in_flight.tags)},
            in_flight.submission_id,
        ),
        in_flight.submission_id,
        "append",
    )
    local_lake.delete_rows({"patient_id": ["c1-p2"]})
    local_lake.maintain(expire_older_than=ZERO)  # default grace
    values = all_rows_in_files(local_lake, "patient_id")
    assert "c1-p2" not in values
    assert "c2-p1" in values  # the in-flight submission's rows were not purged
    local_lake.commit(in_flight)
    assert sorted(local_lake.read("patients", columns=["patient_id"]).column(0).to_pylist()) == [
        "c1-p1",
        "c2-p1",
    ]


def test_maintenance_compacts_small_files(lake: Lake) -> None:
    for i in range(4):
        lake.commit(make_submission(f"ds-{i}", f"c{i}", [f"c{i}-p1"]))
    before = len(list(lake.table("patients").scan().plan_files()))
    report = lake.maintain(expire_older_than=ZERO, grace=ZERO)
    after = len(list(lake.table("patients").scan().plan_files()))
    assert before == 4 and after == 1
    assert report.files_compacted["patients"] == (4, 1)
    assert visible(lake)["patients"] == 4
    # compacted files still verify
    assert lake.read("variants").num_rows == 12
