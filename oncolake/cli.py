"""The ``oncolake`` command line (typer). Sub-command groups live in ``oncolake/commands``."""

from __future__ import annotations

import typer

from oncolake import __version__
from oncolake.commands import audit as audit_cmd
from oncolake.commands import consent as consent_cmd
from oncolake.commands import db as db_cmd
from oncolake.commands import demo, ingest, lake, pipeline, results, serve, submit
from oncolake.commands import metadata as metadata_cmd
from oncolake.commands import tokens as tokens_cmd
from oncolake.commands import users as users_cmd

app = typer.Typer(
    name="oncolake",
    help="oncolake: the research data lake of a network of cancer centres.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(lake.app, name="lake", help="The Iceberg lake: init, tables, snapshots, maintain.")
app.command("submit")(submit.submit)
app.command("ingest")(ingest.ingest_command)
app.add_typer(results.app, name="results", help="Pipeline results at the centre: FHIR export.")
demo.register(app)
serve.register(app)
app.add_typer(pipeline.app, name="pipeline", help="Run and check the harmonised dna_seq workflow.")
app.add_typer(
    metadata_cmd.app, name="metadata", help="Submission manifests: JSON Schema, validation."
)
app.add_typer(consent_cmd.app, name="consent", help="Consent: data-use matching, withdrawal.")
app.add_typer(users_cmd.app, name="users", help="Catalogue users: add, list, set roles/centres.")
app.add_typer(tokens_cmd.app, name="tokens", help="API tokens: create (shown once), list, revoke.")
app.add_typer(audit_cmd.app, name="audit", help="The hash-chained audit log: verify, tail.")
app.add_typer(db_cmd.app, name="db", help="The application database: upgrade, status.")


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
