"""Applying a consent withdrawal to the lake: delete the patient's rows, then purge.

consent/ owns the withdrawal record and its durable registry; this module owns what a
withdrawal does to the lake (DESIGN: harmonise owns "withdrawal deletes").
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from consent.withdrawal import SCOPE_TABLES, Withdrawal, record_withdrawal
from harmonise.lake import Lake, MaintenanceReport


@dataclass(frozen=True)
class AppliedWithdrawal:
    """What a withdrawal removed from the lake."""

    withdrawal: Withdrawal
    rows_removed: dict[str, int]
    maintenance: MaintenanceReport
    lake_version: str


def apply_withdrawal(lake: Lake, home: Path, withdrawal: Withdrawal) -> AppliedWithdrawal:
    """Record ``withdrawal`` durably first, delete the patient's rows, purge, record applied.

    The record is written before any delete so that a crash part-way leaves a recorded,
    unapplied withdrawal that a re-run completes (deleting is idempotent). The purge keeps
    the default grace so that other centres' commits in flight are never touched; files
    that held the withdrawn rows are released by snapshot expiry and removed at once.
    """
    recorded = record_withdrawal(home, withdrawal)
    removed = lake.delete_rows(
        {"patient_id": [withdrawal.patient_id]}, tables=SCOPE_TABLES[recorded.scope]
    )
    report = lake.maintain(expire_older_than=dt.timedelta(0))
    version = lake.current_version().id
    applied = record_withdrawal(
        home,
        recorded.model_copy(
            update={"status": "applied", "rows_removed": removed, "lake_version": version}
        ),
    )
    return AppliedWithdrawal(applied, removed, report, version)
