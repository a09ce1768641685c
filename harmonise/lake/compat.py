"""Where pyiceberg has no public API for what the lake needs: each use of its internals is
here, in one function, with why. Checked against pyiceberg ``CHECKED_PYICEBERG``;
``tests/harmonise/lake/test_compat.py`` fails on any other version, so that an upgrade
re-checks each of them (and whether pyiceberg now offers an API instead).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm
from pyiceberg.catalog import Catalog
from pyiceberg.catalog.sql import IcebergTables, SqlCatalog
from pyiceberg.manifest import ManifestFile
from pyiceberg.table import Transaction

log = logging.getLogger(__name__)

#: The pyiceberg release these functions were checked against.
CHECKED_PYICEBERG = "0.12.0"


def live_overwrite(txn: Transaction, props: dict[str, str]) -> Any:
    """``txn``'s overwrite, carrying forward only manifests that still list live files.

    pyiceberg 0.12 keeps, in every later snapshot, the manifest in which an overwrite
    records its deleted files (it lists no live file), so a table overwritten at each
    commit (``datasets``) gained a manifest per commit that every scan then opened. Java
    Iceberg drops such manifests. pyiceberg offers no option for it, so this replaces the
    overwrite's private ``_existing_manifests`` on this one instance (also used by its
    own commit retries, which rebuild the snapshot from the same producer); the deleting
    snapshot's own manifest list still records the deletion.
    """
    ow = txn.update_snapshot(snapshot_properties=props).overwrite()
    carried = getattr(ow, "_existing_manifests", None)
    if not callable(carried):  # a pyiceberg without the hook: correct, only slower scans
        log.warning("pyiceberg has no _existing_manifests: overwrites keep empty manifests")
        return ow

    def live_only() -> list[ManifestFile]:
        return [m for m in carried() if m.has_added_files() or m.has_existing_files()]

    ow._existing_manifests = live_only  # type: ignore[method-assign]
    return ow


def metadata_pointers(catalog: Catalog, namespace: str) -> Sequence[tuple[str, str | None]]:
    """Each table's metadata location as the SQL catalog holds it, in one query (no
    metadata file read); empty for another kind of catalog.

    pyiceberg's public calls (``load_table``) parse the metadata file each pointer names:
    megabytes of JSON on a lake with thousands of snapshots. The SQL catalog's own table
    (``IcebergTables``, the JDBC catalog's layout) holds the pointers.
    """
    if not isinstance(catalog, SqlCatalog):
        return ()
    with sa.orm.Session(catalog.engine) as session:
        rows = session.execute(
            sa.select(IcebergTables.table_name, IcebergTables.metadata_location).where(
                IcebergTables.catalog_name == catalog.name,
                IcebergTables.table_namespace == namespace,
            )
        ).all()
    return [(str(r[0]), r[1]) for r in rows]
