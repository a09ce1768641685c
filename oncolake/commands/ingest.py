"""``oncolake ingest``: validate bundles and commit them into the lake (one commit each)."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table as RichTable

from harmonise.bundle import fetch, list_ready
from harmonise.ingest import IngestReport, ingest
from harmonise.verify import verify
from oncolake.commands.lake import open_lake
from oncolake.errors import user_errors
from oncolake.settings import get_settings

console = Console(highlight=False)


def _withdrawn() -> set[str]:
    try:
        from consent.withdrawal import withdrawn_patients

        return set(withdrawn_patients(get_settings().home_path))
    except (ImportError, FileNotFoundError):
        return set()


def _summary(r: IngestReport) -> None:
    t = RichTable(title=f"{r.dataset_id} ({r.status}, {r.seconds:.1f} s)")
    t.add_column("table")
    t.add_column("rows", justify="right")
    for name, n in sorted(r.rows.items()):
        t.add_row(name, str(n))
    console.print(t)
    if r.status == "unchanged":
        console.print(
            f"submission {r.submission_id[:16]} is already in the lake: nothing read or "
            f"written ({r.patients} patient(s), {r.variants} variant row(s) committed before)"
        )
        return
    console.print(
        f"submission {r.submission_id[:16]}: {r.patients} patient(s), {r.variants} variant "
        f"row(s) from {r.vcf_records} VCF record(s), {len(r.warnings)} warning(s)"
        + (f"; replaced {r.replaced[:16]}" if r.replaced else "")
    )
    for w in r.warnings[:10]:
        console.print(f"  [yellow]warning[/]: {w}")


def _one(location: str, engine: str, do_verify: bool, reference: str | None) -> IngestReport:
    lake = open_lake()
    with tempfile.TemporaryDirectory() as tmp:
        bundle = fetch(location, Path(tmp), get_settings().s3_storage_options())
        with Progress(
            TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}"),
            TimeElapsedColumn(), console=console, transient=True,
        ) as bar:  # fmt: skip
            tasks: dict[str, TaskID] = {}

            def progress(stage: str, done: int, total: int | None) -> None:
                key = stage.split(":")[0]
                if key not in tasks:
                    tasks[key] = bar.add_task(stage, total=total)
                bar.update(tasks[key], completed=done, total=total, description=stage)

            report, prep = ingest(
                lake, bundle, engine=engine,  # type: ignore[arg-type]
                withdrawn=_withdrawn(), reference_fasta=reference, progress=progress,
            )  # fmt: skip
        _summary(report)
        if do_verify:
            v = verify(lake, prep)
            more = "".join(f", {n} {table} row(s)" for table, n in sorted(v.results.items()))
            console.print(
                f"verify: {v.compared} VCF allele(s){more} re-read from the bundle match the lake"
            )
    return report


def ingest_command(
    bundle: str = typer.Argument(None, help="A bundle folder or s3:// location."),
    watch: str = typer.Option(None, help="Poll this inbox (folder or s3://) for bundles."),
    interval: float = typer.Option(5.0, help="Seconds between polls of --watch."),
    once: bool = typer.Option(False, help="With --watch: ingest what is ready, then stop."),
    verify_rows: bool = typer.Option(False, "--verify", help="Re-read sources and compare."),
    engine: str = typer.Option(
        "auto", help="VCF reader: auto (text engine, htslib where needed), text, pysam or bcftools."
    ),
    reference: str = typer.Option(None, help="Reference FASTA: check REF, left-align."),
) -> None:
    """Validate a submission bundle and commit it to the lake in one atomic commit."""
    if (bundle is None) == (watch is None):
        with user_errors():
            raise ValueError("give a BUNDLE or --watch INBOX (one of the two)")
    if bundle is not None:
        with user_errors():
            _one(bundle, engine, verify_rows, reference)
        return
    done: set[str] = set()
    with user_errors():
        storage = get_settings().s3_storage_options()
    while True:
        with user_errors():
            ready = [b for b in list_ready(watch, storage) if b not in done]
        for b in ready:
            done.add(b)
            console.print(f"ingesting {b}")
            try:
                with user_errors():
                    _one(b, engine, verify_rows, reference)
            except typer.Exit:
                console.print(f"[red]refused[/] {b} (see the error above); continuing")
        if once:
            return
        time.sleep(interval)
