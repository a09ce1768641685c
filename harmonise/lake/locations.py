"""A catalog paired with the wrong warehouse is refused: the check every :class:`Lake` makes
when it opens its catalog.

Iceberg keeps absolute locations (the SQL catalog's pointer to each table's metadata, the
metadata's manifest lists, the manifests' data files). A copied or moved home, or a catalog
given with another warehouse, would therefore write into, and its maintenance delete from,
the files where the catalog points, silently. One SQL query (no metadata file is read)
compares each table's pointer with the configured warehouse.
"""

from __future__ import annotations

from pyiceberg.catalog import Catalog

from harmonise.errors import LakeConfigError
from harmonise.lake.compat import metadata_pointers
from harmonise.lake.types import LakeConfig
from harmonise.model import NAMESPACE


def _norm(location: str) -> str:
    location = location.removeprefix("file://")
    if location.startswith("s3a://"):
        return "s3://" + location[len("s3a://") :]
    return location


def check_locations(catalog: Catalog, config: LakeConfig) -> None:
    """Raise :class:`LakeConfigError` if a table of ``catalog`` lies outside the warehouse."""
    root = _norm(config.warehouse).rstrip("/") + "/"
    for name, location in metadata_pointers(catalog, NAMESPACE):
        if location and not _norm(location).startswith(root):
            where = location.split(f"/{NAMESPACE}/{name}/metadata/")[0]
            raise LakeConfigError(
                f"the catalog {config.catalog_uri} keeps table {NAMESPACE}.{name} in {where}, "
                f"not in this lake's warehouse {config.warehouse}: the home (or its catalog) "
                f"was copied or moved, and using it would write into and delete from {where}. "
                "Use the original home, or build a fresh one (an empty ONCOLAKE_HOME, "
                "`oncolake lake init`, then ingest the bundles again)"
            )
