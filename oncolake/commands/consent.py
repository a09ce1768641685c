"""``oncolake consent``: data-use matching and withdrawal of consent."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from catalog_api.discovery.index_store import INDEX_DIR
from catalog_api.discovery.index_store import discard as discard_index_files
from consent.errors import ConsentError
from consent.matching import permits
from consent.purpose import load_purpose
from consent.records import load_consent
from consent.withdrawal import SCOPE_TABLES, Withdrawal, list_withdrawals
from harmonise.lake import Lake
from harmonise.withdrawal import (
    AppliedWithdrawal,
    StoreScan,
    apply_withdrawal,
)
from oncolake.errors import fail, user_errors
from oncolake.settings import Settings, get_settings

app = typer.Typer(no_args_is_help=True)


@app.command("check")
def check(
    consent: Annotated[Path, typer.Option(help="FHIR R4 Consent JSON with DUO codes.")],
    purpose: Annotated[Path, typer.Option(help="Research purpose JSON (docs/consent.md).")],
) -> None:
    """Print `permitted` or `denied` with the reason (exit 0, 1; 2 on invalid input)."""
    with user_errors(2):
        try:
            record = load_consent(consent)
            wanted = load_purpose(purpose)
        except ConsentError as exc:
            raise fail(escape(str(exc)), 2) from None
    decision = permits(record, wanted)
    word = "permitted" if decision else "denied"
    typer.echo(f"{word}: {decision.reason}")
    raise typer.Exit(0 if decision else 1)


@dataclass(frozen=True)
class WithdrawalOutcome:
    """What one withdrawal did in every store: the lake's part (``done``), the exports
    suspended before the lake changed and what became of each (``remade``/``disabled``)."""

    done: AppliedWithdrawal
    suspended: list[int]
    exports: dict[int, str]


def withdraw_everywhere(
    settings: Settings,
    lake: Lake,
    withdrawal: Withdrawal,
    inboxes: Sequence[str] = (),
) -> WithdrawalOutcome:
    """Apply ``withdrawal`` everywhere, in the order that keeps every step safe to re-run:
    downloads of every export holding the patient refused; the lake (current and pinned
    versions) and the inbox (a folder or ``s3://``); the exports re-made at their
    requests' amended pins (or disabled), the pins' amendments audited; a SQLite
    application database compacted. The one path of ``oncolake consent withdraw`` and
    the demo's withdrawals."""
    from catalog_api import audit
    from catalog_api.db import make_engine, make_sessionmaker, session_scope, upgrade
    from catalog_api.governance import exports
    from oncolake.api_config import api_config

    config = api_config(settings)
    engine = make_engine(config.database_url)
    upgrade(engine)
    audit.configure(engine, key=config.audit_key, anchors=config.home / audit.ANCHOR_DIR)
    factory = make_sessionmaker(engine)
    gone = {withdrawal.patient_id}
    with session_scope(factory) as session:
        suspended = [e.id for e in exports.suspend_for_withdrawal(session, patients=gone)]
    done = apply_withdrawal(
        lake,
        settings.ensure_home(),
        withdrawal,
        inboxes=list(inboxes),
        storage=settings.s3_storage_options(),
    )
    # the persisted discovery indexes name the patient: deleted (rebuilt by the server)
    discard_index_files(settings.ensure_home() / INDEX_DIR)
    with session_scope(factory) as session:
        remade = exports.remake_after_withdrawal(session, lake=lake, config=config, patients=gone)
        for amended in done.pins:
            exports.record_pin_amendment(
                session,
                pin=amended.name,
                before=amended.before.id,
                after=amended.after.id,
                rows_removed=amended.rows_removed,
            )
    engine.dispose()
    _compact_sqlite(config.database_url)
    return WithdrawalOutcome(done, suspended, remade)


@app.command("withdraw")
def withdraw(
    patient: Annotated[str, typer.Option(help="Pseudonymous patient id (lake `patient_id`).")],
    reason: Annotated[str, typer.Option(help="Why the patient withdrew.")],
    scope: Annotated[
        str, typer.Option(help="'all' (every table) or 'genomic' (variants).")
    ] = "all",
    date: Annotated[
        str | None, typer.Option(help="Date of the withdrawal, YYYY-MM-DD (default today).")
    ] = None,
    inbox: Annotated[
        list[str] | None,
        typer.Option(
            help="An inbox (a local folder or s3://bucket/prefix) whose bundles naming the "
            "patient are deleted (repeatable)."
        ),
    ] = None,
    report_file: Annotated[
        Path | None,
        typer.Option(
            "--report",
            help="Write the purge report (JSON): every store scanned and what still names "
            "the patient, found by reading every file, object and database row.",
        ),
    ] = None,
) -> None:
    """Record a withdrawal; remove the patient from the lake, every pinned version, the
    inbox and every export (re-made without them); purge old files."""
    from oncolake.api_config import api_config

    with user_errors():
        if scope not in SCOPE_TABLES:
            raise fail(f"--scope {scope!r} is not a withdrawal scope; use 'all' or 'genomic'")
        settings = get_settings()
        lake = Lake(settings.lake_config(), settings.secret("tag_signing_key"))
        if not lake.is_initialised():
            raise fail("the lake is not initialised; run `oncolake lake init` first")
        when = dt.date.fromisoformat(date) if date else dt.date.today()
        config = api_config(settings)
        outcome = withdraw_everywhere(
            settings,
            lake,
            Withdrawal(patient_id=patient, date=when, reason=reason, scope=scope),
            inboxes=list(inbox or []),
        )
        done, remade = outcome.done, outcome.exports
        w, removed, report, version = (
            done.withdrawal,
            done.rows_removed,
            done.maintenance,
            done.lake_version,
        )
    total = sum(removed.values())
    typer.echo(f"withdrawal {w.withdrawal_id} of patient {patient} recorded ({w.scope})")
    for table, n in sorted(removed.items()):
        if n:
            typer.echo(f"  {table}: {n} row(s) removed")
    for amended in done.pins:
        rows = sum(amended.rows_removed.values())
        typer.echo(
            f"  pin {amended.name}: {rows} row(s) rewritten out, version "
            f"{amended.before.id} -> {amended.after.id}"
        )
    for path in done.inbox_removed:
        typer.echo(f"  inbox: deleted bundle {path}")
    for export_id, outcome_word in sorted(remade.items()):
        typer.echo(f"  export {export_id}: {outcome_word}")
    if report_file is not None:
        with user_errors():
            scans = write_purge_report(
                report_file, settings, config, done, remade, list(inbox or [])
            )
        found = sum(s.occurrences for s in scans)
        typer.echo(
            f"purge report {report_file}: {sum(s.files for s in scans)} file(s), object(s) "
            f"and row(s) read in {len(scans)} store(s); {found} occurrence(s) of the "
            "patient's ids"
        )
        for scan in scans:
            for path, n in sorted(scan.hits.items())[:5]:
                typer.echo(f"  still named: {scan.store}: {path} ({n})", err=True)
    typer.echo(
        f"{total} row(s) removed; {len(done.pins)} pin(s) amended; {len(outcome.suspended)} "
        f"export(s) affected; {len(done.inbox_removed)} inbox bundle(s) deleted; purge: "
        f"{sum(report.snapshots_expired.values())} snapshot(s) expired, "
        f"{report.orphan_files_removed} file(s) deleted; lake version {version}"
    )


def _compact_sqlite(url: str) -> None:
    """Rebuild a SQLite application database (``VACUUM``) and empty its write-ahead log,
    so that no freed page or old log frame keeps a row the withdrawal rewrote (the
    patient's key in an export's patient list). PostgreSQL keeps dead row versions until
    its own vacuum; they are not reachable through SQL."""
    if not url.startswith("sqlite:///"):
        return
    import sqlalchemy as sa

    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("VACUUM"))
            conn.execute(sa.text("PRAGMA wal_checkpoint(TRUNCATE)"))
    finally:
        engine.dispose()


def write_purge_report(
    path: Path,
    settings: Any,
    config: Any,
    done: AppliedWithdrawal,
    exports_done: dict[int, str],
    inboxes: Sequence[str],
) -> list[StoreScan]:
    """Scan every store for the patient's ids and write the report (JSON) to ``path``:
    the warehouse (a folder, or every object under its ``s3://`` prefix), the catalog
    and application databases (SQLite: file bytes and rows; PostgreSQL: every row of
    every table — saved cohorts, requests, exports, audit details), the exports, every
    inbox (folder or ``s3://``), and every file under the home."""
    from catalog_api.governance.purge import PurgeStores, scan_everything, store_rows

    w = done.withdrawal
    stores = PurgeStores(
        warehouse=settings.warehouse_uri,
        catalog_uri=settings.catalog_uri,
        database_url=settings.database_uri,
        exports_dir=Path(config.exports_dir),
        home=settings.home_path,
        storage=settings.s3_storage_options(),
    )
    scans = scan_everything(stores, [w.patient_id, *w.specimen_ids], inboxes, skip=[path])
    total = sum(s.occurrences for s in scans)
    doc = {
        "withdrawal_id": w.withdrawal_id,
        "patient_id": w.patient_id,
        "specimen_ids": len(w.specimen_ids),
        "scope": w.scope,
        "lake_version": done.lake_version,
        "written_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "rows_removed": done.rows_removed,
        "datasets_manifests_redacted": done.datasets_redacted,
        "pins_amended": [
            {"pin": p.name, "before": p.before.id, "after": p.after.id, "rows": p.rows_removed}
            for p in done.pins
        ],
        "exports": {str(k): v for k, v in sorted(exports_done.items())},
        "inbox_bundles_deleted": done.inbox_removed,
        "purge": {
            "snapshots_expired": done.maintenance.snapshots_expired,
            "files_deleted": done.maintenance.orphan_files_removed,
        },
        "stores": store_rows(scans),
        "not_scanned": [],
        "total_occurrences": total,
        "found_nowhere": total == 0,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")
    return scans


@app.command("withdrawals")
def withdrawals() -> None:
    """List the recorded withdrawals."""
    with user_errors():
        rows = list_withdrawals(get_settings().home_path)
    for w in rows:
        typer.echo(
            f"{w.date} {w.patient_id} {w.scope} {w.status} "
            f"rows={sum(w.rows_removed.values())} reason={w.reason!r}"
        )
