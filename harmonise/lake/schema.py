"""An existing lake table brought up to the model (``harmonise.model``): additive schema
evolution only, as Iceberg allows without rewriting a file."""

from __future__ import annotations

from pyiceberg.table import Table

from harmonise.errors import LakeConfigError
from harmonise.model import TableDef


def add_missing_columns(tbl: Table, tdef: TableDef) -> list[str]:
    """Add to ``tbl`` the model's columns it lacks, as optional columns with the model's
    type and doc; return their names. Rows already written read them as null (Iceberg
    resolves columns by field id; the new ones get the table's next ids).

    Only additions: a column the model dropped, renamed or retyped is left as it is. A
    new column the model declares required is refused (the rows already written have no
    value for it)."""
    have = {f.name for f in tbl.schema().fields}
    new = [f for f in tdef.schema.fields if f.name not in have]
    if not new:
        return []
    required = [f.name for f in new if f.required]
    if required:
        raise LakeConfigError(
            f"the lake table {tdef.name} has rows but no column {', '.join(required)}, "
            "which the model declares required: an existing table can gain only optional "
            "columns; make it optional in harmonise/model.py"
        )
    with tbl.update_schema() as update:
        for f in new:
            update.add_column(f.name, f.field_type, doc=f.doc)
    return [f.name for f in new]
