"""``oncolake metadata``: the submission manifest's JSON Schema and validation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from metadata.errors import MetadataError
from metadata.manifest import DRAFT_FILLED, json_schema, load_json, load_manifest, validate_draft
from oncolake.errors import fail, user_errors

app = typer.Typer(no_args_is_help=True)


@app.command("schema")
def schema() -> None:
    """Print the JSON Schema of the submission manifest (current format version)."""
    typer.echo(json.dumps(json_schema(), indent=2, sort_keys=True))


@app.command("validate")
def validate(
    manifest: Annotated[Path, typer.Argument(help="The manifest.json to validate.")],
    draft: Annotated[
        bool,
        typer.Option(
            "--draft",
            help="A draft for `oncolake submit`: files, pipeline and reference may be absent "
            "(submit fills them) and sample ids are local ones (submit pseudonymises them).",
        ),
    ] = False,
) -> None:
    """Validate a manifest: exit 0 if valid, 1 listing every problem (one line each, with
    its field path) otherwise."""
    with user_errors():
        try:
            if draft:
                validate_draft(load_json(manifest), where=str(manifest))
            else:
                m = load_manifest(manifest)
        except MetadataError as exc:
            # escaped: field paths such as samples[0] must not be read as rich markup
            raise fail(escape(str(exc)), 1) from None
    if draft:
        typer.echo(
            f"{manifest}: valid draft manifest (`oncolake submit` fills "
            f"{', '.join(DRAFT_FILLED)} and pseudonymises the sample ids)"
        )
        return
    typer.echo(
        f"{manifest}: valid manifest (format version {m.format_version}, dataset "
        f"{m.dataset_id}, {len(m.samples)} sample(s), {len(m.files)} file(s))"
    )
