"""The pyiceberg internals the lake relies on (``harmonise.lake.compat``): a pyiceberg
upgrade fails here first, naming what to re-check."""

from __future__ import annotations

import pyiceberg
from pyiceberg.table.update.snapshot import _OverwriteFiles

from harmonise.lake import Lake
from harmonise.lake.compat import CHECKED_PYICEBERG, metadata_pointers
from harmonise.model import NAMESPACE, TABLES
from tests.harmonise.lakefixtures import make_submission


def test_pyiceberg_is_the_release_compat_was_checked_against() -> None:
    assert pyiceberg.__version__ == CHECKED_PYICEBERG, (
        f"pyiceberg {pyiceberg.__version__} is installed; harmonise/lake/compat.py was "
        f"checked against {CHECKED_PYICEBERG}: re-check each function there (is the "
        "internal still the same? does pyiceberg now offer an API?), then update it"
    )
    # the overwrite's hook that live_overwrite replaces
    assert callable(getattr(_OverwriteFiles, "_existing_manifests", None))


def test_overwrites_carry_forward_only_manifests_with_live_files(local_lake: Lake) -> None:
    for i in range(4):  # each commit overwrites the datasets table's one file
        local_lake.commit(make_submission(f"ds-{i}", f"c{i}", [f"c{i}-p1"]))
    tbl = local_lake.table("datasets")
    snap = tbl.current_snapshot()
    assert snap is not None
    manifests = snap.manifests(tbl.io)
    # without live_overwrite pyiceberg keeps every earlier overwrite's deleted-files manifest
    assert len(manifests) == 2
    assert len([m for m in manifests if m.has_added_files() or m.has_existing_files()]) == 1
    assert local_lake.table_counts()["datasets"] == 4


def test_metadata_pointers_name_every_table_as_the_catalog_holds_it(local_lake: Lake) -> None:
    pointers = dict(metadata_pointers(local_lake.catalog, NAMESPACE))
    assert set(pointers) == set(TABLES)
    for name, location in pointers.items():
        assert location == local_lake.table(name).metadata_location
