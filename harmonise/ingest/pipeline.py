"""The ingest pipeline: :func:`prepare` runs the stages in order, :func:`ingest` commits."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa

from harmonise.ingest.clinical import (
    check_consents,
    check_pseudonyms,
    link_specimens,
    map_clinical,
    read_clinical,
    submission_patients,
)
from harmonise.ingest.manifest import (
    check_checksums,
    check_confinement,
    read_manifest,
    reference_contigs,
)
from harmonise.ingest.qc import read_qc_stage
from harmonise.ingest.somatic import read_somatic_results_stage
from harmonise.ingest.tables import clinical_tables, dataset_row, dataset_tags
from harmonise.ingest.types import (
    Checked,
    IngestReport,
    Prepared,
    ProgressFn,
    RowStage,
    StageRows,
    VcfFile,
    no_progress,
)
from harmonise.ingest.variants import read_small_variants
from harmonise.lake import CommitResult, Lake, Submission, TableRows
from harmonise.vcf import Engine

#: The row stages, in order: each reads one kind of result file of the checked bundle.
ROW_STAGES: tuple[RowStage, ...] = (
    read_small_variants,
    read_somatic_results_stage,
    read_qc_stage,
)


def annotate_specimens(specimens: list[dict[str, Any]], staged: Sequence[StageRows]) -> None:
    """Set on the ``specimens`` rows what the row stages say of them: ``analyses`` (the
    pipeline results the submission carries for the specimen: ``small_variants`` for a
    linked small-variant VCF, and the stages' own) and values such as ``purity``."""
    values: dict[str, dict[str, Any]] = {}
    for out in staged:
        for f in out.vcf_files:
            sid = f.consts.get("specimen_id")
            if sid:
                values.setdefault(sid, {}).setdefault("analyses", set()).add("small_variants")
        for sid, given in out.specimens.items():
            have = values.setdefault(sid, {})
            for key, value in given.items():
                if key == "analyses":
                    have.setdefault("analyses", set()).update(value)
                else:
                    have[key] = value
    for row in specimens:
        for key, value in values.get(row["specimen_id"], {}).items():
            row[key] = sorted(value) if key == "analyses" else value


def _merged(first: TableRows, more: TableRows) -> TableRows:
    """Two stages' rows of one table as one stream."""

    def parts(rows: TableRows) -> Iterable[pa.Table | pa.RecordBatch]:
        return [rows] if isinstance(rows, pa.Table) else rows

    return itertools.chain(parts(first), parts(more))


def prepare(
    bundle: Path,
    engine: Engine = "auto",
    withdrawn: Iterable[str] = (),
    reference_fasta: str | None = None,
    progress: ProgressFn | None = None,
) -> Prepared:
    """Read and validate a bundle folder into a :class:`Submission` (nothing is written).

    Everything but the VCF records is read and checked here; the submission's
    ``variants`` are a stream that reads and checks the records as the commit consumes
    it (a refused record raises from :meth:`Lake.commit`, which then writes nothing), and
    fills in the report's record count and warnings."""
    from metadata.manifest import manifest_digest

    say = progress or no_progress
    t0 = time.perf_counter()
    report = IngestReport(bundle=str(bundle))
    check_confinement(bundle)  # nothing outside the bundle is read: refused before any byte
    manifest = read_manifest(bundle)
    check_checksums(bundle, manifest, say)
    digest = manifest_digest(manifest)
    report.dataset_id, report.submission_id = manifest.dataset_id, digest
    contigs = reference_contigs(bundle, manifest)

    resources = read_clinical(bundle, manifest)
    check_pseudonyms(resources)
    say("clinical", len(resources.clinical), len(resources.clinical))
    rows = map_clinical(resources, manifest)
    report.warnings += rows.warnings
    patients = submission_patients(manifest, rows)
    consents = check_consents(bundle, resources, patients, withdrawn)
    report.warnings += consents.warnings
    rows.tables["specimens"] = link_specimens(manifest, rows)

    checked = Checked(
        bundle, manifest, digest, contigs, rows, patients, engine, reference_fasta, say
    )
    staged = [stage(checked, report) for stage in ROW_STAGES]
    annotate_specimens(rows.tables["specimens"], staged)
    tables = clinical_tables(rows, patients, consents.records)
    vcf_files: list[VcfFile] = []
    for out in staged:
        for name, part in out.tables.items():
            tables[name] = _merged(tables[name], part) if name in tables else part
        vcf_files += out.vcf_files
    report.patients = len(patients)
    sub = Submission(
        digest,
        manifest.dataset_id,
        manifest.centre.id,
        dataset_row(manifest, digest),
        tables,
        dataset_tags(manifest, digest),
    )
    report.seconds = time.perf_counter() - t0
    return Prepared(sub, manifest, bundle, report, vcf_files)


def ingest(
    lake: Lake,
    bundle: Path,
    engine: Engine = "auto",
    withdrawn: Iterable[str] = (),
    reference_fasta: str | None = None,
    progress: ProgressFn | None = None,
) -> tuple[IngestReport, Prepared]:
    """Validate a bundle and commit it in one lake commit; return the report."""
    t0 = time.perf_counter()
    prep = prepare(bundle, engine, withdrawn, reference_fasta, progress)
    say = progress or no_progress
    say("commit", 0, None)
    result: CommitResult = lake.commit(prep.submission, lambda msg: say(f"commit: {msg}", 0, None))
    r = prep.report
    r.status = result.status
    r.rows = {k: v for k, v in result.rows.items() if v}
    if result.status == "unchanged":  # nothing read: the counts of the earlier commit
        r.rows = lake.submission_rows(prep.submission.submission_id)
    r.variants = r.rows.get("variants", 0)
    r.replaced = result.replaced
    r.seconds = time.perf_counter() - t0
    return r, prep
