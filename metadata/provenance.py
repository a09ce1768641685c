"""Fill a manifest's pipeline and reference fields from a pipeline's ``provenance.json``.

The workflows (``workflows/dna_seq``) write ``provenance.json`` beside their results; the
submit step calls :func:`apply_provenance` so that the manifest states exactly what the
pipeline recorded (never retyped by hand).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from metadata.errors import ProvenanceError
from metadata.manifest import FINGERPRINT_RE, SHA256_RE, issues_of


class _Reference(BaseModel):
    model_config = ConfigDict(extra="allow")

    build: Literal["GRCh37", "GRCh38"]
    contig_naming: Literal["ensembl", "ucsc"]
    sha256: str | None = Field(default=None, pattern=SHA256_RE)


class QcGene(BaseModel):
    """One gene's coverage in one sample (mosdepth over the gene's exons in the regions)."""

    model_config = ConfigDict(extra="allow")

    gene: str = Field(min_length=1, description="Gene name (GFF3 Name).")
    bp: int = Field(ge=0, description="Bases measured.")
    mean_depth: float = Field(ge=0, description="Mean depth over them.")
    fraction_at_depth: dict[str, float] = Field(
        default_factory=dict, description="Depth threshold -> share of the bases at >= it."
    )


class QcSample(BaseModel):
    """One sample's QC figures as the pipeline measured them (missing when not measured)."""

    model_config = ConfigDict(extra="allow")

    reads: int | None = Field(default=None, ge=0, description="Reads (samtools stats).")
    duplication_rate: float | None = Field(
        default=None, ge=0, le=1, description="Duplicate share (samtools markdup)."
    )
    mapped_rate: float | None = Field(default=None, ge=0, le=1, description="Mapped share.")
    insert_size_mean: float | None = Field(default=None, ge=0, description="Insert size, bp.")
    insert_size_sd: float | None = Field(default=None, ge=0, description="Its SD, bp.")
    mean_coverage: float | None = Field(
        default=None, ge=0, description="Mean depth over the assay regions (mosdepth)."
    )
    genes: list[QcGene] = Field(default_factory=list, description="Per-gene coverage.")


class QcIdentity(BaseModel):
    """Whether the tumour and its normal look like one person (bcftools gtcheck)."""

    model_config = ConfigDict(extra="allow")

    status: Literal["match", "mismatch", "insufficient"]
    discordant_sites: int = Field(ge=0)
    compared_sites: int = Field(ge=0)
    discordance: float | None = Field(default=None, ge=0, le=1)
    max_discordance: float = Field(ge=0, le=1)
    allowed: bool = False


class QcContamination(BaseModel):
    """The tumour-in-normal estimate of a pair (share of the normal's reads from the
    tumour), null when too few somatic SNVs allow it."""

    model_config = ConfigDict(extra="allow")

    status: Literal["estimated", "insufficient"]
    tumour_in_normal: float | None = Field(default=None, ge=0, le=1)
    sites: int = Field(ge=0)


class QcPair(BaseModel):
    """The QC of one tumour/normal pair (in the order of provenance's ``samples``). In a
    submission bundle the pair names its specimens by their pseudonyms (``oncolake
    submit`` adds them), so that the hub links the figures to the manifest's samples."""

    model_config = ConfigDict(extra="allow")

    tumour: QcSample
    normal: QcSample
    identity: QcIdentity | None = None
    contamination: QcContamination | None = None
    tumour_specimen_id: str | None = Field(default=None, min_length=1)
    normal_specimen_id: str | None = Field(default=None, min_length=1)


class QcReport(BaseModel):
    model_config = ConfigDict(extra="allow")

    path: str = Field(min_length=1)
    sha256: str = Field(pattern=SHA256_RE)


class QcSummary(BaseModel):
    """The run's QC as ``provenance.json`` states it: the QC report and per-pair figures."""

    model_config = ConfigDict(extra="allow")

    report: QcReport
    pairs: list[QcPair] = Field(default_factory=list)


class Provenance(BaseModel):
    """The fields of ``provenance.json`` the manifest needs (others are kept, not checked)."""

    model_config = ConfigDict(extra="allow")

    pipeline_id: str = Field(min_length=1)
    pipeline_version: str = Field(min_length=1)
    fingerprint: str = Field(pattern=FINGERPRINT_RE)
    harmonised: bool
    tool_versions: dict[str, str] = Field(default_factory=dict)
    reference: _Reference
    qc: QcSummary | None = None


def parse_provenance(data: Mapping[str, Any], where: str = "provenance.json") -> Provenance:
    """Check a provenance record; raise :class:`ProvenanceError` naming every bad field."""
    try:
        return Provenance.model_validate(dict(data))
    except ValidationError as exc:
        lines = "; ".join(str(i) for i in issues_of(exc))
        raise ProvenanceError(
            f"{where}: {lines}. Re-run the pipeline, which writes provenance.json itself."
        ) from None


def manifest_fields_from_provenance(
    data: Mapping[str, Any], where: str = "provenance.json"
) -> dict[str, Any]:
    """The manifest's ``pipeline`` and ``reference`` objects made from a provenance record."""
    prov = parse_provenance(data, where)
    reference: dict[str, Any] = {
        "build": prov.reference.build,
        "contig_naming": prov.reference.contig_naming,
    }
    if prov.reference.sha256:
        reference["sha256"] = prov.reference.sha256
    return {
        "pipeline": {
            "id": prov.pipeline_id,
            "version": prov.pipeline_version,
            "fingerprint": prov.fingerprint,
            "harmonised": prov.harmonised,
            "tool_versions": dict(prov.tool_versions),
        },
        "reference": reference,
    }


def apply_provenance(
    manifest: Mapping[str, Any], provenance: Mapping[str, Any], where: str = "provenance.json"
) -> dict[str, Any]:
    """A copy of the manifest data with ``pipeline`` and ``reference`` taken from provenance,
    and ``qc`` added to ``data_types`` when the pipeline recorded its QC (the bundle
    carries provenance.json, whose ``qc`` part is that QC).

    If the manifest already states a different reference build, that is an error (the
    variants would be mislabelled), not something to overwrite silently.
    """
    fields = manifest_fields_from_provenance(provenance, where)
    has_qc = parse_provenance(provenance, where).qc is not None
    out = copy.deepcopy(dict(manifest))
    given = out.get("reference")
    if isinstance(given, Mapping):
        for key in ("build", "contig_naming"):
            if key in given and given[key] != fields["reference"][key]:
                raise ProvenanceError(
                    f"{where}: reference.{key} is {fields['reference'][key]!r} but the manifest "
                    f"says {given[key]!r}; submit the results with the manifest of the same run"
                )
    out.update(fields)
    types = out.get("data_types")
    if has_qc and isinstance(types, list | tuple) and "qc" not in types:
        out["data_types"] = [*types, "qc"]
    return out
