"""Tags that stay with data: signed in the Parquet key-value metadata, verified on read."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from consent.errors import TagsError
from consent.tags import (
    SIGNATURE_KEY,
    TAGS_KEY,
    dataset_tags,
    read_verified_parquet,
    table_digest,
    write_signed_parquet,
)
from metadata.manifest import load_manifest

KEY = b"hub-key-for-tests"
MANIFEST = Path(__file__).parents[1] / "metadata" / "data" / "valid_somatic_panel.json"


@pytest.fixture
def signed(tmp_path: Path) -> tuple[Path, dict[str, dict[str, object]]]:
    manifest = load_manifest(MANIFEST)
    tags = {manifest.dataset_id: dataset_tags(manifest)}
    rows = pa.table(
        {
            "dataset_id": [manifest.dataset_id] * 2,
            "patient_id": ["NKI-6f1e0c", "NKI-a93b11"],
            "gene": ["BRAF", "KRAS"],
        }
    )
    path = tmp_path / "variants.parquet"
    write_signed_parquet(rows, path, tags, KEY)
    return path, tags


def test_dataset_tags_of_a_manifest() -> None:
    tags = dataset_tags(load_manifest(MANIFEST))
    assert tags["duo_codes"] == ["DUO:0000042", "DUO:0000046"]
    assert tags["consent_version"] == "NKI-research-3.1"
    assert len(str(tags["metadata_digest"])) == 64


def test_signed_file_reads_back(signed: tuple[Path, dict[str, dict[str, object]]]) -> None:
    path, tags = signed
    table, got = read_verified_parquet(path, KEY)
    assert got == json.loads(json.dumps(tags))
    assert table.column("gene").to_pylist() == ["BRAF", "KRAS"]


def _rewrite(path: Path, table: pa.Table, kv: dict[bytes, bytes] | None) -> None:
    pq.write_table(table.replace_schema_metadata(kv), str(path))


def test_file_with_rows_edited_after_signing_is_refused(
    signed: tuple[Path, dict[str, dict[str, object]]],
) -> None:
    path, _ = signed
    table = pq.read_table(path)
    kv = dict(table.schema.metadata or {})
    edited = table.set_column(2, "gene", pa.array(["BRAF", "NRAS"]))
    _rewrite(path, edited, kv)  # the signed tags are copied over unchanged
    with pytest.raises(TagsError) as info:
        read_verified_parquet(path, KEY)
    assert str(info.value) == (
        f"{path}: the rows do not match the signed content digest: the data was edited after "
        "it was signed. It is refused."
    )


def test_file_with_altered_tags_is_refused(
    signed: tuple[Path, dict[str, dict[str, object]]],
) -> None:
    path, _ = signed
    table = pq.read_table(path)
    kv = dict(table.schema.metadata or {})
    kv[TAGS_KEY] = kv[TAGS_KEY].replace(b"DUO:0000046", b"DUO:0000004")  # drop NCU, claim NRES
    _rewrite(path, table, kv)
    with pytest.raises(TagsError, match="the tags do not match their signature"):
        read_verified_parquet(path, KEY)


def test_file_without_tags_is_refused(signed: tuple[Path, dict[str, dict[str, object]]]) -> None:
    path, _ = signed
    table = pq.read_table(path)
    _rewrite(path, table, None)
    with pytest.raises(TagsError, match="the mandatory tags are missing"):
        read_verified_parquet(path, KEY)


def test_file_signed_with_another_key_is_refused(
    signed: tuple[Path, dict[str, dict[str, object]]],
) -> None:
    path, _ = signed
    with pytest.raises(TagsError, match="or signed with another key"):
        read_verified_parquet(path, b"another key")


def test_rows_of_untagged_datasets_cannot_be_written(tmp_path: Path) -> None:
    rows = pa.table({"dataset_id": ["a", "b"], "x": [1, 2]})
    with pytest.raises(TagsError, match="rows of dataset\\(s\\) b have no tags"):
        write_signed_parquet(rows, tmp_path / "f.parquet", {"a": {}}, KEY)


def test_table_digest_ignores_chunking_but_not_values() -> None:
    a = pa.table({"x": [1, 2, 3], "y": ["a", "b", None]})
    chunked = pa.concat_tables([a.slice(0, 1), a.slice(1)])
    assert table_digest(chunked) == table_digest(a)
    assert table_digest(a.set_column(0, "x", pa.array([1, 2, 4]))) != table_digest(a)
    assert SIGNATURE_KEY != TAGS_KEY
