"""The lake's data-file writer: rows in, signed Parquet files described for Iceberg out.

The lake writes its own Parquet files (pyarrow) so that each carries, in its key-value
metadata, the signed tags of every dataset whose rows it holds (:mod:`consent.tags`) and
the SHA-256 of every byte before its footer. pyiceberg's own writer cannot add key-value
metadata. The writer registers nothing: the caller commits the files it returns (a file
no snapshot references is seen by no reader, and maintenance removes it).

Every file's name says which process wrote it (:func:`writer_id`), so that maintenance
can tell a file whose writer died (a SIGKILLed ingest leaves it without a footer) from
one still being written.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import socket
import uuid
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pyiceberg.io.pyarrow import (
    MetricModeTypes,
    compute_statistics_plan,
    data_file_statistics_from_parquet_metadata,
    parquet_path_to_id_mapping,
)
from pyiceberg.manifest import DataFile, DataFileContent, FileFormat
from pyiceberg.table import Table
from pyiceberg.transforms import BucketTransform
from pyiceberg.typedef import Record
from pyiceberg.types import StringType

from consent.tags import sign_tags
from harmonise.errors import SubmissionError
from harmonise.lake.types import Submission, TableRows, arrow_schema, constant
from harmonise.model import TABLES, TableDef

#: Rows encoded per write chunk of a streamed table: each chunk becomes one row group in
#: each of its partitions' files (see :class:`DataFileWriter`).
WRITE_CHUNK_ROWS = 200_000
#: Bytes of encoded Parquet buffered natively before they reach a file's hashing sink.
WRITE_BUFFER_BYTES = 1 << 20
#: Rows after which a partition's file is closed and the next chunk starts a new one.
FILE_MAX_ROWS = 5_000_000
#: Partition files of one chunk gathered and encoded at once.
WRITE_THREADS = 2


# -- which process wrote a file ------------------------------------------------------------


def _start_ticks(pid: int) -> str | None:
    """The start time of process ``pid`` in clock ticks since boot (Linux ``/proc``), which
    tells a live process from a later one that reuses its pid; None where unknown."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read()
    except OSError:
        return None
    fields = stat[stat.rfind(b")") + 2 :].split()  # after "pid (comm) "
    return fields[19].decode() if len(fields) > 19 else None


def _host() -> str:
    return hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]


def writer_id() -> str:
    """This process as written into the names of its files: host digest, pid, start time."""
    pid = os.getpid()
    return f"w{_host()}p{pid}s{_start_ticks(pid) or 0}"


_WRITER = re.compile(r"-w([0-9a-f]{8})p(\d+)s(\d+)-[0-9a-f]{32}\.parquet$")


def writer_state(path: str) -> str:
    """Whether the process that wrote ``path`` is ``"alive"`` or ``"dead"`` (a process of
    this host that has ended: its pid is gone or now names a process started later), or
    ``"unknown"`` (another host, a file named before writers were named, no ``/proc``)."""
    m = _WRITER.search(path)
    if m is None or m.group(1) != _host() or m.group(3) == "0":
        return "unknown"
    pid = int(m.group(2))
    if pid == os.getpid():
        return "alive"
    ticks = _start_ticks(pid)
    if ticks is None and not os.path.exists("/proc/self/stat"):
        return "unknown"
    return "alive" if ticks == m.group(3) else "dead"


# -- preparing rows ------------------------------------------------------------------------


def check_columns(sub: Submission, name: str, columns: Sequence[str]) -> None:
    """Refuse columns that table ``name`` does not have."""
    extra = set(columns) - set(TABLES[name].column_names)
    if extra:
        raise SubmissionError(
            f"submission {sub.submission_id}, table {name}: columns not in the "
            f"schema: {sorted(extra)}"
        )


def conform(
    tdef: TableDef, data: pa.Table, sub: Submission, schema: pa.Schema | None = None
) -> pa.Table:
    """Cast ``data`` to the table's Arrow ``schema`` (default: the model's), filling key
    columns and nulls.

    The key columns are one-value dictionary arrays (:func:`constant`), and a given
    string column that is a dictionary array stays one (a VCF's patient, specimens,
    build, fingerprint…): partitioning gathers their int32 indices instead of copying
    the same long string for every row, and the Parquet writer encodes them from the
    dictionary without hashing each value. The files store plain strings."""
    schema = schema or arrow_schema(tdef.name)
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
    missing = [f.name for f in tdef.schema.fields if f.required and out.column(f.name).null_count]
    if missing:
        raise SubmissionError(
            f"submission {sub.submission_id}, table {tdef.name}: required columns "
            f"with empty values: {missing}"
        )
    return out


def align(parts: Sequence[pa.Table], schema: pa.Schema) -> pa.Table:
    """Rows read from files written under different schemas (a column added since is
    null in the older ones) as one table of ``schema``."""
    out = []
    for t in parts:
        t = t.replace_schema_metadata(None)
        for fld in schema:
            if fld.name not in t.column_names:
                t = t.append_column(fld, pa.nulls(t.num_rows, fld.type))
        out.append(t.select(schema.names).cast(schema))
    return pa.concat_tables(out) if out else schema.empty_table()


def split_partitions(
    tdef: TableDef, data: pa.Table, sort: bool = True
) -> tuple[pa.Table, list[tuple[str, Record, pa.Array | None]]]:
    """Order ``data`` by (partition, the table's sort columns) in one pass: return the
    rows (one contiguous chunk per column) and, per partition, its directory, its
    partition value and the indices of its rows in sort order (None: all rows, as
    they are). Without ``sort``, a partition's rows keep their arrival order (Arrow's
    sort is stable): gathering ascending indices costs about a third of gathering
    them in sort order, and a commit does not need the order (see :func:`write_stream`).

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


# -- writing -------------------------------------------------------------------------------


def write_stream(
    tbl: Table,
    tdef: TableDef,
    data: TableRows,
    sub: Submission,
    tags: Mapping[str, Any],
    tag_key: bytes,
) -> tuple[list[DataFile], int]:
    """Write ``data`` (a table, or batches as they are produced) in chunks of at most
    ``WRITE_CHUNK_ROWS`` rows; return the files and the row count.

    Each partition has one file for the whole stream, which takes a row group per chunk
    (:class:`DataFileWriter`). A writer thread partitions and encodes a chunk (its
    partitions on ``WRITE_THREADS`` threads) while the caller produces the next one,
    so reading and writing overlap, memory holds about two chunks, and what is left
    after the last row is read is one chunk and the footers. A failure part-way deletes
    the files written so far.
    """
    total = 0
    schema = arrow_schema(tdef.name, tbl.schema())
    # in arrival order: Iceberg does not require sorted files (they are registered
    # without a sort order id); `lake maintain` rewrites them in the table's sort
    # order when it compacts, off the ingest path
    with (
        DataFileWriter(
            tbl, tdef, tags, tag_key, sub.submission_id, sort=False, dictionary=False
        ) as files,
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="lake-write") as writer,
    ):
        pending: Future[None] | None = None
        for chunk in chunks(data, WRITE_CHUNK_ROWS):
            check_columns(sub, tdef.name, chunk.column_names)
            conformed = conform(tdef, chunk, sub, schema)
            del chunk
            total += conformed.num_rows
            if pending is not None:
                pending.result()
            pending = writer.submit(files.write, conformed)
            del conformed  # the writer holds the only reference: freed once written
        if pending is not None:
            pending.result()
        return files.close(), total


def write_files(
    tbl: Table,
    tdef: TableDef,
    data: pa.Table,
    tags: Mapping[str, Any],
    tag_key: bytes,
    label: str,
    sort: bool = True,
) -> list[DataFile]:
    """Write ``data`` as Parquet files (one per partition) signed with ``tags``, each in
    the table's sort order (``sort``) or in arrival order."""
    with DataFileWriter(tbl, tdef, tags, tag_key, label, sort=sort) as files:
        files.write(data)
        return files.close()


def delete_files(tbl: Table, paths: Sequence[str]) -> None:
    """Delete data files no snapshot references (after a failed write), best effort: the
    failure being raised is the one that matters, and maintenance removes what is left."""
    for path in paths:
        with contextlib.suppress(Exception):
            tbl.io.delete(path)


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
    """A partition's Parquet file being written (see :class:`DataFileWriter`)."""

    path: str
    partition: Record
    stream: Any
    sink: _HashingSink
    buffered: pa.BufferedOutputStream
    writer: pq.ParquetWriter
    rows: int = 0


class DataFileWriter:
    """The signed Parquet files of one write: one open file per partition, each chunk
    written to it as a row group; a file is closed after ``FILE_MAX_ROWS`` rows.

    ``tags`` maps each dataset id in the rows to that dataset's tags, signed with
    ``tag_key``. Each chunk's rows are ordered once (:func:`split_partitions`); its
    partitions are gathered and encoded on ``WRITE_THREADS`` threads at once (Arrow's
    ``take``, Parquet encoding, compression and SHA-256 release the GIL). :meth:`close`
    signs each file (tags and the SHA-256 of every byte before the footer, so a file
    whose rows or tags are edited is refused on read) and describes it for Iceberg from
    its footer's statistics, which pyiceberg gathers over every row group. Statistics are
    written only for the columns the table keeps bounds for (``TableDef.no_bounds``).
    Without ``dictionary`` (a commit's streamed write), no column is dictionary-encoded:
    the encoder hashes every value of every dictionary column, a fifth of the encoding's
    CPU for 20 % smaller files; compaction rewrites the files with dictionaries, off the
    ingest path (figures in docs/ingest.md).
    """

    def __init__(
        self,
        tbl: Table,
        tdef: TableDef,
        tags: Mapping[str, Any],
        tag_key: bytes,
        label: str,
        *,
        sort: bool,
        dictionary: bool = True,
    ) -> None:
        self._tbl, self._tdef, self._tags, self._sort = tbl, tdef, tags, sort
        self._tag_key = tag_key
        self._dictionary = dictionary
        self._label = f"{label[:16]}-{writer_id()}"
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
        data, parts = split_partitions(self._tdef, data, self._sort)
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

    def __enter__(self) -> DataFileWriter:
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
        delete_files(self._tbl, paths)

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
        # columns given as dictionary arrays (constants, see :func:`conform`) are encoded
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
                # same files, less encoding CPU (docs/ingest.md); a page may pass its
                # 1 MB target by one such batch
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
                sign_tags(self._tags, self._tag_key, file_sha256=f.sink.hexdigest())
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


def chunks(data: TableRows, size: int) -> Iterator[pa.Table]:
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
