"""``oncolake consent``: data-use matching and withdrawal of consent."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from consent.errors import ConsentError
from consent.matching import permits
from consent.purpose import load_purpose
from consent.records import load_consent
from consent.withdrawal import SCOPE_TABLES, Withdrawal, list_withdrawals
from harmonise.lake import Lake
from harmonise.withdrawal import apply_withdrawal
from oncolake.errors import fail, user_errors
from oncolake.settings import get_settings

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
        list[Path] | None,
        typer.Option(help="A local inbox folder whose bundles naming the patient are deleted."),
    ] = None,
) -> None:
    """Record a withdrawal; remove the patient from the lake, every pinned version, the
    inbox and every export (re-made without them); purge old files."""
    from catalog_api.db import session_scope
    from catalog_api.governance import exports
    from oncolake.api_config import api_config
    from oncolake.commands.users import sessions

    with user_errors():
        if scope not in SCOPE_TABLES:
            raise fail(f"--scope {scope!r} is not a withdrawal scope; use 'all' or 'genomic'")
        settings = get_settings()
        lake = Lake(settings.lake_config(), settings.secret("tag_signing_key"))
        if not lake.is_initialised():
            raise fail("the lake is not initialised; run `oncolake lake init` first")
        when = dt.date.fromisoformat(date) if date else dt.date.today()
        home = settings.ensure_home()
        config = api_config(settings)
        factory = sessions()
        gone = {patient}
        # 1. downloads of every export holding the patient are refused from now on
        with session_scope(factory) as session:
            suspended = exports.suspend_for_withdrawal(session, patients=gone)
        # 2. the lake (current and pinned versions) and the inbox
        done = apply_withdrawal(
            lake,
            home,
            Withdrawal(patient_id=patient, date=when, reason=reason, scope=scope),
            inboxes=list(inbox or []),
        )
        # 3. the exports, re-made at their requests' amended pins (or disabled)
        with session_scope(factory) as session:
            remade = exports.remake_after_withdrawal(
                session, lake=lake, config=config, patients=gone
            )
            for amended in done.pins:
                exports.record_pin_amendment(
                    session,
                    pin=amended.name,
                    before=amended.before.id,
                    after=amended.after.id,
                    rows_removed=amended.rows_removed,
                )
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
    for export_id, outcome in sorted(remade.items()):
        typer.echo(f"  export {export_id}: {outcome}")
    typer.echo(
        f"{total} row(s) removed; {len(done.pins)} pin(s) amended; {len(suspended)} export(s) "
        f"affected; {len(done.inbox_removed)} inbox bundle(s) deleted; purge: "
        f"{sum(report.snapshots_expired.values())} snapshot(s) expired, "
        f"{report.orphan_files_removed} file(s) deleted; lake version {version}"
    )


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
