"""Withdrawal of consent: a durable record per patient, kept in a JSON-lines registry.

Applying a withdrawal is done by the composition root (``oncolake consent withdraw``):
record it here first (so it survives a crash and can be re-applied), delete the patient's
rows from the lake tables and purge old snapshots (harmonise), then record it as applied
with the rows removed. The catalogue reads :func:`list_withdrawals` to mark past exports
that contained the patient and to drop cached counts and saved cohorts' members.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import uuid
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from consent.errors import WithdrawalError

REGISTRY_FILE = "withdrawals.jsonl"

WithdrawalScope = Literal["all", "genomic"]

#: The lake tables each scope removes the patient from (``None``: every data table).
SCOPE_TABLES: dict[str, tuple[str, ...] | None] = {"all": None, "genomic": ("variants",)}


class Withdrawal(BaseModel):
    """A patient's withdrawal of consent: when, why, what it covers, and what it removed."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    withdrawal_id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    patient_id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")
    date: dt.date = Field(description="Date the patient withdrew.")
    reason: str = Field(min_length=1, description="Why (as recorded by the data steward).")
    scope: WithdrawalScope = Field(
        default="all", description="'all' removes every row; 'genomic' only the variants."
    )
    recorded_at: dt.datetime = Field(default_factory=lambda: dt.datetime.now(dt.UTC))
    status: Literal["recorded", "applied"] = "recorded"
    rows_removed: dict[str, int] = Field(default_factory=dict)
    lake_version: str | None = Field(
        default=None, description="Lake version id after the deletes (harmonise LakeVersion)."
    )
    specimen_ids: list[str] = Field(
        default_factory=list,
        description="The patient's specimen ids, found before the deletes (for the purge scan).",
    )


def registry_path(home: Path) -> Path:
    """The registry file under the oncolake home folder."""
    return home / REGISTRY_FILE


def record_withdrawal(home: Path, withdrawal: Withdrawal) -> Withdrawal:
    """Append ``withdrawal`` to the registry durably (flushed and fsynced)."""
    home.mkdir(parents=True, exist_ok=True)
    line = withdrawal.model_dump_json() + "\n"
    with registry_path(home).open("a", encoding="utf-8") as fh:
        fh.write(line)
        fh.flush()
        os.fsync(fh.fileno())
    return withdrawal


def list_withdrawals(home: Path) -> list[Withdrawal]:
    """Every withdrawal, latest state of each, in the order they were first recorded."""
    path = registry_path(home)
    if not path.exists():
        return []
    latest: dict[str, Withdrawal] = {}
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            w = Withdrawal.model_validate(json.loads(line))
        except (json.JSONDecodeError, ValidationError) as exc:
            raise WithdrawalError(
                f"{path}, line {n}: not a withdrawal record ({str(exc).splitlines()[0]}); "
                "the registry is append-only: restore it from backup, do not edit it"
            ) from None
        latest[w.withdrawal_id] = w
    return list(latest.values())


def withdrawn_patients(home: Path, scope: WithdrawalScope | None = None) -> set[str]:
    """Patient ids with a recorded withdrawal (of ``scope``, or any scope)."""
    return {w.patient_id for w in list_withdrawals(home) if scope is None or w.scope == scope}
