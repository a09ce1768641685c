"""Verified reads (harmonise/lake/verified.py): a file whose tags or rows were
altered, or that has no tags, or that was signed with another key, is refused.
"""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from harmonise.errors import TamperedFileError
from harmonise.lake import Lake
from tests.conftest import TAG_KEY
from tests.harmonise.lakefixtures import make_submission


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
