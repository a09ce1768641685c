"""The values that pass between the ingest stages (see :mod:`harmonise.ingest`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from harmonise.fhir import ClinicalRows
from harmonise.lake import Submission, TableRows
from harmonise.vcf import Engine, SampleRoles

if TYPE_CHECKING:
    from consent.records import ConsentRecord
    from metadata.manifest import ManifestV1

#: ``progress(stage, done, total)``: ``total`` None for an indeterminate step.
ProgressFn = Callable[[str, int, int | None], None]


def no_progress(_stage: str, _done: int, _total: int | None) -> None:
    """A :data:`ProgressFn` that shows nothing."""


@dataclass
class IngestReport:
    """What one ingest did (the command line prints it as the summary)."""

    bundle: str
    dataset_id: str = ""
    submission_id: str = ""
    status: str = ""
    rows: dict[str, int] = field(default_factory=dict)
    patients: int = 0
    variants: int = 0
    vcf_records: int = 0
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0
    replaced: str | None = None


class VcfFile(NamedTuple):
    """A small-variant VCF of the bundle as ingest linked it (what verify re-reads):
    its bundle path, sample roles and the constant columns of its rows (None left out)."""

    path: str
    roles: SampleRoles
    consts: dict[str, str]


@dataclass(frozen=True)
class ClinicalResources:
    """The bundle's FHIR resources, with where each was found: ``clinical/`` (validated)
    and ``consent/`` (Consents not yet parsed; any other resource validated)."""

    clinical: list[tuple[str, dict[str, Any]]]
    consents: list[tuple[str, dict[str, Any]]]


@dataclass(frozen=True)
class Consents:
    """Every patient's checked consent, and the warnings of the check."""

    records: Mapping[str, ConsentRecord]
    warnings: Sequence[str]


@dataclass(frozen=True)
class Checked:
    """What the checking stages established about a bundle: the input of the row stages.

    ``contigs`` are the reference's contig names from ``provenance/provenance.json`` (None
    when it lists none); ``clinical`` the rows mapped from the clinical resources, its
    ``specimens`` already linked to the manifest's samples; ``patients`` every patient of
    the submission (all with an active consent)."""

    bundle: Path
    manifest: ManifestV1
    digest: str
    contigs: list[str] | None
    clinical: ClinicalRows
    patients: frozenset[str]
    engine: Engine = "auto"
    reference_fasta: str | None = None
    progress: ProgressFn = no_progress


@dataclass(frozen=True)
class StageRows:
    """What a row stage adds to the submission: rows per lake table (a table or a stream
    of batches that the commit consumes, checking as it reads), and the small-variant VCFs
    it linked (for :func:`harmonise.verify.verify`)."""

    tables: Mapping[str, TableRows]
    vcf_files: Sequence[VcfFile] = ()
    #: Values the stage sets on ``specimens`` rows, by specimen id (e.g. ``analyses``,
    #: ``purity``); lists (``analyses``) are merged across stages.
    specimens: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


#: A row stage: reads one kind of result file of a checked bundle into lake rows. It
#: raises the package's errors for what it refuses before the commit; rows it streams are
#: checked as the commit reads them. It adds its warnings and counts to the report.
RowStage = Callable[[Checked, IngestReport], StageRows]


@dataclass
class Prepared:
    """A validated submission, ready to commit (and to verify against)."""

    submission: Submission
    manifest: ManifestV1
    bundle: Path
    report: IngestReport
    vcf_files: list[VcfFile]
