"""The last ingest stage: the checked rows as the lake's tables, the ``datasets`` row and
the dataset's tags (what :class:`harmonise.lake.Submission` carries)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from harmonise.fhir import ClinicalRows
from harmonise.journeys import default_rules
from harmonise.lake import TableRows
from harmonise.model import TABLES

if TYPE_CHECKING:
    from consent.records import ConsentRecord
    from metadata.manifest import ManifestV1


def rows_to_table(name: str, rows: Sequence[Mapping[str, Any]]) -> pa.Table:
    """``rows`` as an Arrow table with the lake table's types for the columns they have."""
    from pyiceberg.io.pyarrow import schema_to_pyarrow

    schema = schema_to_pyarrow(TABLES[name].schema)
    cols = sorted({k for r in rows for k in r})
    fields = [schema.field(c) for c in schema.names if c in cols]
    return pa.Table.from_pylist([dict(r) for r in rows], schema=pa.schema(fields))


def clinical_tables(
    rows: ClinicalRows, patients: frozenset[str], consents: Mapping[str, ConsentRecord]
) -> dict[str, TableRows]:
    """The clinical rows per table (but ``variants``, which the variant stage streams),
    then the ``consents`` rows of the submission's patients."""
    tables: dict[str, TableRows] = {}
    for name, lst in rows.tables.items():
        if name == "variants" or not lst:
            continue
        tables[name] = rows_to_table(name, lst)
    tables["consents"] = rows_to_table(
        "consents", [consents[p].to_row() for p in sorted(patients) if p in consents]
    )
    return tables


def dataset_row(manifest: ManifestV1, digest: str) -> dict[str, Any]:
    """The ``datasets`` row's values of a submission (the lake adds the keys)."""
    from metadata.manifest import manifest_json

    m = manifest
    return {
        "centre_name": m.centre.name,
        "country": m.centre.country,
        "title": m.title,
        "data_types": list(m.data_types),
        "genome_build": m.reference.build if m.reference else None,
        "assays": sorted({f"{s.assay.type}:{s.assay.name}:{s.assay.version}" for s in m.samples}),
        "pipeline_id": m.pipeline.id if m.pipeline else None,
        "pipeline_version": m.pipeline.version if m.pipeline else None,
        "pipeline_fingerprint": m.pipeline.fingerprint if m.pipeline else None,
        "harmonised": m.pipeline.harmonised if m.pipeline else None,
        "duo_codes": list(m.duo_codes),
        "consent_form_version": m.consent_form_version,
        "embargo_until": m.embargo_until.isoformat() if m.embargo_until else None,
        "manifest_digest": digest,
        "manifest_json": manifest_json(m).decode(),
        "journey_rules": default_rules().to_json(),
    }


def dataset_tags(manifest: ManifestV1, digest: str) -> dict[str, Any]:
    """The mandatory tags signed into every data file of the submission."""
    return {
        "metadata_digest": digest,
        "duo_codes": list(manifest.duo_codes),
        "consent_version": manifest.consent_form_version,
    }
