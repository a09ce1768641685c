"""The lake layer's contract, on every backend (SQLite/PostgreSQL catalog × local/S3 files).

Also: atomicity under SIGKILL, concurrent committers, delete + maintain purging rows from
every data file, tampered files refused, versions pinned through maintenance.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from harmonise.errors import (
    LakeNotInitialisedError,
    SubmissionError,
    TamperedFileError,
    UnknownVersionError,
)
from harmonise.lake import (
    MERGE_PROP,
    SUBMISSION_PROP,
    Lake,
    LakeConfig,
    LakeVersion,
    Submission,
    constant,
)
from harmonise.lake.bounds import may_hold as _may_hold
from harmonise.lake.writer import conform
from harmonise.model import DATA_TABLES, TABLES
from tests.conftest import TAG_KEY
from tests.harmonise.lakefixtures import make_submission

WORKER = Path(__file__).with_name("lake_worker.py")
ZERO = dt.timedelta(0)


def visible(lake: Lake) -> dict[str, int]:
    return lake.table_counts()


def all_rows_in_files(lake: Lake, column: str) -> list[str]:
    """Every value of ``column`` in every Parquet file under the warehouse, referenced or not."""
    values: list[str] = []
    for path in lake.data_files():
        data = lake.open_file(path)
        if column in data.column_names:
            values += [v for v in data.column(column).to_pylist() if v is not None]
    return values


# -- contract (every backend) ---------------------------------------------------------------


def test_init_is_idempotent_and_creates_every_table(lake: Lake) -> None:
    assert lake.is_initialised()
    assert lake.init() == []
    assert visible(lake) == {name: 0 for name in TABLES}


def test_table_schemas_document_every_field(lake: Lake) -> None:
    for name, tdef in TABLES.items():
        tbl = lake.table(name)
        for fld in tbl.schema().fields:
            assert fld.doc, f"{name}.{fld.name} has no doc"
        for key in ("dataset_id", "centre_id", "submission_id"):
            assert tbl.schema().find_field(key).required
        assert len(tbl.spec().fields) == (1 if tdef.bucket else 0)
    variants = lake.table("variants")
    assert str(variants.spec().fields[0].transform) == "bucket[8]"
    assert [f.source_id for f in variants.sort_order().fields] == [
        variants.schema().find_field(c).field_id for c in ("gene", "protein_change", "patient_id")
    ]


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


def test_streamed_rows_commit_in_chunks_and_a_failing_stream_leaves_nothing(
    local_lake: Lake, monkeypatch: pytest.MonkeyPatch
) -> None:
    import harmonise.lake.writer as lake_module

    monkeypatch.setattr(lake_module, "WRITE_CHUNK_ROWS", 4)
    sub = make_submission("ds-a", "c1", [f"c1-p{i}" for i in range(5)])
    variants = sub.tables["variants"]  # 15 rows
    pieces = (variants.slice(i, 2).to_batches()[0] for i in range(0, variants.num_rows, 2))
    streamed = Submission(
        sub.submission_id, sub.dataset_id, sub.centre_id, sub.dataset,
        {**sub.tables, "variants": pieces}, sub.tags,
    )  # fmt: skip
    result = local_lake.commit(streamed)
    assert result.rows["variants"] == 15
    assert local_lake.read("variants").num_rows == 15
    # one file per partition for the whole stream, a row group per chunk it had rows in
    tasks = list(local_lake.table("variants").scan().plan_files())
    assert len(tasks) == len({str(t.file.partition) for t in tasks})
    groups = [pq.ParquetFile(t.file.file_path).metadata.num_row_groups for t in tasks]
    assert sum(t.file.record_count for t in tasks) == 15
    assert sum(groups) > len(tasks)  # 4 chunks over fewer files
    assert local_lake.verify_file(local_lake.table("variants"), tasks[0].file.file_path)

    # a partition's file is closed after FILE_MAX_ROWS rows; the next chunk opens another
    monkeypatch.setattr(lake_module, "FILE_MAX_ROWS", 4)
    many = make_submission("ds-m", "c3", [f"c3-p{i}" for i in range(5)])
    mv = many.tables["variants"]
    pieces4 = iter([mv.slice(i, 4) for i in range(0, mv.num_rows, 4)])
    chunked = Submission(
        many.submission_id, many.dataset_id, many.centre_id, many.dataset,
        {**many.tables, "variants": pieces4}, many.tags,
    )  # fmt: skip
    local_lake.commit(chunked)
    mine = [
        t.file
        for t in local_lake.table("variants").scan().plan_files()
        if t.file.file_path not in {x.file.file_path for x in tasks}
    ]
    assert sum(f.record_count for f in mine) == mv.num_rows
    assert len(mine) > len({str(f.partition) for f in mine})  # rolled over
    assert all(f.record_count < 4 + 4 for f in mine)

    def broken() -> Iterator[pa.Table]:
        yield variants.slice(0, 5)
        raise SubmissionError("the VCF ended in the middle of a record")

    bad = make_submission("ds-b", "c2", ["c2-p1"])
    with pytest.raises(SubmissionError, match="middle of a record"):
        local_lake.commit(
            Submission(
                bad.submission_id,
                bad.dataset_id,
                bad.centre_id,
                bad.dataset,
                {**bad.tables, "variants": broken()},
                bad.tags,
            )
        )
    assert {r["dataset_id"] for r in local_lake.read("datasets").to_pylist()} == {"ds-a", "ds-m"}
    assert local_lake.read("variants").num_rows == 15 + mv.num_rows


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


def test_history_keeps_scans_bounded_datasets_one_file_manifests_merged(
    local_lake: Lake,
) -> None:
    # a lake made before manifests were merged is upgraded by init
    with local_lake.table("variants").transaction() as txn:
        txn.set_properties({MERGE_PROP: "false"})
    assert local_lake.init() == []
    assert local_lake.table("variants").properties[MERGE_PROP] == "true"
    # merge as soon as 3 manifests pile up (Iceberg's default is 100)
    with local_lake.table("variants").transaction() as txn:
        txn.set_properties({"commit.manifest.min-count-to-merge": "3"})
    for i in range(6):
        local_lake.commit(make_submission(f"ds-{i}", f"c{i}", [f"c{i}-p1"]))
    local_lake.commit(make_submission("ds-2", "c2", ["c2-p1", "c2-p2"], revision=1))
    datasets = local_lake.table("datasets")
    files = list(datasets.scan().plan_files())
    assert len(files) == 1  # rewritten whole at each commit, the replaced row dropped
    snap = datasets.current_snapshot()
    assert snap is not None
    # only this snapshot's own record of deleted files: earlier ones are not carried forward
    manifests = snap.manifests(datasets.io)
    assert len([m for m in manifests if not (m.has_added_files() or m.has_existing_files())]) == 1
    assert len(manifests) == 2
    assert sorted(local_lake.visible_submissions().column("dataset_id").to_pylist()) == [
        f"ds-{i}" for i in range(6)
    ]
    variants = local_lake.table("variants")
    snap = variants.current_snapshot()
    assert snap is not None
    assert len(snap.manifests(variants.io)) < 4  # 7 appends, without merging 7 manifests
    assert local_lake.table_counts()["variants"] == 7 * 3
    # history expired without the rest of maintenance: each table keeps its current snapshot
    expired = local_lake.expire_history(ZERO)
    assert expired["variants"] == 6 and expired["datasets"] == 6
    assert all(len(local_lake.table(n).metadata.snapshots) == 1 for n in expired)
    assert local_lake.table_counts()["variants"] == 7 * 3
    local_lake.commit(make_submission("ds-9", "c9", ["c9-p1"]))  # the retry check scans rows
    assert local_lake.table_counts()["variants"] == 8 * 3


def test_retry_check_reads_rows_only_once_history_was_expired(local_lake: Lake) -> None:
    sub = make_submission("ds-a", "c1", ["c1-p1"])
    local_lake.commit(sub)
    tbl = local_lake.table("variants")
    assert Lake._has_submission_append(tbl, sub.submission_id)  # by its append snapshot
    assert not Lake._has_submission_append(tbl, "sub-never-written")  # complete history
    local_lake.commit(make_submission("ds-b", "c2", ["c2-p1"]))
    local_lake.maintain(expire_older_than=ZERO, grace=ZERO)  # expires ds-a's append
    tbl = local_lake.table("variants")
    summaries = [s.summary.additional_properties for s in tbl.metadata.snapshots if s.summary]
    assert all(p.get(SUBMISSION_PROP) != sub.submission_id for p in summaries)
    assert Lake._has_submission_append(tbl, sub.submission_id)  # now by its rows
    assert not Lake._has_submission_append(tbl, "sub-never-written")
    # the files' submission_id bounds answer "no" without a scan; "maybe" needs one
    assert not _may_hold(tbl, "submission_id", "sub-never-written")
    assert _may_hold(tbl, "submission_id", sub.submission_id)
    assert not _may_hold(tbl, "submission_id", sub.submission_id[:15] + "~")


def test_duckdb_view_answers_sql_at_a_version(lake: Lake) -> None:
    lake.commit(make_submission("ds-a", "c1", ["c1-p1", "c1-p2"]))
    con = lake.duckdb(tables=["variants", "conditions"])
    rows = con.execute(
        "select c.oncotree_code, count(distinct v.patient_id) from variants v "
        "join conditions c using (patient_id) where v.gene = 'BRAF' group by 1 order by 1"
    ).fetchall()
    assert rows == [("COAD", 1), ("LUAD", 1)]


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


def test_file_with_edited_rows_but_copied_tags_is_refused(local_lake: Lake) -> None:
    local_lake.commit(make_submission("ds-a", "c1", ["c1-p1", "c1-p2"]))
    path = next(iter(local_lake.table("consents").scan().plan_files())).file.file_path
    local = path.removeprefix("file://")
    original = pq.read_table(local)
    edited = original.set_column(
        original.schema.get_field_index("status"),
        original.schema.field("status"),
        pa.array(
            ["withdrawn-but-hidden"] * original.num_rows, original.schema.field("status").type
        ),
    )
    pq.write_table(edited.replace_schema_metadata(pq.read_metadata(local).metadata), local)
    with pytest.raises(TamperedFileError, match="rows do not match the signed digest"):
        Lake(local_lake.config, TAG_KEY).read("consents")


def test_pinned_version_survives_maintenance(lake: Lake) -> None:
    lake.commit(make_submission("ds-a", "c1", ["c1-p1", "c1-p2"]))
    pinned = lake.current_version()
    lake.pin(pinned, "export-1")
    lake.commit(make_submission("ds-a", "c1", ["c1-p9"], revision=1))
    unpinned = lake.current_version()
    lake.commit(make_submission("ds-b", "c2", ["c2-p1"]))
    lake.maintain(expire_older_than=ZERO, grace=ZERO)
    assert lake.table_counts(pinned)["patients"] == 2
    assert set(lake.pins()) == {"export-1"}
    with pytest.raises(UnknownVersionError, match="no longer exists"):
        lake.table_counts(unpinned)
    lake.unpin("export-1")
    lake.maintain(expire_older_than=ZERO, grace=ZERO)
    with pytest.raises(UnknownVersionError):
        lake.table_counts(pinned)


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


def test_variant_files_keep_bounds_only_of_columns_files_are_selected_by(
    local_lake: Lake,
) -> None:
    tbl = local_lake.table("variants")
    with tbl.transaction() as txn:  # as a lake made before the metrics modes were set
        txn.remove_properties("write.metadata.metrics.column.hgvs_p")
    assert local_lake.init() == []  # sets them again
    local_lake.commit(make_submission("ds-a", "c1", ["c1-p1"]))
    tbl = local_lake.table("variants")
    assert tbl.properties["write.metadata.metrics.column.hgvs_p"] == "none"
    schema = tbl.schema()
    for task in tbl.scan().plan_files():
        names = {schema.find_column_name(i) for i in task.file.lower_bounds}
        assert {"gene", "patient_id", "submission_id", "pos"} <= names
        assert not names & set(TABLES["variants"].no_bounds)
        meta = pq.read_metadata(task.file.file_path.removeprefix("file://"))
        stats = {
            meta.schema.column(i).name: meta.row_group(0).column(i).is_stats_set
            for i in range(meta.num_columns)
        }
        assert stats["gene"] and not stats["variant_key"] and not stats["hgvs_p"]
    # pruning still works on a column with bounds and reading on one without
    assert local_lake.read("variants", row_filter="gene = 'BRAF'").num_rows == 1
    assert local_lake.read("variants", row_filter="alt = 'T'").num_rows == 3


def test_constant_columns_written_from_one_value_dictionaries_read_back_as_strings(
    local_lake: Lake,
) -> None:
    """Key columns and columns given as dictionary arrays (a VCF's patient, specimen…) are
    encoded from their dictionary; the files hold plain strings with exact bounds, so that
    readers, DuckDB and submission pruning see them as any other string column."""
    sub = make_submission("ds-a", "c1", ["c1-p1", "c1-p2"])
    variants = sub.tables["variants"]
    assert isinstance(variants, pa.Table)
    n = variants.num_rows
    pid = variants.column("patient_id").to_pylist()
    uniq = sorted(set(pid))
    as_dict = pa.DictionaryArray.from_arrays(
        pa.array([uniq.index(p) for p in pid], pa.int32()), pa.array(uniq)
    )
    variants = (
        variants.set_column(variants.schema.get_field_index("patient_id"), "patient_id", as_dict)
        .drop_columns(["genome_build"])
        .append_column("genome_build", constant("GRCh38", n))
    )
    local_lake.commit(
        Submission(sub.submission_id, sub.dataset_id, sub.centre_id, sub.dataset,
                   {**sub.tables, "variants": variants}, sub.tags)
    )  # fmt: skip
    tbl = local_lake.table("variants")
    schema = tbl.schema()
    for task in tbl.scan().plan_files():
        path = task.file.file_path.removeprefix("file://")
        assert pq.read_schema(path).field("patient_id").type == pa.string()
        bounds = {schema.find_column_name(k): v for k, v in task.file.lower_bounds.items()}
        upper = {schema.find_column_name(k): v for k, v in task.file.upper_bounds.items()}
        sid = sub.submission_id.encode()  # bounds truncated to 16 bytes (Iceberg's default)
        assert bounds["submission_id"] == sid[:16] and sid[:16] < upper["submission_id"]
        rows = pq.read_table(path, columns=["patient_id"]).column(0).to_pylist()
        assert bounds["patient_id"] == min(rows).encode()
        assert upper["patient_id"] == max(rows).encode()
    back = local_lake.read("variants")
    assert back.schema.field("patient_id").type == pa.string()
    assert sorted(back.column("patient_id").to_pylist()) == sorted(pid)
    assert set(back.column("genome_build").to_pylist()) == {"GRCh38"}
    assert set(back.column("dataset_id").to_pylist()) == {"ds-a"}
    got = local_lake.read("variants", row_filter="patient_id = 'c1-p2'").num_rows
    assert got == pid.count("c1-p2") > 0


def test_commits_keep_arrival_order_and_compaction_sorts(local_lake: Lake) -> None:
    def variant_files() -> list[list[tuple[str, str, str]]]:
        tbl = local_lake.table("variants")
        out = []
        for task in tbl.scan().plan_files():
            t = local_lake.open_file(task.file.file_path)
            out.append(
                list(
                    zip(
                        t.column("gene").to_pylist(),
                        t.column("protein_change").to_pylist(),
                        t.column("patient_id").to_pylist(),
                        strict=True,
                    )
                )
            )
        return out

    # patients in descending order: the table's sort order would put them ascending
    sub = make_submission("ds-a", "c1", ["c1-p3", "c1-p2", "c1-p1"])
    local_lake.commit(sub)
    v = sub.tables["variants"]
    assert isinstance(v, pa.Table)
    arrival = list(
        zip(
            v.column("gene").to_pylist(),
            v.column("protein_change").to_pylist(),
            v.column("patient_id").to_pylist(),
            strict=True,
        )
    )
    files = variant_files()
    assert sum(len(f) for f in files) == 9
    assert all(f == [r for r in arrival if r in f] for f in files)
    assert any(f != sorted(f) for f in files)
    local_lake.commit(make_submission("ds-b", "c2", ["c2-p2", "c2-p1"]))
    local_lake.maintain(expire_older_than=ZERO, grace=ZERO)
    files = variant_files()
    assert sum(len(f) for f in files) == 15
    assert all(f == sorted(f) for f in files)  # (gene, protein_change, patient_id)
    assert any(len(f) > 3 for f in files)


# -- the embedded default only (fast) -------------------------------------------------------


def test_tampered_file_is_refused(local_lake: Lake) -> None:
    local_lake.commit(make_submission("ds-a", "c1", ["c1-p1", "c1-p2"]))
    tbl = local_lake.table("patients")
    path = next(iter(tbl.scan().plan_files())).file.file_path
    local = path.removeprefix("file://")
    data = pq.read_table(local)
    meta = dict(pq.read_metadata(local).metadata)
    tags = json.loads(meta[b"oncolake.tags"])
    tags["datasets"]["ds-a"]["duo_codes"] = ["DUO:0000004"]  # widen the consent
    meta[b"oncolake.tags"] = json.dumps(tags).encode()
    pq.write_table(data.replace_schema_metadata(meta), local)
    fresh = Lake(local_lake.config, TAG_KEY)
    with pytest.raises(TamperedFileError, match="do not match their signature"):
        fresh.read("patients")


def test_file_without_tags_is_refused(local_lake: Lake) -> None:
    local_lake.commit(make_submission("ds-a", "c1", ["c1-p1"]))
    path = next(iter(local_lake.table("consents").scan().plan_files())).file.file_path
    local = path.removeprefix("file://")
    pq.write_table(pq.read_table(local).replace_schema_metadata(None), local)
    with pytest.raises(TamperedFileError, match="mandatory tags are missing"):
        Lake(local_lake.config, TAG_KEY).read("consents")


def test_file_signed_with_another_key_is_refused(local_lake: Lake) -> None:
    local_lake.commit(make_submission("ds-a", "c1", ["c1-p1"]))
    with pytest.raises(TamperedFileError):
        Lake(local_lake.config, b"another-key").read("patients")


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


# -- atomicity: SIGKILL from outside at several points --------------------------------------


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
        [str(Path(__file__).resolve().parents[2]), env.get("PYTHONPATH", "")]
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


# -- concurrency ----------------------------------------------------------------------------


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
