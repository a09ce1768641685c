"""``oncolake submit``: pseudonymise and package a centre's results into a bundle."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import typer
from rich.console import Console

from harmonise.bundle import SubmitInputs, build_bundle, deliver
from harmonise.errors import BundleError
from oncolake.errors import user_errors
from oncolake.settings import get_settings

console = Console(highlight=False)


def submit(
    manifest: Path = typer.Option(..., help="Draft manifest JSON (the centre's local ids)."),
    inbox: str = typer.Option(..., help="Inbox: a local folder or s3://bucket/prefix."),
    provenance: Path = typer.Option(
        None, help="The pipeline's results/provenance/provenance.json (fills pipeline/reference)."
    ),
    vcf: list[Path] = typer.Option([], help="VCF(s); default: the ones provenance lists."),
    results: Path = typer.Option(
        None,
        help="The pipeline's results/ folder: its SV VCFs, copy-number tables and TMB/MSI "
        "records (results/annotated/sv, results/cnv, results/biomarkers) are packed for each "
        "tumour; default: the results/ folder of --provenance.",
    ),
    clinical: list[Path] = typer.Option([], help="mCODE FHIR Bundle(s) or ndjson."),
    consent: list[Path] = typer.Option([], help="FHIR Consent resources (JSON/ndjson)."),
    drop_identifiers: bool = typer.Option(
        False, help="Remove names, identifiers, narrative and notes instead of refusing."
    ),
    day_rounding: int = typer.Option(
        1,
        min=1,
        help="Round clinical day offsets to this many days (7: weeks, 30: months); "
        "default exact days from the patient's anchor.",
    ),
) -> None:
    """Pseudonymise, checksum and deliver a submission bundle to the hub's inbox."""
    with user_errors():
        try:
            draft = json.loads(manifest.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise BundleError(f"{manifest}: cannot read the draft manifest ({exc})") from None
        s = get_settings()
        if results is not None and not results.is_dir():
            raise BundleError(f"{results}: no such results folder (--results)")
        inputs = SubmitInputs(
            draft, provenance, vcf, clinical, consent, drop_identifiers, day_rounding, results
        )
        with tempfile.TemporaryDirectory() as tmp, console.status("packaging…"):
            bundle, result = build_bundle(inputs, s.secret("pseudonym_key"), Path(tmp))
            location = deliver(bundle, inbox, s.s3_storage_options())
    rep = result.report
    console.print(f"bundle {bundle.name}: {result.files} file(s) → {location}")
    console.print(
        f"pseudonymised {rep.resources} resource(s); {rep.dates_reduced} date(s) reduced to "
        f"years; {rep.resources_dropped} people/organisation resource(s) left out"
    )
    anchors = ", ".join(f"{n} {kind}" for kind, n in sorted(rep.anchors.items())) or "none"
    console.print(
        f"clinical time: {rep.days_computed} date(s) as days from the patient's anchor "
        f"(rounded to {day_rounding} day(s)); anchors: {anchors}"
    )
    if rep.dropped:
        console.print(
            f"removed {len(rep.dropped)} direct identifier element(s) (--drop-identifiers)"
        )
