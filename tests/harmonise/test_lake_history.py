"""What the lake says about its history: which versions differ by appends only (the
discovery index's incremental refresh asks it instead of reading snapshots itself)."""

from __future__ import annotations

import datetime as dt

from harmonise.lake import Lake
from tests.harmonise.lakefixtures import make_submission


def test_only_appends_between_versions_until_a_delete_compaction_or_expiry(
    local_lake: Lake,
) -> None:
    lake = local_lake
    empty = lake.current_version()
    lake.commit(make_submission("ds-a", "c1", ["c1-p1", "c1-p2"]))
    v1 = lake.current_version()
    b = make_submission("ds-b", "c2", ["c2-p1"])
    lake.commit(b)
    v2 = lake.current_version()
    assert lake.only_appends(v1, v2) and lake.only_appends(empty, v2)
    assert lake.only_appends(v2, v2)
    assert not lake.only_appends(v2, v1)  # not a later version
    # what the appends added is what read(since=…) finds
    since = lake.read("patients", submissions=[b.submission_id], since=v1)
    assert since.column("patient_id").to_pylist() == ["c2-p1"]

    lake.delete_rows({"patient_id": ["c1-p2"]})
    v3 = lake.current_version()
    assert not lake.only_appends(v2, v3) and not lake.only_appends(v1, v3)
    lake.commit(make_submission("ds-c", "c3", ["c3-p1"]))
    v4 = lake.current_version()
    assert lake.only_appends(v3, v4)

    lake.maintain(expire_older_than=dt.timedelta(days=1), grace=dt.timedelta(0))  # compacts
    v5 = lake.current_version()
    assert not lake.only_appends(v4, v5)
    lake.expire_history(dt.timedelta(0))  # v4's snapshots are gone
    lake.commit(make_submission("ds-d", "c4", ["c4-p1"]))
    assert not lake.only_appends(v4, lake.current_version())
    assert lake.only_appends(v5, lake.current_version())
