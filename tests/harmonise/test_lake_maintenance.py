"""Maintenance (``Lake.maintenance``): files that crashed writers leave are removed by the
default ``maintain``; files that may still be being written are not."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pyarrow as pa

from harmonise.lake import Lake
from harmonise.lake.writer import DataFileWriter, conform, writer_state
from harmonise.model import TABLES, TableDef
from tests.conftest import TAG_KEY
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
