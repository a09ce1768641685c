"""Hub side: a submission bundle → checked, linked lake rows → one atomic lake commit.

Everything is validated before anything becomes visible: checksums, manifest (metadata/),
consent (consent/) for every patient, the clinical resources and the VCF headers (build,
contigs, samples ↔ specimens ↔ patients) before the commit starts; the VCF records as they
stream into :meth:`harmonise.lake.Lake.commit` (memory bounded whatever the files' size),
whose data files are registered only after the last record was read and accepted, so a
refused record leaves the lake as it was. One commit, with the manifest digest as the
submission id: a re-ingest of the same bundle changes nothing, a corrected bundle for the
same dataset replaces the old rows.

:func:`prepare` runs the stages in this order, each a function of typed values
(:mod:`~harmonise.ingest.types`): :mod:`~harmonise.ingest.manifest` (confinement → the
manifest, a :class:`metadata.manifest.ManifestV1` → checksums → the reference's contigs),
:mod:`~harmonise.ingest.clinical` (FHIR resources → pseudonym check → clinical rows →
consents → specimens), the row stages (:mod:`~harmonise.ingest.variants`: VCF headers and
sample links → the variants stream), :mod:`~harmonise.ingest.tables` (the tables, the
``datasets`` row, the tags).

To add a stage for another kind of result file: write a :data:`~harmonise.ingest.types.RowStage`
``(Checked, IngestReport) -> StageRows`` in its own module here and append it to
``ROW_STAGES`` in :mod:`harmonise.ingest.pipeline`.
"""

from harmonise.ingest.pipeline import ROW_STAGES, ingest, prepare
from harmonise.ingest.types import (
    Checked,
    IngestReport,
    Prepared,
    ProgressFn,
    RowStage,
    StageRows,
    VcfFile,
)

__all__ = [
    "ROW_STAGES",
    "Checked",
    "IngestReport",
    "Prepared",
    "ProgressFn",
    "RowStage",
    "StageRows",
    "VcfFile",
    "ingest",
    "prepare",
]
