"""A withdrawal's purge report: every store scanned for the withdrawn patient's ids, by
reading the bytes of every file, object and database row (``harmonise.withdrawal``'s
scanners), as ``oncolake consent withdraw --report FILE`` writes it and the admins' page
(``catalog_api.web.purge_pages``) runs it again on demand.

The reports the page runs are kept under ``<home>/purge-reports/`` by withdrawal id. They
hold no pseudonym or specimen id (the withdrawal id names the patient in the registry,
which only the data steward reads), and later scans leave that folder out, saying so.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from consent.withdrawal import Withdrawal, list_withdrawals, registry_path
from harmonise.lake import LakeConfig
from harmonise.withdrawal import (
    StoreScan,
    scan_database,
    scan_object_store,
    scan_stores,
)

#: Where the page keeps the reports it ran, under the home.
REPORTS_DIR = "purge-reports"


@dataclass(frozen=True)
class PurgeStores:
    """Every store a purge report reads."""

    warehouse: str
    catalog_uri: str
    database_url: str
    exports_dir: Path
    home: Path
    #: s3fs options for ``s3://`` stores
    storage: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, lake: LakeConfig, database_url: str, exports_dir: Path, home: Path) -> PurgeStores:
        """The stores of a running service: its lake's, its application database, its
        exports and its home."""
        props = lake.properties
        storage: dict[str, Any] = {"client_kwargs": {"region_name": props.get("s3.region")}}
        if props.get("s3.endpoint"):
            storage["client_kwargs"]["endpoint_url"] = props["s3.endpoint"]
        if props.get("s3.access-key-id"):
            storage["key"] = props["s3.access-key-id"]
            storage["secret"] = props.get("s3.secret-access-key")
        return cls(lake.warehouse, lake.catalog_uri, database_url, exports_dir, home, storage)


def _sqlite_files(url: str) -> list[Path]:
    if not url.startswith("sqlite:///"):
        return []
    db = Path(url.removeprefix("sqlite:///"))
    return [p for p in (db, Path(f"{db}-wal")) if p.exists()] or [db]


def scan_everything(
    stores: PurgeStores,
    needles: Sequence[str],
    inboxes: Sequence[str] = (),
    skip: Sequence[Path] = (),
) -> list[StoreScan]:
    """Count ``needles`` in every store: the warehouse (a folder, or every object under
    its ``s3://`` prefix), the catalog and application databases (SQLite: the file's bytes,
    freed pages included, and its rows; PostgreSQL: every row of every table), the
    exports, each inbox, and every file under the home. The withdrawal registry (it must
    name the patient), the files of ``skip`` and the page's reports are left out."""
    home = stores.home
    reports = home / REPORTS_DIR
    left_out = [registry_path(home), *skip]
    if reports.is_dir():
        left_out += sorted(p for p in reports.iterdir() if p.is_file())
    scans: list[StoreScan] = []

    def files(name: str, root: Path) -> None:
        scans.extend(scan_stores([(name, root)], needles, skip=left_out))

    def where(name: str, location: str) -> None:
        if location.startswith("s3://"):
            scans.append(scan_object_store(name, location, needles, stores.storage))
        else:
            files(name, Path(location))

    def database(name: str, url: str) -> None:
        paths = _sqlite_files(url)
        if paths:
            scans.extend(scan_stores([(name, p) for p in paths], needles))
        scans.append(scan_database(f"{name} (rows)", url, needles))

    where("warehouse", stores.warehouse)
    database("catalog database", stores.catalog_uri)
    database("application database", stores.database_url)
    files("exports", stores.exports_dir)
    for inbox in inboxes:
        where("inbox", str(inbox))
    files("home (every file)", home)
    return scans


def store_rows(scans: Sequence[StoreScan]) -> list[dict[str, Any]]:
    """The report's ``stores``: one entry per store scanned."""
    return [
        {
            "store": s.store,
            "location": s.location,
            "files_read": s.files,
            "bytes_read": s.bytes,
            "occurrences": s.occurrences,
            "files_naming_the_patient": s.hits,
            "note": s.note,
        }
        for s in scans
    ]


def find_withdrawal(home: Path, withdrawal_id: str) -> Withdrawal | None:
    """The recorded withdrawal ``withdrawal_id`` (its latest state), if any."""
    return next((w for w in list_withdrawals(home) if w.withdrawal_id == withdrawal_id), None)


def rescan(stores: PurgeStores, withdrawal: Withdrawal) -> dict[str, Any]:
    """Scan every store again for ``withdrawal``'s patient and keep the report under the
    home (:data:`REPORTS_DIR`); the report (no pseudonym or specimen id in it)."""
    needles = [withdrawal.patient_id, *withdrawal.specimen_ids]
    scans = scan_everything(stores, needles)
    total = sum(s.occurrences for s in scans)
    doc = {
        "withdrawal_id": withdrawal.withdrawal_id,
        "specimen_ids": len(withdrawal.specimen_ids),
        "scope": withdrawal.scope,
        "status": withdrawal.status,
        "lake_version": withdrawal.lake_version,
        "rows_removed": withdrawal.rows_removed,
        "written_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "stores": store_rows(scans),
        "total_occurrences": total,
        "found_nowhere": total == 0,
    }
    folder = stores.home / REPORTS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{withdrawal.withdrawal_id}.json"
    partial = target.with_suffix(".json.partial")
    partial.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")
    partial.replace(target)
    return doc


def last_report(home: Path, withdrawal_id: str) -> dict[str, Any] | None:
    """The last report the page ran for ``withdrawal_id``, if any."""
    path = home / REPORTS_DIR / f"{withdrawal_id}.json"
    if not path.is_file():
        return None
    value = json.loads(path.read_text(encoding="utf-8"))
    return value if isinstance(value, dict) else None
