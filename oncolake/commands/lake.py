"""``oncolake lake``: initialise, inspect and maintain the Iceberg lake."""

from __future__ import annotations

import datetime as dt
import textwrap
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table as RichTable

from harmonise.lake import Lake, MaintenanceReport
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
    """Every snapshot of every table: time, table, snapshot id, operation, whether it is
    current, and on an indented line the submission it wrote and its pins."""
    with user_errors():
        lake = open_lake()
        rows = [r for r in lake.snapshots() if not table or r["table"] == table]
    for line in snapshot_lines(rows):
        console.print(line, markup=False)


def snapshot_lines(rows: list[dict[str, Any]]) -> list[str]:
    """One line per snapshot (full ids and times), then an indented line for what does
    not fit beside them (the submission id, pins): 80 columns for any lake."""
    if not rows:
        return ["no snapshots yet (nothing committed)"]
    width = max(len("table"), *(len(r["table"]) for r in rows))
    ids = max(len("snapshot"), *(len(str(r["snapshot_id"])) for r in rows))
    out = [f"{'time (UTC)':<19}  {'table':<{width}}  {'snapshot':>{ids}}  operation"]
    for r in rows:
        op = r["oncolake_operation"] or r["operation"]
        current = "  current" if r["current"] else ""
        stamp = r["timestamp"].strftime("%Y-%m-%d %H:%M:%S")
        out.append(f"{stamp}  {r['table']:<{width}}  {r['snapshot_id']:>{ids}}  {op}{current}")
        if r["submission_id"]:
            out.append(f"    submission {r['submission_id']}")
        if r["pins"]:
            out.append(f"    pinned as {', '.join(r['pins'])}")
    return out


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
    """Remove orphan rows, compact small files, expire old snapshots, delete orphan files."""
    with user_errors():
        lake = open_lake()
        expire = dt.timedelta(0) if purge else dt.timedelta(days=expire_days)
        grace = dt.timedelta(0) if purge else dt.timedelta(minutes=grace_minutes)
        with console.status("maintaining the lake") as status:
            report = lake.maintenance.run(
                expire_older_than=expire, grace=grace, progress=status.update
            )
    for line in maintenance_summary(report, expire, grace):
        console.print(line, markup=False)


def _detail(parts: list[str]) -> list[str]:
    """Per-table figures as indented lines that fit 80 columns."""
    text = ", ".join(parts)
    return textwrap.wrap(text, width=78, initial_indent="      ", subsequent_indent="      ")


def maintenance_summary(
    report: MaintenanceReport, expire: dt.timedelta, grace: dt.timedelta
) -> list[str]:
    """What maintenance did, each fact once, in 80 columns."""
    rows = sum(report.orphan_rows_removed.values())
    expired = sum(report.snapshots_expired.values())
    before = sum(b for b, _ in report.files_compacted.values())
    after = sum(a for _, a in report.files_compacted.values())
    crashed = report.crashed_writer_files
    young = f" (those younger than {_span(grace)} left alone)" if grace else ""
    old = f"older than {_span(expire)}" if expire else "all but the current"
    out = ["lake maintenance done"]
    out.append(f"  uncommitted rows removed: {rows or 'none'}{young}")
    out += _detail([f"{t} {n}" for t, n in report.orphan_rows_removed.items()])
    out.append(
        f"  compaction: {before} files into {after}" if before else "  compaction: none needed"
    )
    out += _detail([f"{t} {b} → {a}" for t, (b, a) in report.files_compacted.items()])
    out.append(f"  snapshots expired: {expired or 'none'} {old} (pinned ones kept)")
    out += _detail([f"{t} {n}" for t, n in report.snapshots_expired.items()])
    out.append(
        f"  orphan files removed: {report.orphan_files_removed}"
        + (f", {crashed} of them left by interrupted writes" if crashed else "")
    )
    return out


def _span(delta: dt.timedelta) -> str:
    seconds = delta.total_seconds()
    if seconds % 86400 == 0:
        return f"{int(seconds // 86400)} day(s)"
    if seconds % 3600 == 0:
        return f"{int(seconds // 3600)} hour(s)"
    return f"{seconds / 60:g} minute(s)"
