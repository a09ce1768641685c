"""Hub side: a submission bundle → checked, linked lake rows → one atomic lake commit.

Everything is validated before anything becomes visible: checksums, manifest (metadata/),
consent (consent/) for every patient, the clinical resources and the VCF headers (build,
contigs, samples ↔ specimens ↔ patients) before the commit starts; the VCF records as they
stream into :meth:`harmonise.lake.Lake.commit` (memory bounded whatever the files' size),
whose data files are registered only after the last record was read and accepted, so a
refused record leaves the lake as it was. One commit, with the manifest digest as the
submission id: a re-ingest of the same bundle changes nothing, a corrected bundle for the
same dataset replaces the old rows.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from harmonise.bundle import MANIFEST, check_confined, verify_checksums
from harmonise.errors import (
    BundleError,
    ConsentMissingError,
    ConsentWithdrawnError,
    SampleLinkError,
)
from harmonise.fhir import ClinicalRows, map_resources, read_resources, validate_resource
from harmonise.journeys import default_rules
from harmonise.lake import CommitResult, Lake, Submission, TableRows
from harmonise.model import TABLES
from harmonise.pseudonymise import check_no_direct_identifiers
from harmonise.somatic_results import SomaticResults, read_somatic_results
from harmonise.vcf import (
    Engine,
    ReadStats,
    SampleRoles,
    VcfSource,
    check_reference,
    iter_many,
    read_header,
)

#: ``progress(stage, done, total)``: ``total`` None for an indeterminate step.
ProgressFn = Callable[[str, int, int | None], None]


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


@dataclass
class Prepared:
    """A validated submission, ready to commit (and to verify against)."""

    submission: Submission
    manifest: Any
    bundle: Path
    report: IngestReport
    vcf_files: list[tuple[str, SampleRoles, dict[str, str]]]


def _vcf_samples(manifest: Any) -> dict[str, Any]:
    return {(s.vcf_sample or s.specimen_id): s for s in manifest.samples}


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
    from consent.errors import ConsentError
    from consent.records import parse_consent
    from metadata.manifest import load_manifest, manifest_digest, manifest_json

    say = progress or (lambda _s, _d, _t: None)
    t0 = time.perf_counter()
    report = IngestReport(bundle=str(bundle))
    check_confined(bundle)  # nothing outside the bundle is read: refused before any byte
    if not (bundle / MANIFEST).is_file():
        raise BundleError(f"{bundle}: no {MANIFEST}; is this a submission bundle folder?")
    manifest = load_manifest(bundle / MANIFEST)
    say("checksums", 0, len(manifest.files))
    verify_checksums(bundle, manifest.files)
    say("checksums", len(manifest.files), len(manifest.files))
    digest = manifest_digest(manifest)
    report.dataset_id, report.submission_id = manifest.dataset_id, digest
    paths = [f.path for f in manifest.files]
    prov: dict[str, Any] = {}
    if "provenance/provenance.json" in paths:
        prov = json.loads((bundle / "provenance/provenance.json").read_text())

    # clinical + consent resources
    clinical = [r for p in paths if p.startswith("clinical/") for r in read_resources(bundle / p)]
    # a Consent is validated once, by consent.records.parse_consent (below), with the
    # consent module's messages; anything else in consent/ as any FHIR resource
    consents = [
        r for p in paths if p.startswith("consent/")
        for r in read_resources(bundle / p, validate=False)
    ]  # fmt: skip
    for where, res in consents:
        if res.get("resourceType") != "Consent":
            validate_resource(res, where)
    check_no_direct_identifiers(clinical + consents)
    say("clinical", len(clinical), len(clinical))
    sample_patients = {s.patient_id for s in manifest.samples}
    rows: ClinicalRows = map_resources(clinical, sample_patients)
    report.warnings += rows.warnings
    for code, n in sorted(rows.unmapped_codes.items()):
        report.warnings.append(f"diagnosis code {code} ({n}x) has no OncoTree mapping")
    patients = sample_patients | {r["patient_id"] for r in rows.tables.get("patients", [])}

    # consent: every patient needs an active, unwithdrawn consent
    records: dict[str, Any] = {}
    for where, res in consents:
        if res.get("resourceType") != "Consent":
            continue
        if isinstance(res.get("dateTime"), str) and len(res["dateTime"]) == 4:
            # consent/ wants a full date; the centre sent the year only (pseudonymised)
            res = {**res, "dateTime": f"{res['dateTime']}-01-01"}
        try:
            rec = parse_consent(res, where=where)
        except ConsentError as exc:
            raise ConsentMissingError(str(exc)) from None
        records[rec.patient_id] = rec
    withdrawn_set = set(withdrawn)
    for pid in sorted(patients):
        found = records.get(pid)
        if found is None:
            raise ConsentMissingError(
                f"{bundle}: patient {pid} has no Consent resource in consent/; add the "
                "patient's consent (FHIR Consent with DUO codes) or leave the patient out"
            )
        if found.status != "active":
            raise ConsentWithdrawnError(
                f"{bundle}: patient {pid}: consent {found.consent_id} has status {found.status!r} "
                "(only 'active' permits use); leave the patient out of the submission"
            )
        if pid in withdrawn_set:
            raise ConsentWithdrawnError(
                f"{bundle}: patient {pid} has withdrawn consent (withdrawal registry); leave "
                "the patient out of the submission"
            )
    unknown = sorted(set(records) - patients)
    if unknown:
        report.warnings.append(f"consent for {len(unknown)} patient(s) not in this submission")

    # specimens: manifest samples (sequenced) + FHIR Specimens; link checks
    specimens: dict[str, dict[str, Any]] = {}
    for s in manifest.samples:
        specimens[s.specimen_id] = {
            "patient_id": s.patient_id,
            "specimen_id": s.specimen_id,
            "role": s.role,
            "sample_type": s.sample_type,
            "collection_year": s.collection_year,
            "assay_type": s.assay.type,
            "assay_name": f"{s.assay.name}:{s.assay.version}",
            "covered_genes": list(s.assay.covered_genes) if s.assay.covered_genes else None,
            "vcf_sample": s.vcf_sample or s.specimen_id,
        }
    for row in rows.tables.get("specimens", []):
        have = specimens.get(row["specimen_id"])
        if have is None:
            specimens[row["specimen_id"]] = row
        elif have["patient_id"] != row["patient_id"]:
            raise SampleLinkError(
                f"specimen {row['specimen_id']}: the manifest links it to patient "
                f"{have['patient_id']} but the clinical Specimen to {row['patient_id']}"
            )
    rows.tables["specimens"] = list(specimens.values())

    # variants
    by_sample = _vcf_samples(manifest)
    vcf_files: list[tuple[str, SampleRoles, dict[str, str]]] = []
    vcf_paths = [f.path for f in manifest.files if f.format in ("format_3016", "format_3584")]
    fingerprint = manifest.pipeline.fingerprint if manifest.pipeline else None
    build = manifest.reference.build if manifest.reference else "GRCh38"
    contigs = (prov.get("reference") or {}).get("contigs")
    if isinstance(contigs, str):
        contigs = None
    sources: list[VcfSource] = []
    file_consts: list[dict[str, str | None]] = []
    for n, rel in enumerate(vcf_paths):
        path = bundle / rel
        header = read_header(path)
        if manifest.reference is not None:
            names = list(contigs) if isinstance(contigs, list) else None
            check_reference(header, build, manifest.reference.contig_naming, names)
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
        main = tumour or normal
        if main is None:
            raise SampleLinkError(f"{path}: the VCF has no sample column to link to a specimen")
        roles = SampleRoles(
            (tumour.vcf_sample or tumour.specimen_id)
            if tumour
            else (main.vcf_sample or main.specimen_id),
            (normal.vcf_sample or normal.specimen_id) if (tumour and normal) else None,
        )
        consts = {
            "patient_id": main.patient_id,
            "specimen_id": main.specimen_id,
            "normal_specimen_id": normal.specimen_id if (tumour and normal) else None,
            "genome_build": build,
            "origin": "somatic"
            if (tumour is not None and manifest.analysis == "somatic")
            else "germline",
            "source": "pipeline",
            "pipeline_fingerprint": fingerprint,
        }
        vcf_files.append((rel, roles, {k: v for k, v in consts.items() if v is not None}))
        naming = manifest.reference.contig_naming if manifest.reference else None
        sources.append(VcfSource(str(path), roles, header, naming))
        file_consts.append(consts)
        say("vcf headers", n + 1, len(vcf_paths))
    # the pipeline's results beyond small variants (issue 23), read and checked whole
    somatic = read_somatic_results(bundle, manifest, contigs if isinstance(contigs, list) else None)
    _add_somatic(rows.tables, specimens, vcf_files, somatic)
    tables: dict[str, TableRows] = {}
    for name, lst in rows.tables.items():
        if name == "variants" or not lst:
            continue
        tables[name] = _rows_to_table(name, lst)
    tables["consents"] = _rows_to_table(
        "consents", [records[p].to_row() for p in sorted(patients) if p in records]
    )
    report_variants = rows.tables.get("variants", [])
    if sources or report_variants:
        # streamed into the commit (memory bounded whatever the VCFs' size): every record
        # is validated as it is read, and a refused one aborts the commit before anything
        # is visible (see ``ingest``)
        tables["variants"] = _variant_rows(
            sources, file_consts, vcf_files, report_variants, build, engine,
            reference_fasta, report, say,
        )  # fmt: skip
    report.patients = len(patients)
    m = manifest
    dataset = {
        "centre_name": m.centre.name,
        "country": m.centre.country,
        "title": m.title,
        "data_types": list(m.data_types),
        "genome_build": m.reference.build if m.reference else None,
        "assays": sorted({f"{s.assay.type}:{s.assay.name}:{s.assay.version}" for s in m.samples}),
        "pipeline_id": m.pipeline.id if m.pipeline else None,
        "pipeline_version": m.pipeline.version if m.pipeline else None,
        "pipeline_fingerprint": fingerprint,
        "harmonised": m.pipeline.harmonised if m.pipeline else None,
        "duo_codes": list(m.duo_codes),
        "consent_form_version": m.consent_form_version,
        "embargo_until": m.embargo_until.isoformat() if m.embargo_until else None,
        "manifest_digest": digest,
        "manifest_json": manifest_json(m).decode(),
        "journey_rules": default_rules().to_json(),
    }
    tags = {
        "metadata_digest": digest,
        "duo_codes": list(m.duo_codes),
        "consent_version": m.consent_form_version,
    }
    sub = Submission(digest, m.dataset_id, m.centre.id, dataset, tables, tags)
    report.seconds = time.perf_counter() - t0
    return Prepared(sub, manifest, bundle, report, vcf_files)


def _add_somatic(
    tables: dict[str, list[dict[str, Any]]],
    specimens: Mapping[str, dict[str, Any]],
    vcf_files: Sequence[tuple[str, SampleRoles, dict[str, str]]],
    somatic: SomaticResults,
) -> None:
    """Add the result files' rows to ``tables`` (FHIR biomarkers marked ``fhir``) and say
    in each specimen's row which pipeline results the submission carries for it."""
    for row in tables.get("biomarkers", []):
        row.setdefault("source", "fhir")
    for name, lst in somatic.tables.items():
        tables.setdefault(name, []).extend(lst)
    analyses = {sid: set(kinds) for sid, kinds in somatic.analyses.items()}
    for _, _, consts in vcf_files:
        analyses.setdefault(consts["specimen_id"], set()).add("small_variants")
    for sid, kinds in analyses.items():
        if sid in specimens:
            specimens[sid]["analyses"] = sorted(kinds)
    for sid, purity in somatic.purity.items():
        if sid in specimens:
            specimens[sid]["purity"] = purity


def _variant_rows(
    sources: Sequence[VcfSource],
    consts: Sequence[Mapping[str, str | None]],
    vcf_files: Sequence[tuple[str, SampleRoles, dict[str, str]]],
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
    for (rel, _, _), st in zip(vcf_files, stats, strict=True):
        if st.skipped_symbolic or st.skipped_reference_only:
            report.warnings.append(
                f"{rel}: skipped {st.skipped_symbolic} symbolic/breakend allele(s) and "
                f"{st.skipped_reference_only} reference-only record(s)"
            )
    if report_variants:
        yield _rows_to_table("variants", report_variants)


def _rows_to_table(name: str, rows: Sequence[Mapping[str, Any]]) -> pa.Table:
    from pyiceberg.io.pyarrow import schema_to_pyarrow

    schema = schema_to_pyarrow(TABLES[name].schema)
    cols = sorted({k for r in rows for k in r})
    fields = [schema.field(c) for c in schema.names if c in cols]
    return pa.Table.from_pylist([dict(r) for r in rows], schema=pa.schema(fields))


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
    say = progress or (lambda _s, _d, _t: None)
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
