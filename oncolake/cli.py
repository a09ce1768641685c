"""The ``oncolake`` command line (typer). Sub-command groups live in ``oncolake/commands``."""

from __future__ import annotations

import typer

from oncolake import __version__
from oncolake.commands import demo, lake, pipeline
from oncolake.commands import consent as consent_cmd
from oncolake.commands import metadata as metadata_cmd

app = typer.Typer(
    name="oncolake",
    help="oncolake: the research data lake of a network of cancer centres.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(lake.app, name="lake", help="The Iceberg lake: init, tables, snapshots, maintain.")
demo.register(app)
app.add_typer(pipeline.app, name="pipeline", help="Run and check the harmonised dna_seq workflow.")
app.add_typer(metadata_cmd.app, name="metadata", help="Submission manifests: JSON Schema, validation.")
app.add_typer(consent_cmd.app, name="consent", help="Consent: data-use matching, withdrawal.")


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", help="Print the version and exit."),
) -> None:
    """oncolake: the research data lake of a network of cancer centres."""
    if version:
        typer.echo(__version__)
        raise typer.Exit(0)


def main() -> None:
    """Entry point of the ``oncolake`` console script."""
    app()


if __name__ == "__main__":
    main()
