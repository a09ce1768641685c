"""The row stage of the pipeline's somatic results beyond small variants (issue 23).

A bundle lists them in ``manifest.json`` (CONTRACT23): ``structural/<name>.vcf.gz``,
``copy_number/<name>.segments.tsv``, ``copy_number/<name>.genes.tsv`` and
``biomarkers/<name>.tmb_msi.json``, each with the ``specimen_id`` of the tumour it was
computed on. :func:`read_somatic_results` reads and checks every one of them whole
(:mod:`harmonise.structural`, :mod:`harmonise.copy_number`, :mod:`harmonise.tmb_msi`) and
links it to its tumour, the tumour's patient and matched normal, before the commit starts;
the rows it returns are committed by ingest in the same atomic commit as the small
variants (``structural_variants``, ``copy_number_genes``, ``copy_number_segments``, and
``biomarkers`` rows with ``source`` = ``pipeline``). A bad file raises, naming file, line
and field, and nothing is written.

:func:`read_somatic_results_stage` is the :data:`~harmonise.ingest.types.RowStage` (in
``ROW_STAGES``): its rows, and the specimens' ``analyses`` and ``purity``
(:attr:`StageRows.specimens`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from harmonise.copy_number import read_genes, read_segments
from harmonise.errors import BundleError, SampleLinkError
from harmonise.ingest.tables import rows_to_table
from harmonise.ingest.types import Checked, IngestReport, StageRows
from harmonise.structural import read_structural
from harmonise.tmb_msi import assessed, biomarker_rows, read_tmb_msi

#: Bundle folders of the results (``metadata.manifest.RESULT_FOLDERS``).
FOLDERS = ("structural", "copy_number", "biomarkers")
#: What each file adds to its specimen's ``analyses``.
ANALYSIS = {
    ".vcf.gz": ("structural_variants",),
    ".segments.tsv": ("copy_number",),
    ".genes.tsv": ("copy_number",),
    ".tmb_msi.json": ("tmb", "msi"),
}


@dataclass
class SomaticResults:
    """The rows of a bundle's result files, and what they say about its specimens."""

    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    #: specimen id → analyses its results cover (``specimens.analyses``).
    analyses: dict[str, set[str]] = field(default_factory=dict)
    #: specimen id → tumour purity from ``tmb_msi.json``.
    purity: dict[str, float] = field(default_factory=dict)
    files: int = 0
    warnings: list[str] = field(default_factory=list)

    def add(self, table: str, rows: Iterable[dict[str, Any]]) -> None:
        self.tables.setdefault(table, []).extend(rows)


def result_files(manifest: Any) -> list[Any]:
    """The manifest's result file entries (structural/, copy_number/, biomarkers/)."""
    return [f for f in manifest.files if f.path.split("/", 1)[0] in FOLDERS]


def read_somatic_results(
    bundle: Path,
    manifest: Any,
    contigs: Sequence[str] | None = None,
) -> SomaticResults:
    """Read, check and link every result file of ``bundle`` (see the module doc)."""
    out = SomaticResults()
    entries = result_files(manifest)
    if not entries:
        return out
    if manifest.reference is None:
        raise BundleError(
            f"{bundle}: the bundle holds pipeline results ({entries[0].path} …) but the "
            "manifest gives no reference genome; set reference (build, contig_naming)"
        )
    build = manifest.reference.build
    naming = manifest.reference.contig_naming
    names = list(contigs) if contigs else None
    fingerprint = manifest.pipeline.fingerprint if manifest.pipeline else None
    samples = {s.specimen_id: s for s in manifest.samples}
    by_vcf_name = {(s.vcf_sample or s.specimen_id): s for s in manifest.samples}
    for f in entries:
        path = bundle / f.path
        tumour = samples.get(f.specimen_id or "")
        if tumour is None or tumour.role != "tumour":  # the manifest rules refuse this too
            raise SampleLinkError(f"{path}: specimen {f.specimen_id!r} is not a tumour sample")
        normal = samples.get(tumour.matched_normal) if tumour.matched_normal else None
        consts: dict[str, Any] = {
            "patient_id": tumour.patient_id,
            "specimen_id": tumour.specimen_id,
            "normal_specimen_id": normal.specimen_id if normal else None,
            "genome_build": build,
            "pipeline_fingerprint": fingerprint,
        }
        ending = next(e for e in ANALYSIS if f.path.endswith(e))
        if ending == ".vcf.gz":
            sv = read_structural(path, build, naming, names)
            _link_vcf_samples(path, sv.header.samples, by_vcf_name, tumour, normal)
            out.add("structural_variants", ({**consts, **r.row()} for r in sv.records))
        elif ending == ".segments.tsv":
            rows = read_segments(path, build, naming, names)
            out.add("copy_number_segments", ({**consts, **r} for r in rows))
        elif ending == ".genes.tsv":
            rows = read_genes(path, build, naming, names)
            out.warnings += _uncovered_genes(f.path, rows, tumour)
            out.add("copy_number_genes", ({**consts, **r} for r in rows))
        else:
            doc = read_tmb_msi(path)
            ids = {"patient_id": tumour.patient_id, "specimen_id": tumour.specimen_id}
            out.add("biomarkers", ({**ids, **r} for r in biomarker_rows(doc)))
            if doc.purity is not None:
                out.purity[tumour.specimen_id] = doc.purity
        kinds = assessed(doc) if ending == ".tmb_msi.json" else ANALYSIS[ending]
        out.analyses.setdefault(tumour.specimen_id, set()).update(kinds)
        out.files += 1
    return out


def _uncovered_genes(rel: str, rows: Sequence[Mapping[str, Any]], tumour: Any) -> list[str]:
    """A warning when a panel's gene table calls genes its assay does not list in
    ``covered_genes`` (a gene unknown to the manifest): the calls are kept (the pipeline's
    GFF3 may name more genes than the manifest lists), the centre is told."""
    assay = getattr(tumour, "assay", None)
    covered = set(getattr(assay, "covered_genes", None) or ())
    if not covered:
        return []
    outside = [str(r["gene"]) for r in rows if r["gene"] not in covered]
    if not outside:
        return []
    shown = ", ".join(outside[:5]) + (f" and {len(outside) - 5} more" if len(outside) > 5 else "")
    return [
        f"{rel}: {len(outside)} gene(s) not among the covered_genes of assay "
        f"{getattr(assay, 'name', '?')} of specimen {tumour.specimen_id}: {shown}; the calls "
        "are kept (list the genes in the assay, or check that the right table was submitted)"
    ]


def _link_vcf_samples(
    path: Path,
    names: Sequence[str],
    by_vcf_name: Mapping[str, Any],
    tumour: Any,
    normal: Any | None,
) -> None:
    """The SV VCF's sample columns are the tumour the manifest entry names and its normal."""
    linked = []
    for name in names:
        smp = by_vcf_name.get(name)
        if smp is None:
            raise SampleLinkError(
                f"{path}, header #CHROM line: VCF sample {name!r} is not a specimen of the "
                f"manifest (samples: {', '.join(sorted(by_vcf_name)) or 'none'}); add it to "
                "samples with its patient, or remove the column"
            )
        linked.append(smp.specimen_id)
    allowed = {tumour.specimen_id} | ({normal.specimen_id} if normal else set())
    if tumour.specimen_id not in linked or not set(linked) <= allowed:
        raise SampleLinkError(
            f"{path}, header #CHROM line: samples {', '.join(linked) or 'none'} are not the "
            f"tumour {tumour.specimen_id} the manifest entry names (and its matched normal); "
            "list the file with the specimen_id of its tumour"
        )


def read_somatic_results_stage(checked: Checked, report: IngestReport) -> StageRows:
    """The row stage: every result file read, checked and linked (see the module doc);
    the FHIR-reported biomarkers of the clinical rows are marked ``source`` = fhir."""
    for row in checked.clinical.tables.get("biomarkers", []):
        row.setdefault("source", "fhir")
    res = read_somatic_results(checked.bundle, checked.manifest, checked.contigs)
    report.warnings += res.warnings
    if res.files:
        checked.progress("results", res.files, res.files)
    tables: dict[str, pa.Table] = {
        name: rows_to_table(name, rows) for name, rows in res.tables.items() if rows
    }
    specimens: dict[str, dict[str, Any]] = {
        sid: {"analyses": sorted(kinds)} for sid, kinds in res.analyses.items()
    }
    for sid, purity in res.purity.items():
        specimens.setdefault(sid, {})["purity"] = purity
    return StageRows(tables, specimens=specimens)
