"""``oncolake lake``: initialise, inspect and maintain the Iceberg lake."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table as RichTable

from harmonise.lake import Lake
from harmonise.model import NAMESPACE, TABLES
from oncolake.errors import user_errors
from oncolake.settings import Settings, get_settings

app = typer.Typer(no_args_is_help=True)
console = Console(highlight=False)


def open_lake(settings: Settings | None = None) -> Lake:
    """The lake of the current settings (composition root: settings → harmonise)."""
    s = settings or get_settings()
    return Lake(s.lake_config(), s.secret("tag_signing_key"))


@app.command("init")
def init() -> None:
    """Create the namespace and the lake tables (idempotent)."""
    with user_errors():
        lake = open_lake()
        created = lake.init()
        where = lake.config.warehouse
    if created:
        console.print(f"created {len(created)} table(s) in {NAMESPACE}: {', '.join(created)}")
    else:
        console.print(f"all {len(TABLES)} tables exist in {NAMESPACE}")
    console.print(f"warehouse: {where}")


@app.command("rederive-journeys")
def rederive_journeys(
    rules: Path = typer.Option(
        None, help="A journey rules file (JSON); default harmonise/data/journey_rules.json."
    ),
) -> None:
    """Re-derive regimens and lines of therapy of every dataset by the rules (one commit
    per dataset; datasets already derived by these rules are left alone)."""
    from harmonise.journeys import default_rules, load_rules
    from harmonise.journeys_rederive import rederive

    with user_errors():
        lake = open_lake()
        report = rederive(lake, load_rules(rules) if rules else default_rules(), console.print)
    console.print(
        f"rules {report.rules_version}: {len(report.changed)} dataset(s) re-derived, "
        f"{len(report.unchanged)} already up to date"
    )


@app.command("tables")
def tables() -> None:
    """Visible rows per table at the current lake version."""
    with user_errors():
        lake = open_lake()
        version = lake.current_version()
        counts = lake.table_counts(version)
    out = RichTable(title=f"lake version {version.id}")
    out.add_column("table")
    out.add_column("rows", justify="right")
    out.add_column("snapshot", justify="right")
    for name, n in counts.items():
        sid = version.snapshots.get(name)
        out.add_row(f"{NAMESPACE}.{name}", str(n), str(sid) if sid else "-")
    console.print(out)


@app.command("snapshots")
def snapshots(table: str = typer.Option(None, help="Only this table.")) -> None:
    """Every snapshot of every table, with the operation, submission and pins."""
    with user_errors():
        lake = open_lake()
        rows = lake.snapshots()
    out = RichTable()
    for col in ("time (UTC)", "table", "snapshot", "operation", "submission", "pins", ""):
        out.add_column(col)
    for r in rows:
        if table and r["table"] != table:
            continue
        out.add_row(
            r["timestamp"].strftime("%Y-%m-%d %H:%M:%S"),
            r["table"],
            str(r["snapshot_id"]),
            r["oncolake_operation"] or r["operation"],
            (r["submission_id"] or "")[:16],
            ",".join(r["pins"]),
            "current" if r["current"] else "",
        )
    console.print(out)


@app.command("maintain")
def maintain(
    expire_days: float = typer.Option(
        7.0, help="Expire snapshots older than this many days (pinned ones are kept)."
    ),
    grace_minutes: float = typer.Option(
        60.0, help="Leave files and uncommitted rows younger than this alone."
    ),
    purge: bool = typer.Option(
        False, help="Expire every unpinned old snapshot now (after a withdrawal)."
    ),
) -> None:
    """Compact small files, remove orphan rows and files, expire old snapshots."""
    with user_errors():
        lake = open_lake()
        expire = dt.timedelta(0) if purge else dt.timedelta(days=expire_days)
        grace = dt.timedelta(0) if purge else dt.timedelta(minutes=grace_minutes)
        report = lake.maintain(expire_older_than=expire, grace=grace, progress=console.print)
    for name, n in report.orphan_rows_removed.items():
        console.print(f"{name}: removed {n} orphan row(s)")
    for name, (before, after) in report.files_compacted.items():
        console.print(f"{name}: {before} → {after} data files")
    for name, n in report.snapshots_expired.items():
        console.print(f"{name}: expired {n} snapshot(s)")
    console.print(f"orphan files removed: {report.orphan_files_removed}")
