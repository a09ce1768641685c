"""Pinned versions: an Iceberg tag ``pin-<name>`` on each table's snapshot of a version,
which snapshot expiry keeps (exports and access requests pin the version they read)."""

from __future__ import annotations

from collections.abc import Callable

from pyiceberg.table import Table
from pyiceberg.table.refs import SnapshotRefType

from harmonise.errors import UnknownVersionError
from harmonise.lake.types import PIN_PREFIX, LakeVersion
from harmonise.model import TABLES

#: Loads a lake table by name (:meth:`Lake.table`).
Tables = Callable[[str], Table]


def pin(table: Tables, version: LakeVersion, name: str) -> None:
    """Keep ``version`` readable: tag each table's snapshot ``pin-<name>``."""
    tag = PIN_PREFIX + name
    for table_name, sid in version.snapshots.items():
        if sid is None:
            continue
        tbl = table(table_name)
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


def unpin(table: Tables, name: str) -> None:
    """Release the pin ``name`` (its snapshots may then expire)."""
    tag = PIN_PREFIX + name
    for table_name in TABLES:
        tbl = table(table_name)
        if tag in tbl.metadata.refs:
            tbl.manage_snapshots().remove_tag(tag).commit()


def pinned(table: Tables) -> dict[str, LakeVersion]:
    """Every pinned version by name."""
    found: dict[str, dict[str, int | None]] = {}
    for table_name in TABLES:
        tbl = table(table_name)
        for ref_name, ref in tbl.metadata.refs.items():
            if ref_name.startswith(PIN_PREFIX) and ref.snapshot_ref_type == SnapshotRefType.TAG:
                found.setdefault(ref_name[len(PIN_PREFIX) :], {})[table_name] = ref.snapshot_id
    return {name: LakeVersion({t: snaps.get(t) for t in TABLES}) for name, snaps in found.items()}
