"""``oncolake demo``: a living network of centres on the embedded default."""

from __future__ import annotations

import typer
from rich.console import Console

from oncolake.commands.lake import open_lake
from oncolake.commands.serve import serve
from oncolake.errors import user_errors
from oncolake.settings import get_settings

console = Console(highlight=False, soft_wrap=True)


def demo(
    no_serve: bool = typer.Option(False, "--no-serve", help="Build everything, then exit."),
    patients: int = typer.Option(3000, min=10, help="Synthetic patients across the centres."),
    centres: int = typer.Option(4, min=1, max=6, help="Synthetic centres besides centre 1."),
    cores: int = typer.Option(2, min=1, help="Cores for the pipeline run."),
    port: int = typer.Option(8000, help="Port of the catalogue."),
) -> None:
    """Run the pipeline for centre 1, ingest synthetic centres, create users, serve."""
    from oncolake.demo.run import build_demo

    try:
        with user_errors():
            settings = get_settings()
            lake = open_lake(settings)
            result = build_demo(
                settings, lake, patients=patients, centres=centres, cores=cores, say=console.print
            )
            counts = lake.table_counts()
    except KeyboardInterrupt:
        # Every step is idempotent and each submission commits atomically: nothing is
        # half-written, and a re-run continues where this one stopped.
        console.print("\ninterrupted; nothing is half-written; run `make demo` again to continue")
        raise typer.Exit(130) from None
    console.print(f"\nlake at {lake.config.warehouse}, version {lake.current_version().id}")
    console.print("  " + ", ".join(f"{name} {n}" for name, n in counts.items()))
    console.print(f"\ndemo users (tokens in {result.users_file}):")
    for name, user in result.users.items():
        console.print(f"  {name:18} {','.join(user['roles']):10} {user['token']}")
    researcher = result.users["researcher"]["token"]
    base = f"http://127.0.0.1:{port}"
    console.print(
        f"\nopen {base}/ (sign in with a token above), the API docs at {base}/docs,\n"
        f"Beacon v2 at {base}/api/beacon/v2/info. Try:\n"
        f"  curl -s -H 'Authorization: Bearer {researcher}' \\\n"
        "    -H 'Content-Type: application/json' \\\n"
        f'    -d \'{{"definition": {{"format_version": 1, "criteria": {{"type": "variant", '
        f'"gene": "BRAF", "protein_change": "V600E"}}}}, "purpose": {{"primary": '
        f'"health"}}}}\' {base}/api/v1/cohorts/count'
    )
    if no_serve:
        return
    serve(host="127.0.0.1", port=port)


def register(app: typer.Typer) -> None:
    """Add the ``demo`` command to the root app."""
    app.command("demo")(demo)
