"""File pruning by the value bounds Iceberg keeps per data file.

A filtered scan's planning decodes every manifest of the table at every call; the commit
asks "can any file hold this submission?" at every commit, so the bounds of each manifest
(immutable once written) are kept in a :class:`BoundsCache`, one per :class:`Lake`.
Bounds are conservative (truncated string bounds: lower ≤ min, upper ≥ max), so a
"no" is never false and a "maybe" means the file must be read.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable

from pyiceberg.manifest import DataFile
from pyiceberg.table import Table

Bounds = list[tuple[bytes | None, bytes | None]]


def within(low: bytes | None, high: bytes | None, want: bytes) -> bool:
    """False only if the bounds ``low``..``high`` (None: unknown) exclude ``want``."""
    return (low is None or low <= want) and (high is None or want <= high)


def may_hold_any(f: DataFile, tbl: Table, column: str, values: Iterable[str]) -> bool:
    """False only if data file ``f``'s bounds of ``column`` exclude every one of
    ``values`` (a True means the file must be read)."""
    fid = tbl.schema().find_field(column).field_id
    low, high = f.lower_bounds.get(fid), f.upper_bounds.get(fid)
    return any(within(low, high, value.encode()) for value in values)


class BoundsCache:
    """Per manifest file and field id: the value bounds of its live data files (least
    recently used dropped after ``size`` entries)."""

    def __init__(self, size: int = 20_000) -> None:
        self._size = size
        self._bounds: OrderedDict[tuple[str, int], Bounds] = OrderedDict()
        self._lock = threading.Lock()

    def may_hold(self, tbl: Table, column: str, value: str) -> bool:
        """False only if no current data file of ``tbl`` can hold ``value`` in ``column``
        (its bounds exclude it); True means a scan must tell."""
        snap = tbl.current_snapshot()
        if snap is None:
            return False
        fid = tbl.schema().find_field(column).field_id
        want = value.encode()
        for manifest in snap.manifests(tbl.io):
            key = (manifest.manifest_path, fid)
            with self._lock:
                bounds = self._bounds.get(key)
                if bounds is not None:
                    self._bounds.move_to_end(key)
            if bounds is None:
                bounds = [
                    (e.data_file.lower_bounds.get(fid), e.data_file.upper_bounds.get(fid))
                    for e in manifest.fetch_manifest_entry(tbl.io, discard_deleted=True)
                ]
                with self._lock:
                    self._bounds[key] = bounds
                    while len(self._bounds) > self._size:
                        self._bounds.popitem(last=False)
            if any(within(low, high, want) for low, high in bounds):
                return True
        return False


def may_hold(tbl: Table, column: str, value: str, cache: BoundsCache | None = None) -> bool:
    """:meth:`BoundsCache.may_hold` with ``cache`` (default: a fresh one, nothing kept)."""
    return (cache or BoundsCache()).may_hold(tbl, column, value)
