"""The small-variant row stage: the VCF headers checked (build, contigs) and their sample
columns linked to the manifest's specimens before the commit; the records streamed into
it, every one checked as it is read (memory bounded whatever the VCFs' size)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from harmonise.errors import SampleLinkError
from harmonise.ingest.tables import rows_to_table
from harmonise.ingest.types import Checked, IngestReport, ProgressFn, StageRows, VcfFile
from harmonise.lake import TableRows
from harmonise.vcf import (
    Engine,
    ReadStats,
    SampleRoles,
    VcfHeader,
    VcfSource,
    check_reference,
    iter_many,
    read_header,
)
from metadata.manifest import RESULT_FOLDERS

if TYPE_CHECKING:
    from metadata.manifest import ManifestV1, Sample

#: EDAM formats of the small-variant files: VCF and BCF.
VCF_FORMATS = ("format_3016", "format_3584")


@dataclass(frozen=True)
class LinkedVcf:
    """One VCF whose header was checked and whose samples are linked: what to read, and
    the constant columns of its rows (a value None where the file has none)."""

    file: VcfFile
    source: VcfSource
    consts: Mapping[str, str | None]


def _vcf_samples(manifest: ManifestV1) -> dict[str, Sample]:
    return {(s.vcf_sample or s.specimen_id): s for s in manifest.samples}


def link_samples(
    path: Path, header: VcfHeader, by_sample: Mapping[str, Sample]
) -> tuple[Sample | None, Sample | None]:
    """The tumour and normal specimens of a VCF's sample columns (either may be None);
    a column that is no specimen of the manifest, or a pair of two patients, is refused."""
    tumour = normal = None
    for name in header.samples:
        smp = by_sample.get(name)
        if smp is None:
            raise SampleLinkError(
                f"{path}, header #CHROM line: VCF sample {name!r} is not a specimen of the "
                f"manifest (samples: {', '.join(sorted(by_sample)) or 'none'}); add it to "
                "samples with its patient, or remove the column"
            )
        if smp.role == "tumour":
            tumour = smp
        else:
            normal = smp
    if tumour is not None and normal is not None and tumour.patient_id != normal.patient_id:
        raise SampleLinkError(
            f"{path}: tumour {tumour.specimen_id} (patient {tumour.patient_id}) and normal "
            f"{normal.specimen_id} (patient {normal.patient_id}) are of different patients"
        )
    return tumour, normal


def link_vcfs(
    bundle: Path, manifest: ManifestV1, contigs: list[str] | None, say: ProgressFn
) -> list[LinkedVcf]:
    """Every small-variant VCF of the bundle, its header read and checked against the manifest's
    reference (and the pipeline's contig names) and its samples linked to specimens."""
    by_sample = _vcf_samples(manifest)
    vcf_paths = [  # the SV VCFs (structural/) are the somatic results stage's
        f.path
        for f in manifest.files
        if f.format in VCF_FORMATS and f.path.split("/", 1)[0] not in RESULT_FOLDERS
    ]
    fingerprint = manifest.pipeline.fingerprint if manifest.pipeline else None
    build = manifest.reference.build if manifest.reference else "GRCh38"
    naming = manifest.reference.contig_naming if manifest.reference else None
    linked: list[LinkedVcf] = []
    for n, rel in enumerate(vcf_paths):
        path = bundle / rel
        header = read_header(path)
        if manifest.reference is not None:
            check_reference(header, build, manifest.reference.contig_naming, contigs)
        tumour, normal = link_samples(path, header, by_sample)
        main = tumour or normal
        if main is None:
            raise SampleLinkError(f"{path}: the VCF has no sample column to link to a specimen")
        paired = tumour is not None and normal is not None
        roles = SampleRoles(
            main.vcf_sample or main.specimen_id,
            (normal.vcf_sample or normal.specimen_id) if paired and normal else None,
        )
        consts: dict[str, str | None] = {
            "patient_id": main.patient_id,
            "specimen_id": main.specimen_id,
            "normal_specimen_id": normal.specimen_id if paired and normal else None,
            "genome_build": build,
            "origin": "somatic"
            if (tumour is not None and manifest.analysis == "somatic")
            else "germline",
            "source": "pipeline",
            "pipeline_fingerprint": fingerprint,
        }
        file = VcfFile(rel, roles, {k: v for k, v in consts.items() if v is not None})
        linked.append(LinkedVcf(file, VcfSource(str(path), roles, header, naming), consts))
        say("vcf headers", n + 1, len(vcf_paths))
    return linked


def read_small_variants(ctx: Checked, report: IngestReport) -> StageRows:
    """The row stage of the small variants: the VCFs linked now, their records and the
    clinical reports' variants as the ``variants`` stream (nothing when there are none)."""
    linked = link_vcfs(ctx.bundle, ctx.manifest, ctx.contigs, ctx.progress)
    report_variants = ctx.clinical.tables.get("variants", [])
    tables: dict[str, TableRows] = {}
    if linked or report_variants:
        build = ctx.manifest.reference.build if ctx.manifest.reference else "GRCh38"
        tables["variants"] = _variant_rows(
            linked, report_variants, build, ctx.engine, ctx.reference_fasta, report,
            ctx.progress,
        )  # fmt: skip
    return StageRows(tables, [v.file for v in linked])


def _variant_rows(
    linked: Sequence[LinkedVcf],
    report_variants: Sequence[Mapping[str, Any]],
    build: str,
    engine: Engine,
    reference_fasta: str | None,
    report: IngestReport,
    say: ProgressFn,
) -> Iterator[pa.Table]:
    """The submission's ``variants`` rows, streamed: every VCF's normalised rows with its
    file's constant columns (patient, specimens, build, origin, …), then the clinical
    reports' variants. The report's record count and warnings are filled in as it runs."""
    sources = [v.source for v in linked]
    consts = [v.consts for v in linked]
    stats = [ReadStats() for _ in sources]
    records = 0
    columns = list(consts[0]) if consts else []
    # the file constants are dictionary arrays over the files' values (see
    # ``harmonise.lake.constant``): no string is copied per row
    # (a file without the value, e.g. no matched normal: null indices, never a null entry)
    given = {c: [k[c] for k in consts] for c in columns}
    values = {c: pa.array([v or "" for v in vals], pa.string()) for c, vals in given.items()}
    missing = {c: np.array([v is None for v in vals]) for c, vals in given.items()}
    for table, file in iter_many(sources, build, engine, reference_fasta, stats):
        n = table.num_rows
        rows = np.full(n, file, np.int32) if isinstance(file, int) else file.astype(np.int32)
        for col in columns:
            mask = missing[col][rows] if missing[col].any() else None
            indices = pa.array(rows, mask=mask)
            table = table.append_column(col, pa.DictionaryArray.from_arrays(indices, values[col]))
        done = sum(s.records for s in stats)
        if done != records:
            records = done
            say("variants", records, None)
        yield table
    report.vcf_records = sum(s.records for s in stats)
    for v, st in zip(linked, stats, strict=True):
        if st.skipped_symbolic or st.skipped_reference_only:
            report.warnings.append(
                f"{v.file.path}: skipped {st.skipped_symbolic} symbolic/breakend allele(s) and "
                f"{st.skipped_reference_only} reference-only record(s)"
            )
    if report_variants:
        yield rows_to_table("variants", report_variants)
