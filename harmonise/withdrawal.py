"""Applying a consent withdrawal to the lake: every version it keeps, and the inbox.

consent/ owns the withdrawal record and its durable registry; this module owns what a
withdrawal does to the hub's stores (DESIGN: harmonise owns "withdrawal deletes"):

1. the current lake: the patient's rows are deleted (files rewritten, re-signed), and the
   ``datasets`` rows' manifests are redacted (the patient's samples, their specimen ids
   and the files named after them are removed from ``manifest_json``);
2. every pinned version (the pins of submitted access requests): a pin becomes "that
   version minus the withdrawn patients". For each table whose pinned snapshot holds the
   patient, only the files that hold them are rewritten without them, in a new snapshot
   whose parent is the pinned one (committed on a temporary branch, so the table's
   current state is untouched); the pin's tag is moved to it and the branch dropped. The
   old pinned snapshot is then held by nothing and the purge removes it with its files;
3. the inbox: a bundle that names the patient (manifest, clinical or consent files, VCF
   headers, read decompressed) is deleted whole — the lake holds its data, the centre its
   source; re-ingesting it is refused anyway (withdrawal registry);
4. the purge: snapshots no pin holds are expired and the files they released deleted;
5. the purge report (:func:`scan_stores`): every file of every store read — Parquet with
   pyarrow, cell by cell and its key-value metadata; gzip/BGZF and Avro (Iceberg
   manifests) decompressed; anything else as bytes — and each occurrence of the
   pseudonym or a specimen id counted.

Every step is idempotent and the withdrawal is recorded before the first, so a re-run
after a crash at any point completes it (a half-moved pin is finished from its branch).
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import shutil
import uuid
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from pyiceberg.expressions import AlwaysTrue, BooleanExpression, In
from pyiceberg.table import Table

from consent.withdrawal import SCOPE_TABLES, Withdrawal, record_withdrawal
from harmonise.lake import Lake, LakeVersion, MaintenanceReport
from harmonise.model import DATA_TABLES, GENOMIC_RESULT_TABLES, TABLES

#: Iceberg tags of pinned versions start with this (harmonise.lake's pins).
PIN_PREFIX = "pin-"
#: The temporary branch on which a pin's amended snapshot is committed.
AMEND_PREFIX = "amend-"
_OPERATION_PROP = "oncolake.operation"

#: A rewrite of one data file's rows: the rows to keep and how many rows it changed.
Transform = Callable[[pa.Table], tuple[pa.Table, int]]


@dataclass(frozen=True)
class AmendedPin:
    """A pin moved to "its version minus the withdrawn patients"."""

    name: str
    before: LakeVersion
    after: LakeVersion
    rows_removed: dict[str, int]


@dataclass(frozen=True)
class AppliedWithdrawal:
    """What a withdrawal removed from the lake, its pins and the inbox."""

    withdrawal: Withdrawal
    rows_removed: dict[str, int]
    maintenance: MaintenanceReport
    lake_version: str
    pins: list[AmendedPin] = field(default_factory=list)
    inbox_removed: list[str] = field(default_factory=list)
    datasets_redacted: int = 0


def _patient_rows(patients: Sequence[str]) -> Transform:
    wanted = pa.array(list(patients), pa.string())

    def drop(data: pa.Table) -> tuple[pa.Table, int]:
        mask = pc.fill_null(pc.is_in(data.column("patient_id"), value_set=wanted), False)
        hits = int(pc.sum(mask).as_py() or 0)
        return (data.filter(pc.invert(mask)) if hits else data), hits

    return drop


def _pipeline_markers(patients: Sequence[str]) -> Transform:
    """Drop the ``biomarkers`` rows of ``patients`` that the pipeline computed from the
    sequencing (``source`` = pipeline: TMB, MSI); the FHIR-reported ones stay."""
    wanted = pa.array(list(patients), pa.string())

    def drop(data: pa.Table) -> tuple[pa.Table, int]:
        if "source" not in data.column_names:  # a file written before the column existed
            return data, 0
        mask = pc.and_(
            pc.fill_null(pc.is_in(data.column("patient_id"), value_set=wanted), False),
            pc.fill_null(pc.equal(data.column("source"), "pipeline"), False),
        )
        hits = int(pc.sum(mask).as_py() or 0)
        return (data.filter(pc.invert(mask)) if hits else data), hits

    return drop


def scope_tables(scope: str) -> tuple[str, ...] | None:
    """The tables a withdrawal of ``scope`` removes the patient's rows from (None: all).
    A genomic withdrawal reaches every sequencing result: the small variants and the
    structural-variant and copy-number tables (and, see :func:`apply_withdrawal`, the
    pipeline's TMB/MSI biomarker rows)."""
    tables = SCOPE_TABLES[scope]
    if tables is not None and "variants" in tables:
        return (*tables, *(t for t in GENOMIC_RESULT_TABLES if t not in tables))
    return tables


def redact_manifest(manifest_json: str, patients: set[str]) -> str | None:
    """``manifest_json`` without the samples of ``patients`` (their specimen ids and the
    files named after those), or None when it names none of them."""
    if not any(p in manifest_json for p in patients):
        return None
    doc = json.loads(manifest_json)
    samples = doc.get("samples") or []
    gone = {str(s.get("specimen_id")) for s in samples if s.get("patient_id") in patients}
    doc["samples"] = [s for s in samples if s.get("patient_id") not in patients]
    doc["files"] = [
        f for f in doc.get("files") or [] if not any(g in str(f.get("path")) for g in gone)
    ]
    doc["amended"] = "samples of withdrawn patients removed (consent withdrawal)"
    text = json.dumps(doc, sort_keys=True)
    leftover = [p for p in patients | gone if p in text]
    if leftover:  # named elsewhere (a title, a free-text field): blank the id itself
        for p in leftover:
            text = text.replace(p, "[withdrawn]")
    return text


def _manifests(patients: Sequence[str]) -> Transform:
    ids = set(patients)

    def redact(data: pa.Table) -> tuple[pa.Table, int]:
        col = data.column("manifest_json").to_pylist()
        new = [redact_manifest(m, ids) if m else None for m in col]
        hits = sum(1 for n in new if n is not None)
        if not hits:
            return data, 0
        merged = [n if n is not None else m for m, n in zip(col, new, strict=True)]
        i = data.schema.get_field_index("manifest_json")
        return data.set_column(i, data.schema.field(i), pa.array(merged, pa.string())), hits

    return redact


def _rewrite_snapshot(
    lake: Lake,
    name: str,
    snapshot_id: int,
    row_filter: BooleanExpression,
    transform: Transform,
    branch: str,
) -> tuple[int | None, int]:
    """Rewrite the files of ``name``'s snapshot ``snapshot_id`` that ``transform`` changes,
    as a new snapshot on ``branch`` (created at ``snapshot_id`` if missing; ``main``: the
    table's own history). Return the new snapshot id (None: nothing changed) and the rows
    changed. Only the files that held matching rows are rewritten, re-signed."""
    tbl = lake.table(name)
    old, new, changed = [], [], 0
    for task in tbl.scan(row_filter=row_filter, snapshot_id=snapshot_id).plan_files():
        data = lake.read_file(tbl, task.file.file_path)
        kept, hits = transform(data)
        if not hits:
            continue
        changed += hits
        old.append(task.file)
        if kept.num_rows:
            kept = kept.replace_schema_metadata(None)
            new += lake.write_signed(tbl, kept, f"wd-{uuid.uuid4().hex[:8]}")
    if not old:
        return None, 0
    if branch != "main" and branch not in tbl.metadata.refs:
        tbl.manage_snapshots().create_branch(snapshot_id, branch).commit()
        tbl = lake.table(name)
    props = {_OPERATION_PROP: "withdrawal"}
    with (
        tbl.transaction() as txn,
        txn.update_snapshot(snapshot_properties=props, branch=branch).overwrite() as ow,
    ):
        for f in old:
            ow.delete_data_file(f)
        for f in new:
            ow.append_data_file(f)
    return _seal(lake, name, branch), changed


def _seal(lake: Lake, name: str, branch: str) -> int:
    """Commit an empty append on ``branch`` of ``name`` and return its snapshot id.

    An overwrite records the files it removed in a manifest of DELETED entries that
    keep those files' column bounds (the first and last ``patient_id`` of each file). A
    fast append does not carry such a manifest forward, so after this snapshot the
    overwrite's snapshot can expire and the purge deletes the manifest with it: no
    Iceberg metadata of a live or pinned snapshot then names the withdrawn patient."""
    tbl = lake.table(name)
    props = {_OPERATION_PROP: "withdrawal-seal"}
    with (
        tbl.transaction() as txn,
        txn.update_snapshot(snapshot_properties=props, branch=branch).fast_append(),
    ):
        pass
    return lake.table(name).metadata.refs[branch].snapshot_id


def _move_pin(lake: Lake, name: str, tag: str, branch: str) -> int:
    """Point ``tag`` at ``branch``'s head and drop the branch (the branch holds the amended
    snapshot until the tag does, so a crash in between loses nothing)."""
    tbl = lake.table(name)
    target = tbl.metadata.refs[branch].snapshot_id
    ref = tbl.metadata.refs.get(tag)
    if ref is not None and ref.snapshot_id != target:
        tbl.manage_snapshots().remove_tag(tag).commit()
        tbl = lake.table(name)
    if tag not in tbl.metadata.refs:
        tbl.manage_snapshots().create_tag(target, tag).commit()
        tbl = lake.table(name)
    tbl.manage_snapshots().remove_branch(branch).commit()
    return target


def _tables_with(tables: Iterable[str] | None) -> list[str]:
    return [t for t in (tables or DATA_TABLES) if "patient_id" in TABLES[t].column_names]


def amend_pins(
    lake: Lake, patients: Sequence[str], tables: Iterable[str] | None = None
) -> list[AmendedPin]:
    """Make every pinned version "that version minus ``patients``" (see the module doc)."""
    if not patients:
        return []
    out: list[AmendedPin] = []
    by_rows = In(term="patient_id", literals=set(patients))
    steps: list[tuple[str, BooleanExpression, Transform]] = [
        (t, by_rows, _patient_rows(patients)) for t in _tables_with(tables)
    ]
    if tables is None:  # a genomic withdrawal keeps the manifests' samples
        steps.append(("datasets", AlwaysTrue(), _manifests(patients)))
    elif "variants" in tables:  # … and the FHIR-reported markers, not the pipeline's
        steps.append(("biomarkers", by_rows, _pipeline_markers(patients)))
    for pin, version in sorted(lake.pins().items()):
        tag = PIN_PREFIX + pin
        snaps = dict(version.snapshots)
        removed: dict[str, int] = {}
        for table, row_filter, transform in steps:
            sid = snaps.get(table)
            tbl = lake.table(table)
            branch = f"{AMEND_PREFIX}{pin}"
            if branch in tbl.metadata.refs:  # a crash left the pin half-moved: finish it
                snaps[table] = _move_pin(lake, table, tag, branch)
                removed[table] = removed.get(table, 0)
                continue
            if sid is None:
                continue
            new_sid, n = _rewrite_snapshot(lake, table, sid, row_filter, transform, branch)
            if new_sid is None:
                continue
            snaps[table] = _move_pin(lake, table, tag, branch)
            removed[table] = n
        if removed:
            out.append(AmendedPin(pin, version, LakeVersion(snaps), removed))
    return out


def remove_pipeline_markers(lake: Lake, patients: Sequence[str]) -> int:
    """Remove from the current ``biomarkers`` the pipeline's rows of ``patients``."""
    snap = lake.table("biomarkers").current_snapshot()
    if snap is None or not patients:
        return 0
    by_rows = In(term="patient_id", literals=set(patients))
    _, n = _rewrite_snapshot(
        lake, "biomarkers", snap.snapshot_id, by_rows, _pipeline_markers(patients), "main"
    )
    return n


def redact_current_manifests(lake: Lake, patients: Sequence[str]) -> int:
    """Redact the current ``datasets`` rows' manifests of ``patients``; rows changed."""
    tbl: Table = lake.table("datasets")
    snap = tbl.current_snapshot()
    if snap is None or not patients:
        return 0
    _, n = _rewrite_snapshot(
        lake, "datasets", snap.snapshot_id, AlwaysTrue(), _manifests(patients), "main"
    )
    return n


def _zigzag(buf: bytes, i: int) -> tuple[int, int]:
    shift = n = 0
    while True:
        b = buf[i]
        i += 1
        n |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return (n >> 1) ^ -(n & 1), i


def _avro_text(raw: bytes) -> bytes:
    """The bytes of an Avro container file with its blocks decompressed (Iceberg's
    manifests are deflate-compressed, and hold column bounds and partition values).

    Hand-written, not fastavro (not a dependency): only the container framing is
    decoded (header map, then blocks of count, size, data, sync marker), not records;
    strings and bounds are plain bytes inside the decompressed blocks. A file that does
    not parse is returned as it is."""
    try:
        i, header, codec = 4, [raw[:4]], b"null"
        while True:  # the metadata map: blocks of key/value byte strings
            count, i = _zigzag(raw, i)
            if count == 0:
                break
            if count < 0:
                _, i = _zigzag(raw, i)
                count = -count
            for _ in range(count):
                klen, i = _zigzag(raw, i)
                key = raw[i : i + klen]
                i += klen
                vlen, i = _zigzag(raw, i)
                value = raw[i : i + vlen]
                i += vlen
                header.append(key + b"=" + value)
                if key == b"avro.codec":
                    codec = value
        i += 16  # sync marker
        out = header
        while i < len(raw):
            _, i = _zigzag(raw, i)
            size, i = _zigzag(raw, i)
            block = raw[i : i + size]
            i += size + 16
            out.append(zlib.decompress(block, -15) if codec == b"deflate" else block)
        return b"\n".join(out)
    except (IndexError, zlib.error):
        return raw


def _file_text(path: Path) -> bytes:
    return _raw_text(path.read_bytes())


def _raw_text(raw: bytes) -> bytes:
    if raw[:4] == b"Obj\x01":  # Avro container (Iceberg manifests, manifest lists)
        return _avro_text(raw)
    if raw[:2] == b"\x1f\x8b":  # gzip / BGZF (VCF.gz, BCF): the sample names are inside
        try:
            return gzip.decompress(raw)
        except (OSError, EOFError, zlib.error):
            return raw
    return raw


def bundle_names(bundle: Path, needles: Iterable[bytes]) -> bool:
    """True if any file of ``bundle`` holds any of ``needles`` (compressed files read
    decompressed). Links are not followed (bundles hold none; harmonise.bundle)."""
    wanted = [n for n in needles if n]
    for p in sorted(bundle.rglob("*")):
        if p.is_symlink() or not p.is_file():
            continue
        text = _file_text(p)
        if any(n in text for n in wanted):
            return True
    return False


def purge_inbox(inbox: Path | None, patients: Sequence[str]) -> list[str]:
    """Delete every bundle of a local ``inbox`` that names ``patients``; their paths."""
    if inbox is None or not inbox.is_dir() or not patients:
        return []
    needles = [p.encode() for p in patients]
    removed: list[str] = []
    for bundle in sorted(inbox.iterdir()):
        if bundle.is_symlink() or not bundle.is_dir():
            continue
        if bundle_names(bundle, needles):
            # out of the inbox's listing first (a hidden name), then removed
            hidden = bundle.with_name(f".withdrawn-{bundle.name}-{uuid.uuid4().hex[:6]}")
            bundle.rename(hidden)
            shutil.rmtree(hidden)
            removed.append(str(bundle))
    for leftover in inbox.glob(".withdrawn-*"):  # a crash between rename and removal
        shutil.rmtree(leftover, ignore_errors=True)
    return removed


def apply_withdrawal(
    lake: Lake,
    home: Path,
    withdrawal: Withdrawal,
    inboxes: Sequence[Path | str] = (),
    storage: Mapping[str, Any] | None = None,
) -> AppliedWithdrawal:
    """Record ``withdrawal`` durably first, then remove the patient from the current lake,
    every pinned version and the inbox, purge, and record it applied.

    The record is written before anything is changed so that a crash part-way leaves a
    recorded, unapplied withdrawal that a re-run completes (each step is idempotent). The
    purge expires at once every snapshot no pin holds (the amended pins hold their new
    snapshots), and keeps the default grace for unreferenced files that no expiry released,
    so other centres' commits in flight are never touched. An ``s3://`` inbox is read and
    purged with ``storage`` (fsspec/s3fs options).
    """
    recorded = record_withdrawal(home, withdrawal)
    patients = [withdrawal.patient_id]
    tables = scope_tables(recorded.scope)
    if not recorded.specimen_ids:  # found before the deletes, kept for the purge scan
        recorded = record_withdrawal(
            home, recorded.model_copy(update={"specimen_ids": specimens_of(lake, patients)})
        )
    removed = lake.delete_rows({"patient_id": patients}, tables=tables)
    for table, n in removed.items():
        if n:
            _seal(lake, table, "main")
    if tables is not None and "variants" in tables:
        removed["biomarkers"] = removed.get("biomarkers", 0) + remove_pipeline_markers(
            lake, patients
        )
    redacted = redact_current_manifests(lake, patients) if recorded.scope == "all" else 0
    pins = amend_pins(lake, patients, tables)
    inbox_removed = [
        b
        for inbox in inboxes
        if recorded.scope == "all"
        for b in (
            purge_s3_inbox(str(inbox), patients, storage)
            if str(inbox).startswith("s3://")
            else purge_inbox(Path(inbox), patients)
        )
    ]
    report = lake.maintain(expire_older_than=dt.timedelta(0))
    version = lake.current_version().id
    applied = record_withdrawal(
        home,
        recorded.model_copy(
            update={"status": "applied", "rows_removed": removed, "lake_version": version}
        ),
    )
    return AppliedWithdrawal(
        applied, removed, report, version, pins, inbox_removed, datasets_redacted=redacted
    )


def specimens_of(lake: Lake, patients: Sequence[str]) -> list[str]:
    """The specimen ids of ``patients`` in the current lake and every pinned version."""
    found: set[str] = set()
    wanted = set(patients)
    for version in [None, *lake.pins().values()]:
        rows = lake.read("specimens", version, columns=["patient_id", "specimen_id"])
        found |= {r["specimen_id"] for r in rows.to_pylist() if r["patient_id"] in wanted}
    return sorted(found)


@dataclass
class StoreScan:
    """One store of the purge report: what was read, and every file still naming an id."""

    store: str
    location: str
    files: int = 0
    bytes: int = 0
    hits: dict[str, int] = field(default_factory=dict)
    note: str = ""

    @property
    def occurrences(self) -> int:
        """How many times the ids occur in this store."""
        return sum(self.hits.values())


def count_in_file(path: Path, needles: Sequence[str]) -> int:
    """Occurrences of ``needles`` in one file (:func:`count_in_bytes` of its bytes)."""
    return count_in_bytes(path.name, path.read_bytes(), needles)


def count_in_bytes(name: str, raw: bytes, needles: Sequence[str]) -> int:
    """Occurrences of ``needles`` in one file's bytes ``raw``, read for what it is: a
    Parquet file with pyarrow (every cell as text, and its key-value metadata), Avro
    (Iceberg manifests) and gzip/BGZF decompressed, anything else as bytes. An unreadable
    Parquet file counts as bytes."""
    wanted = [n for n in needles if n]
    if name.endswith(".parquet") or raw[:4] == b"PAR1":
        try:
            import pyarrow.parquet as pq

            table = pq.read_table(pa.BufferReader(raw))
        except (OSError, pa.ArrowException):
            table = None
        if table is not None:
            n = 0
            for value in (table.schema.metadata or {}).values():
                n += sum(value.count(w.encode()) for w in wanted)
            for col in table.columns:
                for cell in col.to_pylist():
                    if cell is not None:
                        cell_text = str(cell)
                        n += sum(cell_text.count(w) for w in wanted)
            return n
    text = _raw_text(raw)
    return sum(text.count(w.encode()) for w in wanted)


def scan_stores(
    stores: Sequence[tuple[str, Path]], needles: Sequence[str], skip: Sequence[Path] = ()
) -> list[StoreScan]:
    """Read every file under each ``(name, folder or file)`` store and count ``needles``
    (links not followed; the files in ``skip`` — the withdrawal registry, which must name
    the patient — are left out and said so)."""
    out: list[StoreScan] = []
    skipped = {q.resolve() for q in skip}
    for name, root in stores:
        scan = StoreScan(name, str(root))
        if not root.exists():
            scan.note = "absent"
            out.append(scan)
            continue
        paths = [root] if root.is_file() else sorted(root.rglob("*"))
        for path in paths:
            if path.is_symlink() or not path.is_file():
                continue
            if path.resolve() in skipped:
                scan.note = f"{path.name} skipped (the withdrawal registry names the patient)"
                continue
            scan.files += 1
            scan.bytes += path.stat().st_size
            n = count_in_file(path, needles)
            if n:
                scan.hits[str(path)] = n
        out.append(scan)
    return out


def pinned_version(lake: Lake, pin: str) -> LakeVersion | None:
    """The version a pin names now (amended by withdrawals), or None if it is not pinned."""
    return lake.pins().get(pin)


# -- object stores and databases (the production stores) -------------------------------


def _s3fs(storage: Mapping[str, Any] | None) -> Any:
    import s3fs

    return s3fs.S3FileSystem(**dict(storage or {}))


def _s3_objects(fs: Any, uri: str) -> list[str]:
    """Every object key under ``uri`` (``s3://bucket/prefix``), as ``bucket/key``."""
    root = uri.removeprefix("s3://").rstrip("/")
    if not fs.exists(root):
        return []
    return sorted(p for p in fs.find(root) if not p.endswith("/"))


def purge_s3_inbox(
    inbox: str, patients: Sequence[str], storage: Mapping[str, Any] | None = None
) -> list[str]:
    """Delete every bundle of an ``s3://`` inbox that names ``patients``; their locations.

    A bundle is a prefix ``inbox/<name>/``; every object of it is read (compressed ones
    decompressed) and the whole bundle deleted when any names a patient, its ``_READY``
    marker first (so that no watcher fetches a half-deleted bundle)."""
    if not patients:
        return []
    fs = _s3fs(storage)
    root = inbox.removeprefix("s3://").rstrip("/")
    needles = [p.encode() for p in patients]
    bundles: dict[str, list[str]] = {}
    for key in _s3_objects(fs, inbox):
        rest = key[len(root) + 1 :]
        if "/" in rest:
            bundles.setdefault(rest.split("/", 1)[0], []).append(key)
    removed = []
    for name, keys in sorted(bundles.items()):
        if not any(any(n in _raw_text(fs.cat_file(k)) for n in needles) for k in keys):
            continue
        keys.sort(key=lambda k: not k.endswith("/_READY"))  # the marker first
        for k in keys:
            fs.rm_file(k)
        removed.append(f"s3://{root}/{name}")
    return removed


def scan_object_store(
    store: str, uri: str, needles: Sequence[str], storage: Mapping[str, Any] | None = None
) -> StoreScan:
    """Read every object under ``uri`` (``s3://…``) and count ``needles`` in it (as
    :func:`count_in_bytes` reads a file)."""
    scan = StoreScan(store, uri)
    fs = _s3fs(storage)
    keys = _s3_objects(fs, uri)
    if not keys:
        scan.note = "no object under this prefix"
    for key in keys:
        raw = fs.cat_file(key)
        scan.files += 1
        scan.bytes += len(raw)
        n = count_in_bytes(key, raw, needles)
        if n:
            scan.hits[f"s3://{key}"] = n
    return scan


def scan_database(
    store: str, url: str, needles: Sequence[str], skip_tables: Sequence[str] = ()
) -> StoreScan:
    """Read every row of every table of the database at ``url`` (SQLAlchemy URL; its
    tables found by reflection, so a table added later is scanned too) and count
    ``needles`` in every value (text as text, binary values as bytes: JSON columns,
    audit details, export patient lists…). ``files`` counts the rows read; ``hits`` names
    ``table.column``. The tables of ``skip_tables`` are left out and said so."""
    import sqlalchemy as sa

    shown = url.split("@")[-1] if "@" in url else url
    scan = StoreScan(store, shown)
    engine = sa.create_engine(url)
    wanted = [n for n in needles if n]
    raw_wanted = [n.encode() for n in wanted]
    try:
        meta = sa.MetaData()
        meta.reflect(engine)
        tables = [t for t in meta.sorted_tables if t.name not in skip_tables]
        with engine.connect() as conn:
            for table in tables:
                for row in conn.execute(sa.select(table)).yield_per(1000):
                    scan.files += 1
                    for col, value in zip(table.columns, row, strict=True):
                        if value is None:
                            continue
                        if isinstance(value, (bytes, bytearray, memoryview)):
                            data = bytes(value)
                            scan.bytes += len(data)
                            n = sum(data.count(w) for w in raw_wanted)
                        else:
                            text = value if isinstance(value, str) else str(value)
                            scan.bytes += len(text)
                            n = sum(text.count(w) for w in wanted)
                        if n:
                            key = f"{table.name}.{col.name}"
                            scan.hits[key] = scan.hits.get(key, 0) + n
        names = ", ".join(t.name for t in tables)
        scan.note = f"{len(tables)} table(s) read: {names}"
        if skip_tables:
            scan.note += f"; skipped: {', '.join(skip_tables)}"
    finally:
        engine.dispose()
    return scan
