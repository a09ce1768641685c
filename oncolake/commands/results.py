"""``oncolake results``: the pipeline's results at the centre, e.g. as FHIR for the EHR."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from harmonise.fhir_export import export_results
from oncolake.errors import user_errors

app = typer.Typer(no_args_is_help=True)
console = Console(highlight=False)


@app.command("fhir")
def fhir(
    results: Annotated[Path, typer.Argument(help="The pipeline's results/ folder.")],
    out: Annotated[Path, typer.Option(help="Folder for the Bundles.")] = Path("fhir"),
    build: Annotated[str, typer.Option(help="Reference build: GRCh37 or GRCh38.")] = "GRCh37",
    patient: Annotated[
        list[str] | None, typer.Option(help="Only this patient (repeatable).")
    ] = None,
) -> None:
    """Write each patient's structural variants and fusions, copy-number calls, TMB and
    MSI as an HL7 Genomics Reporting FHIR R4 Bundle (OUT/<patient>.genomics-report.json)
    for the centre's EHR; every resource is validated (fhir.resources) first."""
    with user_errors():
        if build not in ("GRCh37", "GRCh38"):
            raise ValueError(f"--build {build!r}: give GRCh37 or GRCh38")
        paths = export_results(results, out, build, patient or ())
    for p in paths:
        console.print(f"wrote {p}")
