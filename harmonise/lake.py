"""The lake layer: Apache Iceberg tables (pyiceberg SQL catalog) for the harmonised model.

Atomic submissions across tables
--------------------------------
Iceberg commits are per table; a submission touches many. The commit point is the
``datasets`` table:

1. every row a submission writes carries its ``submission_id`` (the digest of its
   manifest, so the same bundle always has the same id);
2. the data tables are appended first, one Iceberg commit each; each append records
   ``oncolake.submission-id`` in its snapshot summary, so a retry that finds it in the
   table's history skips that table (exactly once per table);
3. the ``datasets`` row is committed last, in one Iceberg transaction that also removes
   the previous row of the same dataset (a corrected bundle replaces the old one);
4. readers only return rows whose ``submission_id`` the ``datasets`` table records at the
   version they read.

A crash before step 3 leaves rows that no reader sees; re-running the submission commits
it exactly once; :meth:`Lake.maintain` removes rows of submissions that never reached
step 3 (after a grace period, so it never races a commit in flight) and the rows of
replaced submissions.

Tags that stay with data
------------------------
The lake writes its own Parquet data files (pyarrow) so that each carries, in its
key-value metadata, the signed tags of every dataset whose rows it holds
(:mod:`consent.tags`), then registers them with Iceberg (``fast_append`` / ``overwrite``
of data files). pyiceberg's own writer cannot add key-value metadata, and its
copy-on-write delete would drop the tags: deletes and compaction are therefore done here,
file by file, re-signing what they rewrite. Every read verifies the tags of every file.

Lake versions
-------------
A :class:`LakeVersion` is the set of snapshot ids (one per table) that make up "the lake
at a moment". Exports pin a version with Iceberg tags on each table's snapshot, which
snapshot expiry keeps.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import hashlib
import json
import logging
import struct
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cache, cached_property
from typing import Any, TypeAlias

import duckdb
import fsspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import sqlalchemy as sa
import sqlalchemy.orm
from pyiceberg.catalog import Catalog
from pyiceberg.catalog.sql import IcebergTables, SqlCatalog
from pyiceberg.exceptions import (
    CommitFailedException,
    NamespaceAlreadyExistsError,
    NoSuchTableError,
    TableAlreadyExistsError,
    ValidationException,
)
from pyiceberg.expressions import AlwaysTrue, And, BooleanExpression, EqualTo, In, Or
from pyiceberg.expressions.parser import parse
from pyiceberg.expressions.visitors import bind, extract_field_ids
from pyiceberg.io.pyarrow import (
    MetricModeTypes,
    compute_statistics_plan,
    data_file_statistics_from_parquet_metadata,
    expression_to_pyarrow,
    parquet_path_to_id_mapping,
    schema_to_pyarrow,
)
from pyiceberg.manifest import (
    DataFile,
    DataFileContent,
    FileFormat,
    ManifestEntryStatus,
    ManifestFile,
)
from pyiceberg.table import Table, Transaction
from pyiceberg.table.refs import SnapshotRefType
from pyiceberg.table.snapshots import Operation
from pyiceberg.transforms import BucketTransform
from pyiceberg.typedef import Record
from pyiceberg.types import StringType

from consent.errors import TagsError
from consent.tags import SIGNATURE_KEY, TAGS_KEY, canonical_json, sign_tags, verified_body
from harmonise.errors import (
    CommitConflictError,
    LakeConfigError,
    LakeNotInitialisedError,
    SubmissionError,
    TamperedFileError,
    UnknownVersionError,
)
from harmonise.model import DATA_TABLES, NAMESPACE, TABLES, TableDef

log = logging.getLogger(__name__)

SUBMISSION_PROP = "oncolake.submission-id"
OPERATION_PROP = "oncolake.operation"
PIN_PREFIX = "pin-"
KEY_COLUMNS = ("dataset_id", "centre_id", "submission_id")
COMMIT_ATTEMPTS = 8

#: Iceberg table property: appends merge small manifests (see ``Lake._append_files``).
MERGE_PROP = "commit.manifest-merge.enabled"
#: Data files read at once (pyarrow decodes outside the GIL).
READ_THREADS = 4

Progress = Callable[[str], None]
#: Rows of one table in a submission: a whole table, or pieces as they are produced.
TableRows: TypeAlias = pa.Table | Iterable[pa.Table | pa.RecordBatch]
#: Rows encoded per write chunk of a streamed table: each chunk becomes one row group in
#: each of its partitions' files (see ``_PartitionFiles``).
WRITE_CHUNK_ROWS = 200_000
#: ``datasets`` snapshots whose rows ``Lake.visible_submissions`` keeps in memory.
VISIBLE_CACHE = 8
#: Bytes of encoded Parquet buffered natively before they reach a file's hashing sink.
WRITE_BUFFER_BYTES = 1 << 20
#: Rows after which a partition's file is closed and the next chunk starts a new one.
FILE_MAX_ROWS = 5_000_000
#: Partition files of one chunk gathered and encoded at once (see ``Lake._write_files``).
WRITE_THREADS = 2


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


@dataclass
class MaintenanceReport:
    """What :meth:`Lake.maintain` did."""

    orphan_rows_removed: dict[str, int] = field(default_factory=dict)
    files_compacted: dict[str, tuple[int, int]] = field(default_factory=dict)
    snapshots_expired: dict[str, int] = field(default_factory=dict)
    orphan_files_removed: int = 0


@cache
def constant(value: str, n: int) -> pa.DictionaryArray:
    """``n`` rows of one string ``value`` as a dictionary array (int32 zeros, one entry):
    the form in which the lake writes a column whose value is the same in every row."""
    return pa.DictionaryArray.from_arrays(
        pa.array(np.zeros(n, np.int32)), pa.array([value], pa.string())
    )


def arrow_schema(name: str) -> pa.Schema:
    """The Arrow schema of table ``name`` as the lake writes and returns it.

    pyiceberg maps strings and lists to Arrow's ``large_`` types; Parquet stores both the
    same way, so the lake uses the plain types and spares a copy of every string column
    on each write and read. Field ids (``PARQUET:field_id``) are kept.
    """

    def plain(t: pa.DataType) -> pa.DataType:
        if pa.types.is_large_string(t):
            return pa.string()
        if pa.types.is_large_list(t):
            return pa.list_(t.value_field.with_type(plain(t.value_type)))
        return t

    schema = schema_to_pyarrow(TABLES[name].schema)
    return pa.schema([f.with_type(plain(f.type)) for f in schema], metadata=schema.metadata)


class Lake:
    """The oncolake lake: its tables, the commit point, versions, reads and maintenance."""

    def __init__(self, config: LakeConfig, tag_key: bytes) -> None:
        self.config = config
        self._tag_key = tag_key
        self._verified: dict[str, dict[str, dict[str, Any]]] = {}
        self._visible: OrderedDict[int, pa.Table] = OrderedDict()  # datasets snapshot → rows
        self._visible_lock = threading.Lock()

    # -- catalog and tables --------------------------------------------------------------

    @cached_property
    def catalog(self) -> Catalog:
        """The pyiceberg SQL catalog (SQLite or PostgreSQL)."""
        props = {"uri": self.config.catalog_uri, "warehouse": self.config.warehouse}
        props.update(self.config.properties)
        if self.config.warehouse.startswith("s3://"):
            props.setdefault("py-io-impl", "pyiceberg.io.fsspec.FsspecFileIO")
        try:
            return SqlCatalog(self.config.catalog_name, **props)
        except Exception as exc:  # the driver's own error says what is wrong with the URL
            raise LakeConfigError(
                f"cannot open the Iceberg catalog at {self.config.catalog_uri!r}: {exc}. "
                "Check ONCOLAKE_CATALOG_URL."
            ) from exc

    def init(self) -> list[str]:
        """Create the namespace and any missing table (idempotent); return those created."""
        created: list[str] = []
        with contextlib.suppress(NamespaceAlreadyExistsError):
            self.catalog.create_namespace(NAMESPACE)
        for name, tdef in TABLES.items():
            ident = f"{NAMESPACE}.{name}"
            wanted = {MERGE_PROP: "true", **tdef.properties()}
            if self._exists(ident):
                tbl = self.catalog.load_table(ident)
                missing = {k: v for k, v in wanted.items() if tbl.properties.get(k) != v}
                if missing:  # a lake made before these properties were set
                    with tbl.transaction() as txn:
                        txn.set_properties(missing)
                continue
            try:
                self.catalog.create_table(
                    ident,
                    schema=tdef.schema,
                    partition_spec=tdef.partition_spec(),
                    sort_order=tdef.sort_order(),
                    properties={
                        "format-version": "2",
                        "write.parquet.compression-codec": "zstd",
                        "commit.retry.num-retries": "10",
                        "commit.retry.min-wait-ms": "20",
                        "commit.retry.max-wait-ms": "2000",
                        # appends merge manifests once 100 pile up (see _append_files)
                        **wanted,
                        "comment": tdef.doc,
                    },
                )
                created.append(name)
            except TableAlreadyExistsError:
                pass
        return created

    def _exists(self, ident: str) -> bool:
        try:
            self.catalog.load_table(ident)
            return True
        except NoSuchTableError:
            return False

    def table(self, name: str) -> Table:
        """Load the Iceberg table ``name`` (fresh metadata each call)."""
        if name not in TABLES:
            raise LakeConfigError(f"unknown lake table {name!r}; tables: {', '.join(TABLES)}")
        try:
            return self.catalog.load_table(f"{NAMESPACE}.{name}")
        except NoSuchTableError:
            raise LakeNotInitialisedError(
                f"the lake table {NAMESPACE}.{name} does not exist in the catalog "
                f"{self.config.catalog_uri}; run `oncolake lake init` first"
            ) from None

    def is_initialised(self) -> bool:
        """True if every table exists."""
        return all(self._exists(f"{NAMESPACE}.{n}") for n in TABLES)

    # -- versions ------------------------------------------------------------------------

    def change_token(self) -> tuple[tuple[str, str | None], ...]:
        """A token that changes whenever any lake table commits: each table's metadata
        pointer as the catalog holds it (one SQL query; no metadata file is read).

        Pollers (the discovery index) compare it before calling :meth:`current_version`,
        which loads every table's metadata file — megabytes of JSON on a lake with
        thousands of snapshots. Every Iceberg commit swaps the pointer, so an equal token
        means an equal version.
        """
        cat = self.catalog
        rows: Sequence[Any] = []
        if isinstance(cat, SqlCatalog):
            # the JDBC/SQL catalog's own table (pyiceberg's IcebergTables): no public call
            # returns the pointers without parsing the metadata files they point to
            with sa.orm.Session(cat.engine) as session:
                rows = session.execute(
                    sa.select(IcebergTables.table_name, IcebergTables.metadata_location).where(
                        IcebergTables.catalog_name == cat.name,
                        IcebergTables.table_namespace == NAMESPACE,
                    )
                ).all()
        return tuple(sorted((str(r[0]), r[1]) for r in rows))

    def current_version(self) -> LakeVersion:
        """The current lake version. ``datasets`` is read first: every submission it
        records has its rows in the data tables' (later or equal) snapshots."""
        snaps: dict[str, int | None] = {}
        for name in ["datasets", *DATA_TABLES]:
            snap = self.table(name).current_snapshot()
            snaps[name] = snap.snapshot_id if snap else None
        return LakeVersion(snaps)

    def snapshots(self) -> list[dict[str, Any]]:
        """Every snapshot of every table, oldest first, with its summary and pins."""
        out: list[dict[str, Any]] = []
        for name in TABLES:
            tbl = self.table(name)
            pins: dict[int, list[str]] = {}
            for ref_name, ref in tbl.metadata.refs.items():
                if ref.snapshot_ref_type == SnapshotRefType.TAG:
                    pins.setdefault(ref.snapshot_id, []).append(ref_name)
            current = tbl.current_snapshot()
            for snap in tbl.metadata.snapshots:
                summary = snap.summary.additional_properties if snap.summary else {}
                out.append(
                    {
                        "table": name,
                        "snapshot_id": snap.snapshot_id,
                        "timestamp": dt.datetime.fromtimestamp(snap.timestamp_ms / 1000, dt.UTC),
                        "operation": snap.summary.operation.value if snap.summary else "",
                        "oncolake_operation": summary.get(OPERATION_PROP, ""),
                        "submission_id": summary.get(SUBMISSION_PROP, ""),
                        "current": current is not None and current.snapshot_id == snap.snapshot_id,
                        "pins": pins.get(snap.snapshot_id, []),
                    }
                )
        out.sort(key=lambda r: (r["timestamp"], r["table"]))
        return out

    # -- writing -------------------------------------------------------------------------

    def commit(self, sub: Submission, progress: Progress | None = None) -> CommitResult:
        """Commit a submission atomically (see the module doc); idempotent."""
        say = progress or (lambda _msg: None)
        self._check_submission(sub)
        if self._dataset_rows_where(EqualTo(term="submission_id", value=sub.submission_id)):
            return CommitResult(
                "unchanged", sub.submission_id, self.current_version(), rows={}, replaced=None
            )
        tags = {sub.dataset_id: dict(sub.tags)}
        rows: dict[str, int] = {}
        # every table's rows are written (streams consumed, records validated as they are
        # read) before any file is registered: a stream that raises leaves no snapshot,
        # and the files already written are deleted
        written: list[tuple[Table, list[DataFile]]] = []
        try:
            for name in DATA_TABLES:
                data = sub.tables.get(name)
                rows[name] = 0
                if data is None or (isinstance(data, pa.Table) and data.num_rows == 0):
                    continue
                tbl = self.table(name)
                if self._has_submission_append(tbl, sub.submission_id):
                    say(f"{name}: already written by an earlier attempt")
                    rows[name] = self._submission_rows(tbl, sub.submission_id)
                    continue
                say(f"{name}: writing rows")
                files, rows[name] = self._write_stream(tbl, TABLES[name], data, sub, tags)
                written.append((tbl, files))
        except BaseException:
            for tbl, files in written:
                _delete_files(tbl, [f.file_path for f in files])
            raise
        for tbl, files in written:
            if files:
                self._append_files(tbl, files, sub.submission_id, "append")
        say("datasets: committing")
        replaced = self._commit_dataset_row(sub, rows, tags)
        say("datasets: committed")
        return CommitResult("committed", sub.submission_id, self.current_version(), rows, replaced)

    def submission_rows(self, submission_id: str) -> dict[str, int]:
        """Rows per table that the committed submission ``submission_id`` wrote (from its
        ``datasets`` row; empty if it is not committed)."""
        found = self._dataset_rows_where(EqualTo(term="submission_id", value=submission_id))
        if not found:
            return {}
        counts = json.loads(found[0].get("row_counts_json") or "{}")
        return {k: int(v) for k, v in counts.items() if v}

    def _check_submission(self, sub: Submission) -> None:
        if not sub.submission_id or not sub.dataset_id or not sub.centre_id:
            raise SubmissionError("a submission needs submission_id, dataset_id and centre_id")
        unknown = set(sub.tables) - set(DATA_TABLES)
        if unknown:
            raise SubmissionError(
                f"submission {sub.submission_id}: unknown tables {sorted(unknown)}; "
                f"data tables are {', '.join(DATA_TABLES)}"
            )
        for name, data in sub.tables.items():
            if isinstance(data, pa.Table):
                self._check_columns(sub, name, data.column_names)

    @staticmethod
    def _check_columns(sub: Submission, name: str, columns: Sequence[str]) -> None:
        extra = set(columns) - set(TABLES[name].column_names)
        if extra:
            raise SubmissionError(
                f"submission {sub.submission_id}, table {name}: columns not in the "
                f"schema: {sorted(extra)}"
            )

    def _write_stream(
        self,
        tbl: Table,
        tdef: TableDef,
        data: TableRows,
        sub: Submission,
        tags: Mapping[str, Any],
    ) -> tuple[list[DataFile], int]:
        """Write ``data`` (a table, or batches as they are produced) in chunks of at most
        ``WRITE_CHUNK_ROWS`` rows; return the files and the row count.

        Each partition has one file for the whole stream, which takes a row group per chunk
        (``_PartitionFiles``). A writer thread partitions and encodes a chunk (its
        partitions on ``WRITE_THREADS`` threads) while the caller produces the next one,
        so reading and writing overlap, memory holds about two chunks, and what is left
        after the last row is read is one chunk and the footers. The files are registered
        with Iceberg only by the caller's single append: a failure part-way leaves
        unreferenced files that no reader sees and maintenance removes.
        """
        total = 0
        # in arrival order: Iceberg does not require sorted files (they are registered
        # without a sort order id); `lake maintain` rewrites them in the table's sort
        # order when it compacts, off the ingest path
        with (
            _PartitionFiles(
                self, tbl, tdef, tags, sub.submission_id, sort=False, dictionary=False
            ) as files,
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="lake-write") as writer,
        ):
            pending: Future[None] | None = None
            for chunk in _chunks(data, WRITE_CHUNK_ROWS):
                self._check_columns(sub, tdef.name, chunk.column_names)
                conformed = self._conform(tdef, chunk, sub)
                del chunk
                total += conformed.num_rows
                if pending is not None:
                    pending.result()
                pending = writer.submit(files.write, conformed)
                del conformed  # the writer holds the only reference: freed once written
            if pending is not None:
                pending.result()
            return files.close(), total

    @staticmethod
    def _submission_rows(tbl: Table, submission_id: str) -> int:
        """Rows of ``submission_id`` already in ``tbl`` (after an earlier attempt)."""
        return int(
            tbl.scan(
                row_filter=EqualTo(term="submission_id", value=submission_id),
                selected_fields=("submission_id",),
            )
            .to_arrow()
            .num_rows
        )

    @staticmethod
    def _has_submission_append(tbl: Table, submission_id: str) -> bool:
        """True if an earlier attempt already wrote this submission's rows to ``tbl``.

        The snapshot history answers cheaply; after compaction and expiry the append's
        snapshot may be gone while its rows remain, so the rows are checked too (files
        are pruned by their ``submission_id`` statistics).
        """
        snaps = tbl.metadata.snapshots
        for snap in snaps:
            props = snap.summary.additional_properties if snap.summary else {}
            if (
                props.get(SUBMISSION_PROP) == submission_id
                and props.get(OPERATION_PROP) == "append"
            ):
                return True
        if tbl.current_snapshot() is None:
            return False
        # Format v2 gives every snapshot the next sequence number (1, 2, …). All of them
        # present means nothing was ever expired: the history is complete and has answered.
        # (The row scan plans over every manifest — one per commit until maintenance — and
        # made each commit slower the longer the lake's history.)
        last = int(getattr(tbl.metadata, "last_sequence_number", 0) or 0)  # 0 in format v1
        if last > 0 and {snap.sequence_number for snap in snaps} == set(range(1, last + 1)):
            return False
        if not _may_hold(tbl, "submission_id", submission_id):
            return False  # no data file's submission_id bounds admit it
        found = tbl.scan(
            row_filter=EqualTo(term="submission_id", value=submission_id),
            selected_fields=("submission_id",),
            limit=1,
        ).to_arrow()
        return found.num_rows > 0

    def _conform(self, tdef: TableDef, data: pa.Table, sub: Submission) -> pa.Table:
        """Cast ``data`` to the table's Arrow schema, filling key columns and nulls.

        The key columns are one-value dictionary arrays (:func:`constant`), and a given
        string column that is a dictionary array stays one (a VCF's patient, specimens,
        build, fingerprint…): partitioning gathers their int32 indices instead of copying
        the same long string for every row, and the Parquet writer encodes them from the
        dictionary without hashing each value. The files store plain strings."""
        schema = arrow_schema(tdef.name)
        n = data.num_rows
        keys = {
            "dataset_id": sub.dataset_id,
            "centre_id": sub.centre_id,
            "submission_id": sub.submission_id,
        }
        arrays = []
        fields = []
        for fld in schema:
            if fld.name in keys:
                given = data.column(fld.name) if fld.name in data.column_names else None
                if given is not None and given.null_count == 0:
                    values = set(pc.unique(given).to_pylist())
                    if values != {keys[fld.name]}:
                        raise SubmissionError(
                            f"submission {sub.submission_id}, table {tdef.name}: column "
                            f"{fld.name} holds {sorted(values)[:3]} but the submission is "
                            f"{keys[fld.name]!r}"
                        )
                col = constant(keys[fld.name], n)
                arrays.append(col)
                fields.append(fld.with_type(col.type))
            elif fld.name in data.column_names:
                given = data.column(fld.name)
                if (
                    pa.types.is_dictionary(given.type)
                    and given.type.value_type == fld.type
                    and given.type.index_type == pa.int32()
                ):
                    arrays.append(given)
                    fields.append(fld.with_type(given.type))
                    continue
                try:
                    arrays.append(given.cast(fld.type))
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                    raise SubmissionError(
                        f"submission {sub.submission_id}, table {tdef.name}, column "
                        f"{fld.name}: cannot store as {fld.type}: {exc}"
                    ) from exc
                fields.append(fld)
            else:
                arrays.append(pa.nulls(n, type=fld.type))
                fields.append(fld)
        schema = pa.schema(fields, metadata=schema.metadata)
        out = pa.Table.from_arrays(arrays, schema=schema)
        missing = [
            f.name for f in tdef.schema.fields if f.required and out.column(f.name).null_count
        ]
        if missing:
            raise SubmissionError(
                f"submission {sub.submission_id}, table {tdef.name}: required columns "
                f"with empty values: {missing}"
            )
        return out

    def _write_files(
        self,
        tbl: Table,
        tdef: TableDef,
        data: pa.Table,
        tags: Mapping[str, Any],
        label: str,
        sort: bool = True,
    ) -> list[DataFile]:
        """Write ``data`` as Parquet files (one per partition) signed with ``tags``, each
        in the table's sort order (``sort``) or in arrival order (see ``_PartitionFiles``)."""
        with _PartitionFiles(self, tbl, tdef, tags, label, sort=sort) as files:
            files.write(data)
            return files.close()

    @staticmethod
    def _split_partitions(
        tdef: TableDef, data: pa.Table, sort: bool = True
    ) -> tuple[pa.Table, list[tuple[str, Record, pa.Array | None]]]:
        """Order ``data`` by (partition, the table's sort columns) in one pass: return the
        rows (one contiguous chunk per column) and, per partition, its directory, its
        partition value and the indices of its rows in sort order (None: all rows, as
        they are). Without ``sort``, a partition's rows keep their arrival order (Arrow's
        sort is stable): gathering ascending indices costs about a third of gathering
        them in sort order, and a commit does not need the order (see ``_write_stream``).

        Only the key columns are sorted (``sort_indices``); the rows are gathered per
        partition by the caller. Gathering from one contiguous chunk is several times
        faster than ``take``/``sort_by`` over a table of many chunks (a streamed chunk is
        made of the reader's batches), so the columns are concatenated first.
        """
        data = data.combine_chunks()
        keys = [(c, "ascending") for c in tdef.sort] if sort else []
        if tdef.bucket is None:
            order = pc.sort_indices(data.select(list(tdef.sort)), sort_keys=keys) if keys else None
            return data, [("", Record(), order)]
        if not data.num_rows:
            return data, []
        col, n = tdef.bucket
        bucket_of = BucketTransform(n).transform(StringType())
        values = data.column(col)
        uniques = pc.unique(values)
        buckets_of_unique = pa.array([bucket_of(v) for v in uniques.to_pylist()], pa.int32())
        buckets = pc.take(buckets_of_unique, pc.index_in(values, value_set=uniques))
        if isinstance(buckets, pa.ChunkedArray):
            buckets = buckets.combine_chunks()
        sort_keys = pa.table([buckets, *(data.column(c) for c, _ in keys)],
                             names=["__bucket", *(c for c, _ in keys)])  # fmt: skip
        order = pc.sort_indices(sort_keys, sort_keys=[("__bucket", "ascending"), *keys])
        runs = pc.run_end_encode(pc.take(buckets, order))
        parts: list[tuple[str, Record, pa.Array | None]] = []
        start = 0
        for b, end in zip(runs.values.to_pylist(), runs.run_ends.to_pylist(), strict=True):
            label = "null" if b is None else str(b)
            parts.append((f"{col}_bucket={label}/", Record(b), order.slice(start, end - start)))
            start = end
        return data, parts

    def _append_files(
        self, tbl: Table, files: Sequence[DataFile], submission_id: str, operation: str
    ) -> None:
        props = {SUBMISSION_PROP: submission_id, OPERATION_PROP: operation}
        for attempt in range(COMMIT_ATTEMPTS):
            try:
                with (
                    tbl.transaction() as txn,
                    # merge_append (with commit.manifest-merge.enabled, set by init):
                    # manifests are merged once commit.manifest.min-count-to-merge (100)
                    # pile up, so a scan plans over a bounded number of manifests however
                    # long the history (a fast append adds one manifest per commit)
                    txn.update_snapshot(snapshot_properties=props).merge_append() as append,
                ):
                    for f in files:
                        append.append_data_file(f)
                return
            except CommitFailedException as exc:
                log.warning("append to %s conflicted (%s), retry %d", tbl.name(), exc, attempt)
                tbl = self.table(tbl.name()[-1])
        raise CommitConflictError(
            f"could not append to {'.'.join(tbl.name())} after {COMMIT_ATTEMPTS} attempts"
        )

    def _commit_dataset_row(
        self, sub: Submission, rows: Mapping[str, int], tags: Mapping[str, Any]
    ) -> str | None:
        """The commit point: replace the dataset's row with this submission's, atomically."""
        tdef = TABLES["datasets"]
        values: dict[str, Any] = {c: None for c in tdef.column_names}
        values.update({k: v for k, v in sub.dataset.items() if k in values})
        values.update(
            dataset_id=sub.dataset_id,
            centre_id=sub.centre_id,
            submission_id=sub.submission_id,
            tags_json=(signed := sign_tags(tags, self._tag_key))[TAGS_KEY].decode(),
            tags_signature=signed[SIGNATURE_KEY].decode(),
            row_counts_json=json.dumps(dict(rows), sort_keys=True),
            committed_at=dt.datetime.now(dt.UTC),
        )
        if values.get("manifest_digest") is None:
            values["manifest_digest"] = sub.submission_id
        row = pa.Table.from_pylist([values], schema=arrow_schema("datasets"))
        for attempt in range(COMMIT_ATTEMPTS):
            tbl = self.table("datasets")
            # The table is rewritten whole, into one file, at every commit: it holds one
            # small row per dataset, so a reader (the discovery index polls it, every write
            # looks up tags in it) opens one file however many centres have committed —
            # with a file per commit, 2,000 centres meant 2,000 files and manifests.
            old_files: list[DataFile] = []
            replaced: str | None = None
            keep_parts: list[pa.Table] = []
            planned = tbl.scan().plan_files() if tbl.current_snapshot() is not None else []
            current = [(t.file, self._read_verified(tbl, t.file.file_path)) for t in planned]
            if any(
                pc.any(pc.equal(data.column("submission_id"), sub.submission_id)).as_py()
                for _, data in current
            ):
                return None  # a concurrent retry of the same submission won
            for file, data in current:
                old_files.append(file)
                hit = pc.equal(data.column("dataset_id"), sub.dataset_id)
                if pc.any(hit).as_py():
                    replaced = data.filter(hit).column("submission_id")[0].as_py()
                rest = data.filter(pc.invert(hit))
                if rest.num_rows:
                    keep_parts.append(rest.replace_schema_metadata(None))
            new = pa.concat_tables([*keep_parts, row]) if keep_parts else row
            new_files = self._write_files(
                tbl, tdef, new, self._tags_for_rows(new), f"ds-{sub.submission_id}"
            )
            props = {SUBMISSION_PROP: sub.submission_id, OPERATION_PROP: "commit"}
            try:
                with tbl.transaction() as txn:
                    if old_files:
                        with _overwrite(txn, props) as ow:
                            for f in old_files:
                                ow.delete_data_file(f)
                            for f in new_files:
                                ow.append_data_file(f)
                    else:
                        with txn.update_snapshot(snapshot_properties=props).fast_append() as fa:
                            for f in new_files:
                                fa.append_data_file(f)
                return replaced
            except (CommitFailedException, ValidationException) as exc:
                # ValidationException: pyiceberg's own retry of the overwrite found that a
                # concurrent commit changed the rows it replaces; re-plan from the new state
                log.warning("datasets commit conflicted (%s), retry %d", exc, attempt)
        raise CommitConflictError(
            f"submission {sub.submission_id}: the datasets commit kept conflicting after "
            f"{COMMIT_ATTEMPTS} attempts; retry the submission (it is idempotent)"
        )

    def _dataset_rows_where(self, expr: BooleanExpression) -> list[dict[str, Any]]:
        """Current ``datasets`` rows matching ``expr`` (files pruned by statistics)."""
        tbl = self.table("datasets")
        if tbl.current_snapshot() is None:
            return []
        out: list[dict[str, Any]] = []
        for task in tbl.scan(row_filter=expr).plan_files():
            data = self._read_verified(tbl, task.file.file_path)
            mask = expression_to_pyarrow(bind(tbl.schema(), expr, case_sensitive=True))
            out += data.filter(mask).to_pylist()
        return out

    def _tags_for_rows(self, data: pa.Table) -> dict[str, Any]:
        """Tags for a file holding ``data``: the tags of each of its datasets.

        ``datasets`` rows carry their own signed tags (``tags_json``); other tables' tags
        are looked up in the ``datasets`` table.
        """
        ids = set(data.column("dataset_id").to_pylist())
        tags = {} if "tags_json" in data.column_names else self._dataset_tags()
        missing = ids - set(tags)
        if missing and "tags_json" in data.column_names:
            for r in data.select(["dataset_id", "tags_json"]).to_pylist():
                if r["dataset_id"] in missing and r["tags_json"]:
                    tags[r["dataset_id"]] = json.loads(r["tags_json"])["datasets"][r["dataset_id"]]
        return {i: tags.get(i, {}) for i in sorted(ids)}

    def _dataset_tags(self) -> dict[str, dict[str, Any]]:
        """Tags of every currently visible dataset, from the ``datasets`` table."""
        out: dict[str, dict[str, Any]] = {}
        tbl = self.table("datasets")
        for r in self._datasets_rows(tbl, None).select(["dataset_id", "tags_json"]).to_pylist():
            if r["tags_json"]:
                out[r["dataset_id"]] = json.loads(r["tags_json"])["datasets"][r["dataset_id"]]
        return out

    # -- reading -------------------------------------------------------------------------

    def _read_verified(self, tbl: Table, path: str) -> pa.Table:
        """Read one whole data file after verifying its tags and content digest."""
        with tbl.io.new_input(path).open() as fh:
            raw = fh.read()
        self._verify_bytes(path, raw)
        return pq.read_table(pa.BufferReader(raw))

    def _verify_bytes(self, path: str, raw: bytes) -> dict[str, Any]:
        cached = self._verified.get(path)
        if cached is not None:
            return cached
        try:
            if len(raw) < 12 or raw[-4:] != b"PAR1":
                raise TagsError(f"{path}: not a Parquet file (no PAR1 footer)")
            (footer_len,) = struct.unpack("<I", raw[-8:-4])
            data_end = len(raw) - 8 - footer_len
            kv = pq.read_metadata(pa.BufferReader(raw)).metadata
            body = verified_body(kv, self._tag_key, where=path)
            expected = body.get("file_sha256")
            if expected is None:
                raise TagsError(
                    f"{path}: the signed tags carry no file digest, so its rows are not "
                    "covered by the signature; the lake refuses it"
                )
            if hashlib.sha256(raw[:data_end]).hexdigest() != expected:
                raise TagsError(
                    f"{path}: the rows do not match the signed digest: the file was altered "
                    "after it was signed. It is refused."
                )
        except TagsError as exc:
            raise TamperedFileError(str(exc)) from exc
        tags: dict[str, Any] = body["datasets"]
        self._verified[path] = tags
        return tags

    def verify_file(self, tbl: Table, path: str) -> dict[str, Any]:
        """Verify one data file's signed tags and content digest; return its tags.

        Data files never change once written, so each is verified once per process.
        """
        if path in self._verified:
            return self._verified[path]
        with tbl.io.new_input(path).open() as fh:
            raw = fh.read()
        return self._verify_bytes(path, raw)

    def _datasets_rows(self, tbl: Table, snapshot_id: int | None) -> pa.Table:
        if snapshot_id is None and tbl.current_snapshot() is None:
            return arrow_schema("datasets").empty_table()
        scan = tbl.scan(snapshot_id=snapshot_id)
        for task in scan.plan_files():
            self.verify_file(tbl, task.file.file_path)
        return scan.to_arrow()

    def _snapshot_for(self, tbl: Table, name: str, version: LakeVersion | None) -> int | None:
        if version is None:
            snap = tbl.current_snapshot()
            return snap.snapshot_id if snap else None
        if name not in version.snapshots:
            raise UnknownVersionError(f"lake version {version.id} names no snapshot of {name}")
        sid = version.snapshots[name]
        if sid is not None and tbl.metadata.snapshot_by_id(sid) is None:
            raise UnknownVersionError(
                f"lake version {version.id}: snapshot {sid} of {name} no longer exists "
                "(expired by maintenance; pin versions that must stay readable)"
            )
        return sid

    def visible_submissions(self, version: LakeVersion | None = None) -> pa.Table:
        """The ``datasets`` rows visible at ``version`` (default: now)."""
        tbl = self.table("datasets")
        sid = self._snapshot_for(tbl, "datasets", version)
        if sid is None:
            return arrow_schema("datasets").empty_table()
        # a snapshot never changes: its rows are read (and verified) once per process for
        # the last few snapshots; every read of a version asks for them
        with self._visible_lock:
            hit = self._visible.get(sid)
            if hit is not None:
                self._visible.move_to_end(sid)
                return hit
        rows = self._datasets_rows(tbl, sid)
        with self._visible_lock:
            self._visible[sid] = rows
            while len(self._visible) > VISIBLE_CACHE:
                self._visible.popitem(last=False)
        return rows

    @staticmethod
    def _added_files(
        tbl: Table, since: int | None, until: int, needed: set[str]
    ) -> list[DataFile] | None:
        """The data files that the snapshots after ``since`` up to ``until`` added, if
        each of them only appended and together they hold every submission of ``needed``
        (the ones that wrote rows to this table); None otherwise (a rewrite in between,
        history gone, or a submission whose append came earlier, e.g. before its
        ``datasets`` row made it visible). Read from the manifests those snapshots wrote,
        without planning over the table's whole history."""
        ids: set[int] = set()
        appended: set[str] = set()
        sid: int | None = until
        while sid is not None and sid != since:
            snap = tbl.metadata.snapshot_by_id(sid)
            if snap is None or snap.summary is None or snap.summary.operation != Operation.APPEND:
                return None
            ids.add(sid)
            appended.add(snap.summary.additional_properties.get(SUBMISSION_PROP, ""))
            sid = snap.parent_snapshot_id
        if sid != since or not needed <= appended:
            return None
        files: list[DataFile] = []
        if not ids:
            return files
        last = tbl.metadata.snapshot_by_id(until)
        assert last is not None
        for manifest in last.manifests(tbl.io):
            # an entry is ADDED only in a manifest its own snapshot wrote (a merge keeps
            # older entries as EXISTING)
            if manifest.added_snapshot_id not in ids:
                continue
            for entry in manifest.fetch_manifest_entry(tbl.io, discard_deleted=True):
                if entry.status == ManifestEntryStatus.ADDED and entry.snapshot_id in ids:
                    files.append(entry.data_file)
        return files

    def read(
        self,
        name: str,
        version: LakeVersion | None = None,
        row_filter: BooleanExpression | str = AlwaysTrue(),
        columns: Sequence[str] | None = None,
        submissions: Iterable[str] | None = None,
        since: LakeVersion | None = None,
    ) -> pa.Table:
        """Rows of table ``name`` at ``version``: only committed submissions, tags verified.

        ``row_filter`` prunes files by their Iceberg statistics and then filters rows;
        ``columns`` are read alone (Parquet column projection); ``submissions`` restricts
        the answer to those submission ids (the catalogue's incremental index uses it).
        With ``since`` (an earlier version), only the files that the table's snapshots
        after it added are read, if the table changed by appends only (else every file):
        planning over the whole history (a manifest entry per file of every earlier
        commit) cost seconds at 2,000 centres. Each data file is read once: its bytes are
        verified against the signed digest and parsed from the same buffer.
        """
        if version is None:
            version = self.current_version()
        visible = self.visible_submissions(version)
        ids = set(visible.column("submission_id").to_pylist())
        if submissions is not None:
            ids &= set(submissions)
        if name == "datasets":
            keep = pc.is_in(
                visible.column("submission_id"), value_set=pa.array(sorted(ids), pa.string())
            )
            data = visible.filter(keep)
            return data.select(list(columns)) if columns else data
        tbl = self.table(name)
        sid = self._snapshot_for(tbl, name, version)
        schema = arrow_schema(name)
        wanted = list(columns) if columns else list(schema.names)
        target = schema.empty_table().select(list(dict.fromkeys([*wanted, "submission_id"])))
        if sid is None or not ids:
            return schema.empty_table().select(wanted)
        expr = parse(row_filter) if isinstance(row_filter, str) else row_filter
        scan_filter = And(expr, In(term="submission_id", literals=ids))
        added = None
        if since is not None:
            needed = {
                r["submission_id"]
                for r in visible.select(["submission_id", "row_counts_json"]).to_pylist()
                if r["submission_id"] in ids
                and json.loads(r["row_counts_json"] or "{}").get(name, 1)
            }  # a row without counts (none written so far) is looked for, conservatively
            try:
                start = self._snapshot_for(tbl, name, since)
                added = self._added_files(tbl, start, sid, needed)
            except UnknownVersionError:  # expired meanwhile: plan over every file
                added = None
        if added is not None:
            files = [f.file_path for f in added if _may_hold_any(f, tbl, "submission_id", ids)]
            return self._read_files(tbl, files, scan_filter, target, wanted, schema)
        tasks = list(tbl.scan(snapshot_id=sid, row_filter=scan_filter).plan_files())
        if any(t.delete_files for t in tasks):  # never written by this lake; be safe anyway
            for t in tasks:
                self.verify_file(tbl, t.file.file_path)
            data = tbl.scan(
                snapshot_id=sid, row_filter=scan_filter, selected_fields=tuple(target.column_names)
            ).to_arrow()
            return data.select(wanted)
        return self._read_files(
            tbl, [t.file.file_path for t in tasks], scan_filter, target, wanted, schema
        )

    def _read_files(
        self,
        tbl: Table,
        paths: Sequence[str],
        scan_filter: BooleanExpression,
        target: pa.Table,
        wanted: list[str],
        schema: pa.Schema,
    ) -> pa.Table:
        """The rows of the data files ``paths`` that ``scan_filter`` selects, ``wanted``
        columns, each file verified (see :meth:`read`)."""
        bound = bind(tbl.schema(), scan_filter, case_sensitive=True)
        arrow_filter = expression_to_pyarrow(bound)
        filter_columns = [tbl.schema().find_column_name(i) for i in extract_field_ids(bound)]
        read_schema = (
            schema.empty_table()
            .select(list(dict.fromkeys([*target.column_names, *[c for c in filter_columns if c]])))
            .schema
        )
        with ThreadPoolExecutor(max_workers=READ_THREADS) as pool:
            parts = list(
                pool.map(lambda p: self._read_part(tbl, p, read_schema, arrow_filter), paths)
            )
        parts = [p for p in parts if p.num_rows]
        data = pa.concat_tables(parts) if parts else target
        return data.select(wanted)

    def _read_part(
        self, tbl: Table, path: str, target: pa.Schema, arrow_filter: pc.Expression
    ) -> pa.Table:
        """One verified data file, projected to ``target``'s columns and filtered."""
        with tbl.io.new_input(path).open() as fh:
            raw = fh.read()
        self._verify_bytes(path, raw)
        pf = pq.ParquetFile(pa.BufferReader(raw))
        present = [c for c in target.names if c in pf.schema_arrow.names]
        data = pf.read(columns=present).replace_schema_metadata(None)
        for col in target.names:  # columns added to the schema after the file was written
            if col not in data.column_names:
                data = data.append_column(
                    target.field(col), pa.nulls(data.num_rows, target.field(col).type)
                )
        data = data.select(target.names).cast(target)
        return data.filter(arrow_filter)

    def duckdb(
        self, version: LakeVersion | None = None, tables: Iterable[str] | None = None
    ) -> duckdb.DuckDBPyConnection:
        """A DuckDB connection with one view per table at ``version`` (Arrow underneath)."""
        version = version or self.current_version()
        con = duckdb.connect()
        for name in tables or TABLES:
            arrow = self.read(name, version)
            con.register(name, arrow)
        return con

    def table_counts(self, version: LakeVersion | None = None) -> dict[str, int]:
        """Visible rows per table at ``version``."""
        version = version or self.current_version()
        return {
            name: self.read(name, version, columns=["submission_id"]).num_rows for name in TABLES
        }

    # -- deleting ------------------------------------------------------------------------

    def delete_rows(
        self,
        where: Mapping[str, Sequence[Any]],
        tables: Iterable[str] | None = None,
        reason: str = "delete",
    ) -> dict[str, int]:
        """Delete every row whose column ``c`` is in ``where[c]`` (any of the given columns).

        Used for consent withdrawal (``{"patient_id": [...]}``) and by maintenance. Files
        that hold matching rows are rewritten without them (re-signed) in one overwrite
        per table. Returns the rows removed per table. Old snapshots still reference the
        old files until :meth:`maintain` expires them and removes orphan files.
        """
        removed: dict[str, int] = {}
        for name in tables or DATA_TABLES:
            tdef = TABLES[name]
            cols = {c: v for c, v in where.items() if c in tdef.column_names}
            if not cols:
                continue
            expr: BooleanExpression | None = None
            for c, vals in cols.items():
                term = In(term=c, literals=set(vals)) if vals else None
                if term is not None:
                    expr = term if expr is None else Or(expr, term)
            if expr is None:
                continue
            removed[name] = self._rewrite(name, expr, cols, reason)
        return removed

    def _rewrite(
        self,
        name: str,
        expr: BooleanExpression,
        cols: Mapping[str, Sequence[Any]],
        reason: str,
    ) -> int:
        tdef = TABLES[name]
        for attempt in range(COMMIT_ATTEMPTS):
            tbl = self.table(name)
            if tbl.current_snapshot() is None:
                return 0
            old_files: list[DataFile] = []
            new_files: list[DataFile] = []
            count = 0
            for task in tbl.scan(row_filter=expr).plan_files():
                data = self._read_verified(tbl, task.file.file_path)
                mask = None
                for c, vals in cols.items():
                    m = pc.is_in(data.column(c), value_set=pa.array(list(vals)))
                    mask = m if mask is None else pc.or_(mask, m)
                assert mask is not None
                mask = pc.fill_null(mask, False)
                hits = pc.sum(mask).as_py() or 0
                if not hits:
                    continue
                count += hits
                old_files.append(task.file)
                rest = data.filter(pc.invert(mask))
                if rest.num_rows:
                    rest = rest.replace_schema_metadata(None)
                    new_files += self._write_files(
                        tbl, tdef, rest, self._tags_for_rows(rest), f"rw-{uuid.uuid4().hex[:8]}"
                    )
            if not old_files:
                return 0
            try:
                self._replace_files(tbl, old_files, new_files, reason)
                return count
            except (CommitFailedException, ValidationException) as exc:
                log.warning("delete on %s conflicted (%s), retry %d", name, exc, attempt)
        raise CommitConflictError(f"delete on {name} kept conflicting; run it again")

    @staticmethod
    def _replace_files(
        tbl: Table, old: Sequence[DataFile], new: Sequence[DataFile], reason: str
    ) -> None:
        props = {OPERATION_PROP: reason}
        with tbl.transaction() as txn, _overwrite(txn, props) as ow:
            for f in old:
                ow.delete_data_file(f)
            for f in new:
                ow.append_data_file(f)

    # -- pins ----------------------------------------------------------------------------

    def pin(self, version: LakeVersion, name: str) -> None:
        """Keep ``version`` readable: tag each table's snapshot ``pin-<name>``."""
        tag = PIN_PREFIX + name
        for table_name, sid in version.snapshots.items():
            if sid is None:
                continue
            tbl = self.table(table_name)
            if tbl.metadata.snapshot_by_id(sid) is None:
                raise UnknownVersionError(
                    f"cannot pin {version.id}: snapshot {sid} of {table_name} no longer exists"
                )
            ref = tbl.metadata.refs.get(tag)
            if ref is not None:
                if ref.snapshot_id == sid:
                    continue
                raise UnknownVersionError(f"pin {name!r} already names another version")
            tbl.manage_snapshots().create_tag(sid, tag).commit()

    def unpin(self, name: str) -> None:
        """Release the pin ``name`` (its snapshots may then expire)."""
        tag = PIN_PREFIX + name
        for table_name in TABLES:
            tbl = self.table(table_name)
            if tag in tbl.metadata.refs:
                tbl.manage_snapshots().remove_tag(tag).commit()

    def pins(self) -> dict[str, LakeVersion]:
        """Every pinned version by name."""
        found: dict[str, dict[str, int | None]] = {}
        for table_name in TABLES:
            tbl = self.table(table_name)
            for ref_name, ref in tbl.metadata.refs.items():
                if ref_name.startswith(PIN_PREFIX) and ref.snapshot_ref_type == SnapshotRefType.TAG:
                    found.setdefault(ref_name[len(PIN_PREFIX) :], {})[table_name] = ref.snapshot_id
        return {
            name: LakeVersion({t: snaps.get(t) for t in TABLES}) for name, snaps in found.items()
        }

    # -- maintenance ---------------------------------------------------------------------

    def maintain(
        self,
        *,
        expire_older_than: dt.timedelta = dt.timedelta(days=7),
        grace: dt.timedelta = dt.timedelta(hours=1),
        target_file_rows: int = 1_000_000,
        progress: Progress | None = None,
    ) -> MaintenanceReport:
        """Remove orphan rows, compact small files, expire snapshots, delete orphan files.

        * rows of submissions the ``datasets`` table does not record (crashed or replaced
          submissions) older than ``grace`` are deleted;
        * each table's files are rewritten into as few as possible (per partition, at most
          ``target_file_rows`` rows each), sorted, with their tags re-signed;
        * snapshots older than ``expire_older_than`` are expired, except pinned ones
          (Iceberg tags) and each table's current snapshot;
        * files under each table's location that no remaining snapshot references and
          that are older than ``grace`` are deleted.

        ``expire_older_than=timedelta(0)`` purges: after a delete, the deleted rows then
        exist in no data file (unless a pinned version holds them), whatever ``grace``:
        files released by expiry were committed and are removed at once. Keep the default
        ``grace`` when other centres may be committing (a withdrawal's purge does).
        """
        say = progress or (lambda _msg: None)
        report = MaintenanceReport()
        now = dt.datetime.now(dt.UTC)
        visible = set(self.visible_submissions().column("submission_id").to_pylist())
        for name in DATA_TABLES:
            orphans = self._orphan_submissions(name, visible, now - grace)
            if orphans:
                say(f"{name}: removing rows of {len(orphans)} uncommitted submission(s)")
                removed = self._rewrite(
                    name,
                    In(term="submission_id", literals=orphans),
                    {"submission_id": list(orphans)},
                    "purge",
                )
                report.orphan_rows_removed[name] = removed
        for name in TABLES:
            before, after = self._compact(name, target_file_rows)
            if before != after:
                say(f"{name}: compacted {before} files into {after}")
                report.files_compacted[name] = (before, after)
        released: set[str] = set()
        for name in TABLES:
            tbl = self.table(name)
            n_before = len(tbl.metadata.snapshots)
            used_before = self._referenced_files(tbl)
            self._expire(tbl, now - expire_older_than)
            expired_tbl = self.table(name)
            n_after = len(expired_tbl.metadata.snapshots)
            if n_before != n_after:
                report.snapshots_expired[name] = n_before - n_after
                released |= used_before - self._referenced_files(expired_tbl)
        report.orphan_files_removed = self._remove_orphan_files(
            dt.datetime.now(dt.UTC) - grace, released
        )
        say(f"removed {report.orphan_files_removed} orphan file(s)")
        return report

    def expire_history(self, older_than: dt.timedelta) -> dict[str, int]:
        """Expire every table's snapshots older than ``older_than`` (never the current one
        nor pinned ones), without the rest of :meth:`maintain`; return how many per table.

        pyiceberg copies a table's whole metadata, snapshot list included, several times
        per commit: a long history makes every commit slower. The files the expired
        snapshots released stay until :meth:`maintain` removes them.
        """
        cutoff = dt.datetime.now(dt.UTC) - older_than
        out: dict[str, int] = {}
        for name in TABLES:
            n = self._expire(self.table(name), cutoff)
            if n:
                out[name] = n
        return out

    @staticmethod
    def _expire(tbl: Table, cutoff: dt.datetime) -> int:
        current = tbl.current_snapshot()
        expire = tbl.maintenance.expire_snapshots().older_than(cutoff)
        if current is not None:
            expire._snapshot_ids_to_expire.discard(current.snapshot_id)
        n = len(expire._snapshot_ids_to_expire)
        if n:
            expire.commit()
        return n

    def _orphan_submissions(self, name: str, visible: set[str], before: dt.datetime) -> set[str]:
        tbl = self.table(name)
        if tbl.current_snapshot() is None:
            return set()
        present = set(tbl.scan(selected_fields=("submission_id",)).to_arrow().column(0).to_pylist())
        candidates = present - visible
        if not candidates:
            return set()
        # Only submissions whose rows were appended before the grace period ended: a
        # submission still committing its tables is never touched.
        recent = set()
        cutoff_ms = before.timestamp() * 1000
        for snap in tbl.metadata.snapshots:
            props = snap.summary.additional_properties if snap.summary else {}
            sid = props.get(SUBMISSION_PROP)
            if sid in candidates and snap.timestamp_ms >= cutoff_ms:
                recent.add(sid)
        return candidates - recent

    def _compact(self, name: str, target_rows: int) -> tuple[int, int]:
        tdef = TABLES[name]
        for attempt in range(COMMIT_ATTEMPTS):
            tbl = self.table(name)
            if tbl.current_snapshot() is None:
                return 0, 0
            tasks = list(tbl.scan().plan_files())
            by_part: dict[str, list[DataFile]] = {}
            for t in tasks:
                by_part.setdefault(str(t.file.partition), []).append(t.file)
            old: list[DataFile] = []
            new: list[DataFile] = []
            for files in by_part.values():
                if len(files) < 2:
                    continue
                parts = [self._read_verified(tbl, f.file_path) for f in files]
                data = pa.concat_tables([p.replace_schema_metadata(None) for p in parts])
                old += files
                for start in range(0, data.num_rows, target_rows):
                    chunk = data.slice(start, target_rows)
                    new += self._write_files(
                        tbl, tdef, chunk, self._tags_for_rows(chunk), f"cp-{uuid.uuid4().hex[:8]}"
                    )
            if not old:
                return len(tasks), len(tasks)
            try:
                self._replace_files(tbl, old, new, "compact")
                return len(tasks), len(tasks) - len(old) + len(new)
            except (CommitFailedException, ValidationException) as exc:
                log.warning("compaction of %s conflicted (%s), retry %d", name, exc, attempt)
        return 0, 0

    def _fs(self) -> fsspec.AbstractFileSystem:
        if self.config.warehouse.startswith("s3://"):
            props = self.config.properties
            return fsspec.filesystem(
                "s3",
                key=props.get("s3.access-key-id"),
                secret=props.get("s3.secret-access-key"),
                endpoint_url=props.get("s3.endpoint"),
                client_kwargs={"region_name": props.get("s3.region", "us-east-1")},
            )
        return fsspec.filesystem("file")

    @staticmethod
    def _strip(path: str) -> str:
        for prefix in ("file://", "s3://", "s3a://"):
            if path.startswith(prefix):
                return path[len(prefix) :]
        return path

    def _referenced_files(self, tbl: Table) -> set[str]:
        """Every manifest list, manifest and data file that some snapshot of ``tbl`` uses."""
        referenced: set[str] = set()
        for snap in tbl.metadata.snapshots:
            referenced.add(self._strip(snap.manifest_list))
            for manifest in snap.manifests(tbl.io):
                referenced.add(self._strip(manifest.manifest_path))
                for entry in manifest.fetch_manifest_entry(tbl.io, discard_deleted=True):
                    referenced.add(self._strip(entry.data_file.file_path))
        return referenced

    def _remove_orphan_files(self, before: dt.datetime, released: set[str]) -> int:
        """Delete unreferenced files: at once if expiry released them (they were
        committed, so no writer still needs them), else only if older than ``before``
        (a file younger than that may belong to a commit in flight)."""
        fs = self._fs()
        removed = 0
        for name in TABLES:
            tbl = self.table(name)
            referenced = self._referenced_files(tbl)
            root = self._strip(tbl.location()).rstrip("/")
            for sub in ("data", "metadata"):
                base = f"{root}/{sub}"
                if not fs.exists(base):
                    continue
                for path in fs.find(base):
                    if path.endswith(".metadata.json") or path in referenced:
                        continue
                    if not (path.endswith(".parquet") or path.endswith(".avro")):
                        continue
                    if path not in released and _modified(fs, path) >= before:
                        continue
                    fs.rm(path)
                    removed += 1
        return removed

    def data_files(self) -> list[str]:
        """Every Parquet file under the tables' locations (referenced or not)."""
        fs = self._fs()
        out: list[str] = []
        for name in TABLES:
            root = self._strip(self.table(name).location()).rstrip("/")
            base = f"{root}/data"
            if fs.exists(base):
                out += [p for p in fs.find(base) if p.endswith(".parquet")]
        return out

    def open_file(self, path: str) -> pa.Table:
        """Read any Parquet file under the warehouse, without verification (for audits)."""
        fs = self._fs()
        with fs.open(path, "rb") as fh:
            return pq.read_table(fh)


#: Per manifest file (immutable once written) and field id: the value bounds of its live
#: data files, so that a question asked at every commit reads only new manifests.
_BOUNDS: OrderedDict[tuple[str, int], list[tuple[bytes | None, bytes | None]]] = OrderedDict()
_BOUNDS_LOCK = threading.Lock()
_BOUNDS_MAX = 20_000


def _may_hold_any(f: DataFile, tbl: Table, column: str, values: Iterable[str]) -> bool:
    """False only if data file ``f``'s bounds of ``column`` exclude every one of
    ``values`` (bounds are conservative: a True means the file must be read)."""
    fid = tbl.schema().find_field(column).field_id
    low, high = f.lower_bounds.get(fid), f.upper_bounds.get(fid)
    return any(_within(low, high, value.encode()) for value in values)


def _within(low: bytes | None, high: bytes | None, want: bytes) -> bool:
    """False only if the bounds ``low``..``high`` (None: unknown) exclude ``want``."""
    return (low is None or low <= want) and (high is None or want <= high)


def _may_hold(tbl: Table, column: str, value: str) -> bool:
    """False only if no current data file of ``tbl`` can hold ``value`` in ``column``
    (its bounds exclude it); True means a scan must tell.

    What a filtered scan's planning does, without decoding every manifest at every call:
    each manifest's bounds are read once per process. Truncated string bounds stay
    conservative (lower ≤ min, upper ≥ max), so the answer is never a false "no".
    """
    snap = tbl.current_snapshot()
    if snap is None:
        return False
    fid = tbl.schema().find_field(column).field_id
    want = value.encode()
    for manifest in snap.manifests(tbl.io):
        key = (manifest.manifest_path, fid)
        with _BOUNDS_LOCK:
            bounds = _BOUNDS.get(key)
            if bounds is not None:
                _BOUNDS.move_to_end(key)
        if bounds is None:
            bounds = [
                (e.data_file.lower_bounds.get(fid), e.data_file.upper_bounds.get(fid))
                for e in manifest.fetch_manifest_entry(tbl.io, discard_deleted=True)
            ]
            with _BOUNDS_LOCK:
                _BOUNDS[key] = bounds
                while len(_BOUNDS) > _BOUNDS_MAX:
                    _BOUNDS.popitem(last=False)
        if any(_within(low, high, want) for low, high in bounds):
            return True
    return False


def _overwrite(txn: Transaction, props: dict[str, str]) -> Any:
    """``txn``'s overwrite, carrying forward only manifests that still list live files.

    pyiceberg 0.12 keeps, in every later snapshot, the manifest in which an overwrite
    records its deleted files (it lists no live file), so a table overwritten at each
    commit (``datasets``) gained a manifest per commit that every scan then opened. Java
    Iceberg drops such manifests; so does this wrapper (the deleting snapshot's own
    manifest list still records the deletion).
    """
    ow = txn.update_snapshot(snapshot_properties=props).overwrite()
    carried = getattr(ow, "_existing_manifests", None)
    if callable(carried):

        def live_only() -> list[ManifestFile]:
            return [m for m in carried() if m.has_added_files() or m.has_existing_files()]

        ow._existing_manifests = live_only  # type: ignore[method-assign]
    return ow


def _modified(fs: fsspec.AbstractFileSystem, path: str) -> dt.datetime:
    try:
        value = fs.modified(path)
    except (NotImplementedError, FileNotFoundError):
        return dt.datetime.min.replace(tzinfo=dt.UTC)
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value


class _HashingSink:
    """A write-only file object that hashes every byte it passes to ``inner``.

    pyarrow's ParquetWriter writes the magic and every row group before the footer, so
    the digest taken just before ``close`` covers exactly the bytes before the footer.
    """

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self._hash = hashlib.sha256()
        self._pos = 0
        self.closed = False

    def write(self, data: bytes) -> int:
        self._hash.update(data)
        self._pos += len(data)
        self._inner.write(data)
        return len(data)

    def tell(self) -> int:
        return self._pos

    def flush(self) -> None:
        """Nothing is buffered here."""

    def writable(self) -> bool:
        return True

    def close(self) -> None:
        self.closed = True

    def hexdigest(self) -> str:
        return self._hash.hexdigest()


@dataclass
class _OpenFile:
    """A partition's Parquet file being written (see :class:`_PartitionFiles`)."""

    path: str
    partition: Record
    stream: Any
    sink: _HashingSink
    buffered: pa.BufferedOutputStream
    writer: pq.ParquetWriter
    rows: int = 0


class _PartitionFiles:
    """The signed Parquet files of one write: one open file per partition, each chunk
    written to it as a row group; a file is closed after ``FILE_MAX_ROWS`` rows.

    ``tags`` maps each dataset id in the rows to that dataset's tags. Each chunk's rows are
    ordered once (``Lake._split_partitions``); its partitions are gathered and encoded on
    ``WRITE_THREADS`` threads at once (Arrow's ``take``, Parquet encoding, compression and
    SHA-256 release the GIL). :meth:`close` signs each file (tags and the SHA-256 of every
    byte before the footer, so a file whose rows or tags are edited is refused on read)
    and describes it for Iceberg from its footer's statistics, which pyiceberg gathers over
    every row group. Statistics are written only for the columns the table keeps bounds
    for (``TableDef.no_bounds``). Without ``dictionary`` (a commit's streamed write), no
    column is dictionary-encoded: the encoder hashes every value of every dictionary
    column, a fifth of the encoding's CPU for 20 % smaller files (1M variant rows: 0.5-0.6
    against 0.7-0.8 CPU-s, 29 against 24 MB); compaction rewrites the files with
    dictionaries, off the ingest path.
    """

    def __init__(
        self,
        lake: Lake,
        tbl: Table,
        tdef: TableDef,
        tags: Mapping[str, Any],
        label: str,
        *,
        sort: bool,
        dictionary: bool = True,
    ) -> None:
        self._lake, self._tbl, self._tdef, self._tags, self._sort = lake, tbl, tdef, tags, sort
        self._dictionary = dictionary
        self._label = label[:16]
        self._base = f"{tbl.location().rstrip('/')}/data/"
        self._schema = tbl.metadata.schema()
        self._plan = compute_statistics_plan(self._schema, tbl.metadata.properties)
        self._no_bounds = {
            self._schema.find_column_name(fid)
            for fid, col in self._plan.items()
            if col.mode.type == MetricModeTypes.NONE
        }
        self._open: dict[str, _OpenFile] = {}
        self._done: list[DataFile] = []

    def write(self, data: pa.Table) -> None:
        """Append ``data``'s rows to their partitions' files (one row group each)."""
        data, parts = self._lake._split_partitions(self._tdef, data, self._sort)
        targets = []
        for part_dir, partition, rows in parts:
            f = self._open.get(part_dir)
            if f is None:
                f = self._open[part_dir] = self._new_file(part_dir, partition, data.schema)
            targets.append((f, rows))

        def one(target: tuple[_OpenFile, pa.Array | None]) -> None:
            f, rows = target
            chunk = data if rows is None else data.take(rows)
            f.writer.write_table(chunk)
            f.rows += chunk.num_rows

        if len(targets) < 2:
            for t in targets:
                one(t)
        else:
            with ThreadPoolExecutor(WRITE_THREADS, thread_name_prefix="lake-part") as pool:
                list(pool.map(one, targets))
        for part_dir, f in list(self._open.items()):
            if f.rows >= FILE_MAX_ROWS:
                self._done.append(self._finish(self._open.pop(part_dir)))

    def close(self) -> list[DataFile]:
        """Sign and close every open file; every file written, described for Iceberg."""
        while self._open:
            self._done.append(self._finish(self._open.popitem()[1]))
        return self._done

    def __enter__(self) -> _PartitionFiles:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        """After a failure, the open files are abandoned (:meth:`abort`)."""
        if exc_type is not None:
            self.abort()

    def abort(self) -> None:
        """After a failure: close the open files unsigned and delete every file of this
        write (best effort: no snapshot references them, and maintenance removes what a
        crash leaves)."""
        paths = [f.file_path for f in self._done] + [f.path for f in self._open.values()]
        for f in self._open.values():
            # best effort, every file: the failure being raised is the one that matters
            with contextlib.suppress(Exception):
                f.writer.close()
            with contextlib.suppress(Exception):
                f.buffered.close()
            with contextlib.suppress(Exception):
                f.stream.__exit__(None, None, None)
        self._open.clear()
        self._done.clear()
        _delete_files(self._tbl, paths)

    def _new_file(self, part_dir: str, partition: Record, schema: pa.Schema) -> _OpenFile:
        path = f"{self._base}{part_dir}{self._label}-{uuid.uuid4().hex}.parquet"
        stream = self._tbl.io.new_output(path).create(overwrite=True)
        out = stream.__enter__()
        sink = _HashingSink(out)
        # the Parquet writer writes page by page, thousands of small writes per chunk, and
        # each write into a Python object waits for the GIL (which the reader's threads
        # hold often): a native buffer hands the bytes on in WRITE_BUFFER_BYTES pieces
        buffered = pa.BufferedOutputStream(pa.PythonFile(sink, mode="w"), WRITE_BUFFER_BYTES)
        stats: bool | list[str] = (
            [c for c in schema.names if c not in self._no_bounds] if self._no_bounds else True
        )
        # columns given as dictionary arrays (constants, see ``Lake._conform``) are encoded
        # from their dictionary; the file does not store the Arrow schema, so that readers
        # get the table's plain string columns back
        encoded = [f.name for f in schema if pa.types.is_dictionary(f.type)]
        try:
            writer = pq.ParquetWriter(
                buffered,
                schema,
                compression="zstd",
                write_statistics=stats,
                use_dictionary=True if self._dictionary else encoded,
                store_schema=not encoded,
                # values handed to the encoders at a time (Arrow's default 1,024): the
                # same files, 5 % less encoding CPU for 1M variant rows (0.50-0.51 against
                # 0.53-0.59 CPU-s, four runs each); a page may pass its 1 MB target by
                # one such batch
                write_batch_size=32_768,
            )
        except BaseException:
            stream.__exit__(None, None, None)
            raise
        return _OpenFile(path, partition, stream, sink, buffered, writer)

    def _finish(self, f: _OpenFile) -> DataFile:
        try:
            f.buffered.flush()  # every byte before the footer through the hashing sink
            f.writer.add_key_value_metadata(
                sign_tags(self._tags, self._lake._tag_key, file_sha256=f.sink.hexdigest())
            )
            f.writer.close()
            f.buffered.close()  # the footer, through the sink into the file
        finally:
            f.stream.__exit__(None, None, None)
        tbl = self._tbl
        file_stats = data_file_statistics_from_parquet_metadata(
            parquet_metadata=f.writer.writer.metadata,
            stats_columns=self._plan,
            parquet_column_mapping=parquet_path_to_id_mapping(self._schema),
        )
        # pyiceberg's ``parquet_file_to_data_file`` cannot infer a bucket partition from
        # statistics, so the partition value computed while splitting is passed in
        return DataFile.from_args(
            content=DataFileContent.DATA,
            file_path=f.path,
            file_format=FileFormat.PARQUET,
            partition=f.partition,
            file_size_in_bytes=len(tbl.io.new_input(f.path)),
            sort_order_id=None,
            spec_id=tbl.metadata.default_spec_id,
            equality_ids=None,
            key_metadata=None,
            **file_stats.to_serialized_dict(),
        )


def _delete_files(tbl: Table, paths: Sequence[str]) -> None:
    """Delete data files no snapshot references (after a failed write), best effort: the
    failure being raised is the one that matters, and maintenance removes what is left."""
    for path in paths:
        with contextlib.suppress(Exception):
            tbl.io.delete(path)


def _chunks(data: TableRows, size: int) -> Iterator[pa.Table]:
    """``data`` as tables of at most ``size`` rows (pieces are gathered, not split)."""
    if isinstance(data, pa.Table):
        for start in range(0, data.num_rows, size):
            yield data.slice(start, size)
        return
    buffered: list[pa.Table] = []
    count = 0
    for piece in data:
        table = pa.Table.from_batches([piece]) if isinstance(piece, pa.RecordBatch) else piece
        if not table.num_rows:
            continue
        buffered.append(table)
        count += table.num_rows
        if count >= size:
            yield _concat(buffered)
            buffered, count = [], 0
    if buffered:
        yield _concat(buffered)


def _concat(pieces: list[pa.Table]) -> pa.Table:
    """Pieces as one table; permissive: they may carry different subsets of the table's
    columns, and a column may be a dictionary array in one piece and plain in another (it
    is then plain in all)."""
    try:
        return pa.concat_tables(pieces, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        plain = []
        for t in pieces:
            for i, f in enumerate(t.schema):
                if pa.types.is_dictionary(f.type):
                    t = t.set_column(i, f.name, t.column(i).cast(f.type.value_type))
            plain.append(t)
        return pa.concat_tables(plain, promote_options="permissive")
