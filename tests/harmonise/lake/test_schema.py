"""The tables as the model makes them (harmonise/lake/schema.py and ``Lake.init``): every
field documented, partitioning, sort order and which columns keep bounds; a lake made by an
older model brought up to the current one: new tables are created and new columns added to
existing tables (additive only), the rows kept."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from harmonise.errors import LakeConfigError
from harmonise.lake import Lake
from harmonise.lake.schema import add_missing_columns
from harmonise.model import STR, TABLES, Column
from tests.harmonise.lakefixtures import make_submission


def test_old_lake_gains_a_new_table_and_a_new_column_on_init_and_keeps_its_rows(
    local_lake: Lake,
) -> None:
    a = make_submission("ds-a", "c1", ["c1-p1", "c1-p2"])
    local_lake.commit(a)
    before = local_lake.read("patients", columns=["patient_id", "sex", "birth_year"])
    # the lake as an older model made it: no treatments table, no patients.death_year
    local_lake.catalog.drop_table("oncolake.treatments")
    with local_lake.table("patients").update_schema() as update:
        update.delete_column("death_year")
    assert "death_year" not in local_lake.table("patients").schema().column_names

    said: list[str] = []
    assert local_lake.init(said.append) == ["treatments"]
    assert said == ["patients: added column(s) death_year"]
    assert local_lake.init() == []  # idempotent
    tbl = local_lake.table("patients")
    new_id = tbl.schema().find_field("death_year").field_id
    assert not tbl.schema().find_field("death_year").required
    assert new_id > len(TABLES["patients"].columns)  # the table's next id, not the model's

    # the rows written before are kept, with the new column null
    after = local_lake.read("patients", columns=["patient_id", "sex", "birth_year"])
    assert after.sort_by("patient_id").equals(before.sort_by("patient_id"))
    assert local_lake.read("patients", columns=["death_year"]).column(0).null_count == 2
    assert local_lake.table_counts()["treatments"] == 0

    # a new commit fills the column, under the table's field id (as other engines resolve it)
    b = make_submission("ds-b", "c2", ["c2-p1"])
    pats = b.tables["patients"]
    assert isinstance(pats, pa.Table)
    b = dataclasses.replace(
        b, tables={**b.tables, "patients": pats.append_column("death_year", pa.array([2020]))}
    )
    local_lake.commit(b)
    rows = {r["patient_id"]: r["death_year"] for r in local_lake.read("patients").to_pylist()}
    assert rows == {"c1-p1": None, "c1-p2": None, "c2-p1": 2020}
    by_id = local_lake.table("patients").scan(selected_fields=("patient_id", "death_year"))
    assert sorted(by_id.to_arrow().to_pylist(), key=lambda r: r["patient_id"])[-1] == {
        "patient_id": "c2-p1",
        "death_year": 2020,
    }
    [new_file] = [
        t.file.file_path
        for t in local_lake.table("patients").scan().plan_files()
        if "c2-p1" in local_lake.open_file(t.file.file_path).column("patient_id").to_pylist()
    ]
    field = pq.read_schema(new_file.removeprefix("file://")).field("death_year")
    assert field.metadata[b"PARQUET:field_id"] == str(new_id).encode()

    # maintenance rewrites old and new files together
    report = local_lake.maintain(expire_older_than=dt.timedelta(0), grace=dt.timedelta(0))
    assert report.files_compacted["patients"] == (2, 1)
    rows = {r["patient_id"]: r["death_year"] for r in local_lake.read("patients").to_pylist()}
    assert rows == {"c1-p1": None, "c1-p2": None, "c2-p1": 2020}


def test_a_new_required_column_on_an_existing_table_is_refused(local_lake: Lake) -> None:
    tdef = TABLES["patients"]
    later = Column("vital_status", STR, "a required column added later", required=True)
    newer = dataclasses.replace(tdef, columns=(*tdef.columns, later), _schema=[])
    with pytest.raises(LakeConfigError, match="can gain only optional columns"):
        add_missing_columns(local_lake.table("patients"), newer)
    assert "vital_status" not in local_lake.table("patients").schema().column_names


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
