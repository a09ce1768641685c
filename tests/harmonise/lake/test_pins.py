"""Pinned versions (harmonise/lake/pins.py) survive maintenance until unpinned."""

from __future__ import annotations

import pytest

from harmonise.errors import UnknownVersionError
from harmonise.lake import Lake
from tests.harmonise.lake.common import ZERO
from tests.harmonise.lakefixtures import make_submission


def test_pinned_version_survives_maintenance(lake: Lake) -> None:
    lake.commit(make_submission("ds-a", "c1", ["c1-p1", "c1-p2"]))
    pinned = lake.current_version()
    lake.pin(pinned, "export-1")
    lake.commit(make_submission("ds-a", "c1", ["c1-p9"], revision=1))
    unpinned = lake.current_version()
    lake.commit(make_submission("ds-b", "c2", ["c2-p1"]))
    lake.maintain(expire_older_than=ZERO, grace=ZERO)
    assert lake.table_counts(pinned)["patients"] == 2
    assert set(lake.pins()) == {"export-1"}
    with pytest.raises(UnknownVersionError, match="no longer exists"):
        lake.table_counts(unpinned)
    lake.unpin("export-1")
    lake.maintain(expire_older_than=ZERO, grace=ZERO)
    with pytest.raises(UnknownVersionError):
        lake.table_counts(pinned)
