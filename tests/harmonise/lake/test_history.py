"""What the lake says about its history (harmonise/lake/history.py): which versions differ
by appends only (the discovery index's incremental refresh asks it instead of reading
snapshots itself); manifests merged so scans stay bounded; whether a submission's append is
recorded, by its snapshot or, once history was expired, by its rows."""

from __future__ import annotations

import datetime as dt

from harmonise.lake import MERGE_PROP, SUBMISSION_PROP, Lake
from harmonise.lake.bounds import may_hold as _may_hold
from tests.harmonise.lake.common import ZERO
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


def test_history_keeps_scans_bounded_datasets_one_file_manifests_merged(
    local_lake: Lake,
) -> None:
    # a lake made before manifests were merged is upgraded by init
    with local_lake.table("variants").transaction() as txn:
        txn.set_properties({MERGE_PROP: "false"})
    assert local_lake.init() == []
    assert local_lake.table("variants").properties[MERGE_PROP] == "true"
    # merge as soon as 3 manifests pile up (Iceberg's default is 100)
    with local_lake.table("variants").transaction() as txn:
        txn.set_properties({"commit.manifest.min-count-to-merge": "3"})
    for i in range(6):
        local_lake.commit(make_submission(f"ds-{i}", f"c{i}", [f"c{i}-p1"]))
    local_lake.commit(make_submission("ds-2", "c2", ["c2-p1", "c2-p2"], revision=1))
    datasets = local_lake.table("datasets")
    files = list(datasets.scan().plan_files())
    assert len(files) == 1  # rewritten whole at each commit, the replaced row dropped
    snap = datasets.current_snapshot()
    assert snap is not None
    # only this snapshot's own record of deleted files: earlier ones are not carried forward
    manifests = snap.manifests(datasets.io)
    assert len([m for m in manifests if not (m.has_added_files() or m.has_existing_files())]) == 1
    assert len(manifests) == 2
    assert sorted(local_lake.visible_submissions().column("dataset_id").to_pylist()) == [
        f"ds-{i}" for i in range(6)
    ]
    variants = local_lake.table("variants")
    snap = variants.current_snapshot()
    assert snap is not None
    assert len(snap.manifests(variants.io)) < 4  # 7 appends, without merging 7 manifests
    assert local_lake.table_counts()["variants"] == 7 * 3
    # history expired without the rest of maintenance: each table keeps its current snapshot
    expired = local_lake.expire_history(ZERO)
    assert expired["variants"] == 6 and expired["datasets"] == 6
    assert all(len(local_lake.table(n).metadata.snapshots) == 1 for n in expired)
    assert local_lake.table_counts()["variants"] == 7 * 3
    local_lake.commit(make_submission("ds-9", "c9", ["c9-p1"]))  # the retry check scans rows
    assert local_lake.table_counts()["variants"] == 8 * 3


def test_retry_check_reads_rows_only_once_history_was_expired(local_lake: Lake) -> None:
    sub = make_submission("ds-a", "c1", ["c1-p1"])
    local_lake.commit(sub)
    tbl = local_lake.table("variants")
    assert Lake._has_submission_append(tbl, sub.submission_id)  # by its append snapshot
    assert not Lake._has_submission_append(tbl, "sub-never-written")  # complete history
    local_lake.commit(make_submission("ds-b", "c2", ["c2-p1"]))
    local_lake.maintain(expire_older_than=ZERO, grace=ZERO)  # expires ds-a's append
    tbl = local_lake.table("variants")
    summaries = [s.summary.additional_properties for s in tbl.metadata.snapshots if s.summary]
    assert all(p.get(SUBMISSION_PROP) != sub.submission_id for p in summaries)
    assert Lake._has_submission_append(tbl, sub.submission_id)  # now by its rows
    assert not Lake._has_submission_append(tbl, "sub-never-written")
    # the files' submission_id bounds answer "no" without a scan; "maybe" needs one
    assert not _may_hold(tbl, "submission_id", "sub-never-written")
    assert _may_hold(tbl, "submission_id", sub.submission_id)
    assert not _may_hold(tbl, "submission_id", sub.submission_id[:15] + "~")
