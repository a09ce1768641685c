"""The data-file writer (harmonise/lake/writer.py): streamed rows in chunks and
files, constant columns from dictionaries, rows kept in arrival order.
"""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from harmonise.errors import SubmissionError
from harmonise.lake import Lake, Submission, constant
from tests.harmonise.lake.common import ZERO
from tests.harmonise.lakefixtures import make_submission


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
