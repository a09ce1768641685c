"""Reading a table's snapshot history: what each snapshot did (its summary properties),
which files a run of snapshots added, whether a submission's append is recorded.

The one place that walks Iceberg snapshots; other packages ask :class:`Lake`
(:meth:`Lake.only_appends`, :meth:`Lake.read` with ``since``), which asks here.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pyiceberg.manifest import DataFile, ManifestEntryStatus
from pyiceberg.table import Table
from pyiceberg.table.refs import SnapshotRefType
from pyiceberg.table.snapshots import Operation, Snapshot

from harmonise.lake.types import OPERATION_PROP, SUBMISSION_PROP


def props(snap: Snapshot) -> dict[str, str]:
    """The snapshot's summary properties (the lake's own among them; not a copy)."""
    return snap.summary.additional_properties if snap.summary else {}


def snapshot_rows(tbl: Table, name: str) -> list[dict[str, Any]]:
    """Every snapshot of ``tbl``: time, operation, submission, pins, current."""
    pins: dict[int, list[str]] = {}
    for ref_name, ref in tbl.metadata.refs.items():
        if ref.snapshot_ref_type == SnapshotRefType.TAG:
            pins.setdefault(ref.snapshot_id, []).append(ref_name)
    current = tbl.current_snapshot()
    out = []
    for snap in tbl.metadata.snapshots:
        summary = props(snap)
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
    return out


def records_append(tbl: Table, submission_id: str) -> bool:
    """True if a snapshot of ``tbl`` records the append of ``submission_id``'s rows."""
    for snap in tbl.metadata.snapshots:
        p = props(snap)
        if p.get(SUBMISSION_PROP) == submission_id and p.get(OPERATION_PROP) == "append":
            return True
    return False


def complete(tbl: Table) -> bool:
    """True if no snapshot of ``tbl`` was ever expired: format v2 gives every snapshot the
    next sequence number (1, 2, …), so all of them present means the history is whole."""
    last = int(getattr(tbl.metadata, "last_sequence_number", 0) or 0)  # 0 in format v1
    return last > 0 and {s.sequence_number for s in tbl.metadata.snapshots} == set(
        range(1, last + 1)
    )


def only_appends(tbl: Table, since: int | None, until: int | None) -> bool:
    """True if every snapshot after ``since`` up to ``until`` is a lake append (and the
    history between them is still there)."""
    sid = until
    while sid is not None and sid != since:
        snap = tbl.metadata.snapshot_by_id(sid)
        if snap is None or props(snap).get(OPERATION_PROP) != "append":
            return False
        sid = snap.parent_snapshot_id
    return sid == since


def added_files(
    tbl: Table, since: int | None, until: int, needed: set[str]
) -> list[DataFile] | None:
    """The data files that the snapshots after ``since`` up to ``until`` added, if each of
    them only appended and together they hold every submission of ``needed`` (the ones
    that wrote rows to this table); None otherwise (a rewrite in between, history gone,
    or a submission whose append came earlier, e.g. before its ``datasets`` row made it
    visible). Read from the manifests those snapshots wrote, without planning over the
    table's whole history."""
    ids: set[int] = set()
    appended: set[str] = set()
    sid: int | None = until
    while sid is not None and sid != since:
        snap = tbl.metadata.snapshot_by_id(sid)
        if snap is None or snap.summary is None or snap.summary.operation != Operation.APPEND:
            return None
        ids.add(sid)
        appended.add(props(snap).get(SUBMISSION_PROP, ""))
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


def appended_since(tbl: Table, submissions: set[str], cutoff: dt.datetime) -> set[str]:
    """Those of ``submissions`` whose rows a snapshot at or after ``cutoff`` wrote."""
    cutoff_ms = cutoff.timestamp() * 1000
    out = set()
    for snap in tbl.metadata.snapshots:
        sid = props(snap).get(SUBMISSION_PROP)
        if sid in submissions and snap.timestamp_ms >= cutoff_ms:
            out.add(sid)
    return out
