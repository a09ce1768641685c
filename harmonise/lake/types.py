"""The lake's values: where it is, its versions, what a submission writes, what a commit
returns; the snapshot-summary properties the commit protocol records; the Arrow form of
each table."""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any, TypeAlias

import numpy as np
import pyarrow as pa
from pyiceberg.io.pyarrow import schema_to_pyarrow
from pyiceberg.schema import Schema

from consent.tags import canonical_json
from harmonise.model import TABLES

#: Snapshot summary property: the submission whose rows the snapshot wrote.
SUBMISSION_PROP = "oncolake.submission-id"
#: Snapshot summary property: what the lake did (append, commit, delete, compact, purge…).
OPERATION_PROP = "oncolake.operation"
#: Iceberg tag prefix of pinned versions.
PIN_PREFIX = "pin-"
KEY_COLUMNS = ("dataset_id", "centre_id", "submission_id")
#: Attempts of the lake's own commit loops (each re-plans from the table's new state).
COMMIT_ATTEMPTS = 8
#: Iceberg table property: appends merge small manifests (see ``Lake._append_files``).
MERGE_PROP = "commit.manifest-merge.enabled"

Progress = Callable[[str], None]
#: Rows of one table in a submission: a whole table, or pieces as they are produced.
TableRows: TypeAlias = pa.Table | Iterable[pa.Table | pa.RecordBatch]


@dataclass(frozen=True)
class LakeConfig:
    """Where the lake is: the Iceberg SQL catalog URL, the warehouse, FileIO properties."""

    catalog_uri: str
    warehouse: str
    properties: Mapping[str, str] = field(default_factory=dict)
    catalog_name: str = "oncolake"


@dataclass(frozen=True)
class LakeVersion:
    """The lake at a moment: one snapshot id per table (``None`` for an empty table)."""

    snapshots: Mapping[str, int | None]

    @functools.cached_property
    def id(self) -> str:
        """A short stable name of this version (digest of the snapshot ids; computed once:
        the discovery service names the version in every answer and audit entry)."""
        digest = hashlib.sha256(canonical_json(dict(self.snapshots))).hexdigest()
        return f"v-{digest[:16]}"

    def to_json(self) -> str:
        """JSON form, to store beside exports and saved cohorts."""
        return json.dumps({"id": self.id, "snapshots": dict(self.snapshots)}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str | Mapping[str, Any]) -> LakeVersion:
        """Parse :meth:`to_json`'s output."""
        data = json.loads(text) if isinstance(text, str) else dict(text)
        snaps = data.get("snapshots", data)
        return cls({k: (int(v) if v is not None else None) for k, v in snaps.items()})


@dataclass
class Submission:
    """What one submission writes: rows per data table and its ``datasets`` row.

    ``tables`` maps data table names to Arrow tables, or to iterables of tables/record
    batches that are consumed as they come (bounded memory for large VCFs), whose columns
    are a subset of the table's schema (missing columns are written as nulls; the key
    columns are filled in). ``dataset`` holds the ``datasets`` row's other values.
    ``tags`` are the dataset's mandatory tags, signed into every file.
    """

    submission_id: str
    dataset_id: str
    centre_id: str
    dataset: Mapping[str, Any]
    tables: Mapping[str, TableRows]
    tags: Mapping[str, Any]


@dataclass(frozen=True)
class CommitResult:
    """Outcome of :meth:`Lake.commit`."""

    status: str  # "committed" or "unchanged"
    submission_id: str
    version: LakeVersion
    rows: Mapping[str, int]
    replaced: str | None = None


@cache
def constant(value: str, n: int) -> pa.DictionaryArray:
    """``n`` rows of one string ``value`` as a dictionary array (int32 zeros, one entry):
    the form in which the lake writes a column whose value is the same in every row."""
    return pa.DictionaryArray.from_arrays(
        pa.array(np.zeros(n, np.int32)), pa.array([value], pa.string())
    )


def _plain(t: pa.DataType) -> pa.DataType:
    if pa.types.is_large_string(t):
        return pa.string()
    if pa.types.is_large_list(t):
        return pa.list_(t.value_field.with_type(_plain(t.value_type)))
    return t


@cache
def _model_arrow_schema(name: str) -> pa.Schema:
    schema = schema_to_pyarrow(TABLES[name].schema)
    return pa.schema([f.with_type(_plain(f.type)) for f in schema], metadata=schema.metadata)


def arrow_schema(name: str, table_schema: Schema | None = None) -> pa.Schema:
    """The Arrow schema of table ``name`` as the lake writes and returns it: the model's
    columns, in the model's order.

    pyiceberg maps strings and lists to Arrow's ``large_`` types; Parquet stores both the
    same way, so the lake uses the plain types and spares a copy of every string column
    on each write and read. Field ids (``PARQUET:field_id``) are the model's, or with
    ``table_schema`` (the Iceberg table's current schema) the table's: a column added to an
    existing table by :meth:`Lake.init` gets its id from the table, not from the model's
    order, and files must carry the ids the table's readers resolve.
    """
    model = _model_arrow_schema(name)
    if table_schema is None:
        return model
    by_name = {f.name: f for f in schema_to_pyarrow(table_schema)}
    fields = []
    for f in model:
        theirs = by_name.get(f.name)
        if theirs is None:
            fields.append(f)
            continue
        fields.append(f.with_type(_plain(theirs.type)).with_metadata(theirs.metadata))
    return pa.schema(fields, metadata=model.metadata)
