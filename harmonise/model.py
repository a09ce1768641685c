"""The harmonised model: the lake tables' schemas, written down once.

Each field has a doc string saying its meaning, unit, coordinate base and source (mCODE
STU4 profile or VCF field). Coordinates follow the project's convention: ``pos`` is
1-based as in VCF; anything called ``start``/``end`` is 0-based half-open.

Every row of every table carries ``dataset_id``, ``centre_id`` and ``submission_id``;
``submission_id`` is what makes a multi-table submission atomic (see ``harmonise.lake``).

Partitioning and sort order (chosen for the catalogue's lookups across all centres):

* ``variants`` is partitioned by ``bucket(8, gene)``: a gene lookup ("BRAF …") reads one
  eighth of the variant files, while a submission of a few hundred variants writes at most
  eight files (identity on gene would write one file per gene per submission: thousands of
  tiny files). Within files rows are sorted by ``gene, protein_change, patient_id`` so
  that Parquet and Iceberg min/max statistics prune to the rows of one gene or one
  protein change after compaction.
* The clinical tables are small (one to a few rows per patient): unpartitioned, sorted
  by the column the catalogue filters on (``conditions`` by ``oncotree_code``,
  ``biomarkers`` by ``marker``, ``treatments`` by ``drug``) and then ``patient_id``, so
  compaction keeps them to a handful of files with tight statistics.
* ``datasets`` is the commit point; one row per visible submission, unpartitioned.
* The pipeline's somatic results beyond small variants (issue 23, CONTRACT23):

  - ``copy_number_genes`` (one row per gene a segment overlaps: ~20,000 per WGS/WES
    specimen, the largest of them) is partitioned like ``variants``, by ``bucket(8,
    gene)``, and sorted by ``gene, call, patient_id``: "ERBB2 amplification" reads one
    eighth of the files and, after compaction, only the row groups of ERBB2 rows; the
    calls of one gene are contiguous, so a ``call`` filter prunes inside the gene.
  - ``structural_variants`` holds tens of rows per specimen: unpartitioned (a bucket
    per submission would only make tiny files; Iceberg cannot partition on the list
    column ``fusion_genes`` that "NTRK1, any partner" reads), sorted by ``fusion,
    patient_id`` so that the few fusion rows sit together in a few row groups whose
    ``fusion`` statistics (min/max, null count) let a reader skip the rest; lookups by
    partner gene read ``fusion_genes``/``gene_a``/``gene_b`` (lists of HGNC symbols) from
    those few files, or the catalogue's index built from one scan.
  - ``copy_number_segments`` (tens to a few thousand rows per specimen) is
    unpartitioned, sorted by ``chrom, start`` so a region query prunes by statistics.
  - TMB and MSI are ``biomarkers`` rows with ``source`` = ``pipeline``.
* The pipeline's QC per specimen (issue 21): ``specimen_qc`` (one row per sequenced
  specimen: unpartitioned, sorted by ``specimen_id``) and ``gene_coverage`` (one row per
  specimen and gene, ~20,000 per WES specimen: partitioned and sorted like
  ``copy_number_genes``, so "mean coverage of BRAF" reads one eighth of the files).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pyiceberg.partitioning import UNPARTITIONED_PARTITION_SPEC, PartitionField, PartitionSpec
from pyiceberg.schema import Schema
from pyiceberg.table.sorting import UNSORTED_SORT_ORDER, SortField, SortOrder
from pyiceberg.transforms import BucketTransform, IdentityTransform
from pyiceberg.types import (
    BooleanType,
    DoubleType,
    IcebergType,
    IntegerType,
    ListType,
    LongType,
    NestedField,
    StringType,
    TimestamptzType,
)

NAMESPACE = "oncolake"

STR = StringType()
INT = IntegerType()
LONG = LongType()
DOUBLE = DoubleType()
BOOL = BooleanType()
TS = TimestamptzType()
STR_LIST = "list<string>"


@dataclass(frozen=True)
class Column:
    """One column of a lake table: name, type, required or not, and its documentation."""

    name: str
    type: IcebergType | str
    doc: str
    required: bool = False


@dataclass(frozen=True)
class TableDef:
    """A lake table: its columns, partition (column, bucket count) and sort columns."""

    name: str
    doc: str
    columns: tuple[Column, ...]
    bucket: tuple[str, int] | None = None
    sort: tuple[str, ...] = ()
    #: Top-level, non-nested columns whose value bounds the table's metadata does not keep
    #: (Iceberg metrics mode ``none``): nothing selects files by them, and their Parquet
    #: statistics cost a third of a commit's encoding (measured on 1M variant rows).
    no_bounds: tuple[str, ...] = ()
    _schema: list[Schema] = field(default_factory=list, compare=False, repr=False)

    @property
    def schema(self) -> Schema:
        """The Iceberg schema (field ids assigned in column order, lists after)."""
        if not self._schema:
            self._schema.append(_build_schema(self.columns))
        return self._schema[0]

    @property
    def column_names(self) -> list[str]:
        """The column names in schema order."""
        return [c.name for c in self.columns]

    def properties(self) -> dict[str, str]:
        """Iceberg table properties that follow from the definition (metrics modes)."""
        return {f"write.metadata.metrics.column.{c}": "none" for c in self.no_bounds}

    def partition_spec(self) -> PartitionSpec:
        """The table's partition spec."""
        if self.bucket is None:
            return UNPARTITIONED_PARTITION_SPEC
        col, n = self.bucket
        source = self.schema.find_field(col).field_id
        return PartitionSpec(
            PartitionField(
                source_id=source, field_id=1000, transform=BucketTransform(n), name=f"{col}_bucket"
            )
        )

    def sort_order(self) -> SortOrder:
        """The table's declared sort order (the writer sorts rows in this order)."""
        if not self.sort:
            return UNSORTED_SORT_ORDER
        return SortOrder(
            *[
                SortField(
                    source_id=self.schema.find_field(c).field_id, transform=IdentityTransform()
                )
                for c in self.sort
            ]
        )


def _build_schema(columns: tuple[Column, ...]) -> Schema:
    fields: list[NestedField] = []
    next_id = len(columns) + 1
    for i, col in enumerate(columns, start=1):
        typ: IcebergType
        if col.type == STR_LIST:
            typ = ListType(element_id=next_id, element_type=StringType(), element_required=False)
            next_id += 1
        else:
            assert not isinstance(col.type, str)
            typ = col.type
        fields.append(
            NestedField(
                field_id=i, name=col.name, field_type=typ, required=col.required, doc=col.doc
            )
        )
    return Schema(*fields)


# -- the columns every table carries -------------------------------------------------------

ROW_KEYS = (
    Column(
        "dataset_id", STR, "Dataset the row belongs to (submission manifest `dataset_id`).", True
    ),
    Column("centre_id", STR, "Contributing centre (submission manifest `centre.id`).", True),
    Column(
        "submission_id",
        STR,
        "Submission that wrote the row: the digest of its manifest. A row is visible only "
        "while the `datasets` table records this submission (the commit point).",
        True,
    ),
)


def _t(name: str, doc: str, *cols: Column, **kw: Any) -> TableDef:
    return TableDef(name=name, doc=doc, columns=ROW_KEYS + cols, **kw)


def _pid(source: str) -> Column:
    return Column(
        "patient_id",
        STR,
        f"Pseudonymous patient id: HMAC-SHA256 keyed by the centre, prefixed with the centre "
        f"id (made at the centre; source: {source}).",
        True,
    )


DATASETS = _t(
    "datasets",
    "One row per visible submission: the commit point and the dataset's mandatory tags.",
    Column("centre_name", STR, "Centre name (manifest `centre.name`)."),
    Column("country", STR, "Centre country, ISO 3166-1 alpha-2 (manifest `centre.country`)."),
    Column("title", STR, "Human-readable dataset title."),
    Column(
        "data_types",
        STR_LIST,
        "Data types present: variants, clinical, consent, qc, structural_variants, "
        "copy_number, biomarkers (pipeline TMB/MSI).",
    ),
    Column("genome_build", STR, "Reference genome build of the variants (GRCh37 or GRCh38)."),
    Column("assays", STR_LIST, "Assays of the sequenced specimens (`type:name:version`)."),
    Column("pipeline_id", STR, "Pipeline id (e.g. `oncolake/dna_seq`)."),
    Column("pipeline_version", STR, "Pipeline version."),
    Column(
        "pipeline_fingerprint",
        STR,
        "Digest of workflow code + tool versions + reference checksum + parameters "
        "(workflows/ provenance.json).",
    ),
    Column("harmonised", BOOL, "True when the pipeline ran with the locked tool versions."),
    Column("duo_codes", STR_LIST, "DUO CURIEs of the dataset's data-use conditions."),
    Column("consent_form_version", STR, "Version of the consent form the patients signed."),
    Column("embargo_until", STR, "ISO date before which the dataset is not released, or null."),
    Column("manifest_digest", STR, "SHA-256 of the canonical submission manifest JSON.", True),
    Column("manifest_json", STR, "The submission manifest (metadata/ model) as JSON."),
    Column("tags_json", STR, "The dataset's mandatory tags (canonical JSON) as signed in files."),
    Column("tags_signature", STR, "HMAC-SHA256 of `tags_json` with the hub's tag key."),
    Column("row_counts_json", STR, "Rows written per table by this submission (JSON)."),
    Column("committed_at", TS, "When the submission became visible (UTC).", True),
    Column(
        "journey_rules",
        STR,
        "The journey rules (version and every parameter, JSON) that derived the "
        "submission's regimens and lines of therapy.",
    ),
)

PATIENTS = _t(
    "patients",
    "One row per patient (mCODE CancerPatient).",
    _pid("mCODE CancerPatient Patient.id"),
    Column("sex", STR, "Administrative gender: female, male, other, unknown (Patient.gender)."),
    Column("birth_year", INT, "Year of birth only (Patient.birthDate reduced at the centre)."),
    Column("deceased", BOOL, "True if the patient died (Patient.deceased[x])."),
    Column("death_year", INT, "Year of death (Patient.deceasedDateTime reduced to year)."),
    Column(
        "anchor",
        STR,
        "What day 0 is: primary_diagnosis (earliest primary cancer diagnosis), first_record "
        "(no dated primary diagnosis: the patient's earliest dated fact) or null (no date).",
    ),
    Column("anchor_year", INT, "Year of the anchor date."),
    Column("death_day", INT, "Day of death from the anchor (Patient.deceasedDateTime)."),
    Column(
        "last_known_alive_day",
        INT,
        "Latest day (from the anchor) of any dated fact of the patient, not after death: "
        "the censoring day of a living patient.",
    ),
)

CONDITIONS = _t(
    "conditions",
    "Cancer diagnoses (mCODE PrimaryCancerCondition / SecondaryCancerCondition) with stage.",
    _pid("Condition.subject"),
    Column("condition_id", STR, "Pseudonymous id of the Condition resource.", True),
    Column("kind", STR, "primary or secondary (mCODE profile of the Condition)."),
    Column("code", STR, "Diagnosis code as given (Condition.code.coding.code)."),
    Column("code_system", STR, "Code system URI (SNOMED CT, ICD-10-CM, ICD-O-3 …)."),
    Column("display", STR, "Display text of the code."),
    Column("histology_code", STR, "Histology/morphology (ICD-O-3 / SNOMED, mCODE extension)."),
    Column("body_site", STR, "Body site code (Condition.bodySite, SNOMED CT)."),
    Column("oncotree_code", STR, "Harmonised tumour type, OncoTree code (2025-10-03 release)."),
    Column("oncotree_tissue", STR, "OncoTree top-level tissue of `oncotree_code`."),
    Column("diagnosis_year", INT, "Year of diagnosis (Condition.onset/recordedDate, year)."),
    Column("age_at_diagnosis", INT, "Age in whole years at diagnosis (derived at the centre)."),
    Column("stage_group", STR, "TNM stage group code (mCODE TNMStageGroup Observation)."),
    Column("stage_group_display", STR, "TNM stage group display, e.g. `Stage IIIA`."),
    Column("t_category", STR, "TNM T category (mCODE TNMPrimaryTumorCategory)."),
    Column("n_category", STR, "TNM N category (mCODE TNMRegionalNodesCategory)."),
    Column("m_category", STR, "TNM M category (mCODE TNMDistantMetastasesCategory)."),
    Column("diagnosis_day", INT, "Day of diagnosis from the anchor (Condition.onset/recorded)."),
    Column("stage_day", INT, "Day of the TNM stage group observation from the anchor."),
    sort=("oncotree_code", "patient_id"),
)

SPECIMENS = _t(
    "specimens",
    "Specimens: sequenced tumour/normal samples and other specimens (FHIR Specimen).",
    _pid("Specimen.subject"),
    Column("specimen_id", STR, "Pseudonymous specimen id (HMAC at the centre).", True),
    Column("role", STR, "tumour or normal (manifest sample role)."),
    Column("sample_type", STR, "FFPE, fresh_frozen, blood, … (manifest / Specimen.type)."),
    Column("collection_year", INT, "Year of collection (Specimen.collection, year only)."),
    Column("assay_type", STR, "WGS, WES or panel (manifest assay)."),
    Column("assay_name", STR, "Assay name and version, e.g. `TSO500:1.0`."),
    Column(
        "covered_genes",
        STR_LIST,
        "HGNC symbols the assay covers; null means genome-wide (WGS/WES). Denominator of "
        "coverage-aware counts.",
    ),
    Column("vcf_sample", STR, "Sample column name in the source VCF, if sequenced."),
    Column("collection_day", INT, "Day of collection from the anchor (Specimen.collection)."),
    Column(
        "analyses",
        STR_LIST,
        "Pipeline results the submission carries for this specimen, even when they hold no "
        "call: small_variants, structural_variants, copy_number, tmb, msi, qc (the denominator "
        "of counts over those results); null for specimens without pipeline results and "
        "for rows written before the column existed.",
    ),
    Column(
        "purity",
        DOUBLE,
        "Tumour purity 0–1 estimated by the pipeline (tmb_msi.json `purity`), or null.",
    ),
)

VARIANTS = _t(
    "variants",
    "Variants, normalised (left-aligned, biallelic): pipeline VCFs and mCODE GenomicVariant.",
    _pid("linked through the specimen"),
    Column("specimen_id", STR, "Tumour (or germline) specimen the variant was called in."),
    Column("normal_specimen_id", STR, "Matched normal specimen for somatic calls, or null."),
    Column("genome_build", STR, "GRCh37 or GRCh38.", True),
    Column("chrom", STR, "Contig name as in the VCF header (VCF CHROM).", True),
    Column("pos", LONG, "1-based position of the first REF base (VCF POS).", True),
    Column("ref", STR, "Reference allele (VCF REF, normalised).", True),
    Column("alt", STR, "Alternate allele, one per row (VCF ALT, split).", True),
    Column("variant_key", STR, "`build:chrom:pos:ref:alt`, the normalised identity."),
    Column("origin", STR, "somatic or germline."),
    Column("source", STR, "pipeline (VCF) or report (mCODE GenomicVariant)."),
    Column("filter", STR, "VCF FILTER (`PASS` or `;`-joined filter names)."),
    Column("qual", DOUBLE, "VCF QUAL (phred), or null."),
    Column("genotype", STR, "Tumour genotype as `0/1`, `1/1` … (VCF FORMAT/GT)."),
    Column("depth", INT, "Tumour read depth (FORMAT/DP, or sum of FORMAT/AD)."),
    Column("alt_depth", INT, "Tumour reads supporting ALT (FORMAT/AD[alt])."),
    Column("vaf", DOUBLE, "Tumour variant allele fraction, 0–1 (alt_depth / depth)."),
    Column("normal_depth", INT, "Normal read depth (FORMAT/DP of the normal sample)."),
    Column("normal_alt_depth", INT, "Normal reads supporting ALT."),
    Column("normal_vaf", DOUBLE, "Normal variant allele fraction, 0–1."),
    Column("gene", STR, "HGNC gene symbol (BCSQ/CSQ/ANN gene, or report gene-studied)."),
    Column("transcript", STR, "Transcript id of the chosen consequence (Ensembl/RefSeq)."),
    Column("consequence", STR, "Sequence Ontology consequence term, e.g. missense_variant."),
    Column("variant_class", STR, "SNV, MNV, insertion, deletion, indel."),
    Column("hgvs_c", STR, "HGVS coding change, e.g. `c.1799T>A`."),
    Column("hgvs_p", STR, "HGVS protein change, three-letter, e.g. `p.Val600Glu`."),
    Column("protein_change", STR, "Short protein change, one-letter, e.g. `V600E`."),
    Column("annotation_source", STR, "BCSQ, CSQ, ANN or report."),
    Column("pipeline_fingerprint", STR, "Fingerprint of the pipeline that called it."),
    bucket=("gene", 8),
    sort=("gene", "protein_change", "patient_id"),
    no_bounds=(
        "ref",
        "alt",
        "variant_key",
        "filter",
        "qual",
        "genotype",
        "depth",
        "alt_depth",
        "vaf",
        "normal_depth",
        "normal_alt_depth",
        "normal_vaf",
        "transcript",
        "hgvs_c",
        "hgvs_p",
        "annotation_source",
    ),
)

BIOMARKERS = _t(
    "biomarkers",
    "Tumour markers: reported in FHIR (mCODE TumorMarkerTest: HER2, ER, PR, PD-L1, MSI, "
    "TMB …) and computed by the pipeline (TMB, MSI: `source` = pipeline).",
    _pid("Observation.subject, or the pipeline sample's patient"),
    Column(
        "marker",
        STR,
        "Harmonised marker name: HER2, ER, PR, PD-L1, MSI, TMB, … (pipeline rows: TMB, MSI).",
    ),
    Column("code", STR, "Observation code (LOINC; pipeline TMB 94076-7, MSI 81695-9)."),
    Column("code_system", STR, "Code system URI of `code`."),
    Column(
        "value_code",
        STR,
        "Coded result (e.g. SNOMED/LOINC answer code; pipeline MSI: LA26203-2 MSI-H, "
        "LA26204-0 MSS).",
    ),
    Column("value_display", STR, "Result display text (pipeline MSI: `MSI-H` or `MSS`)."),
    Column(
        "value_numeric",
        DOUBLE,
        "Numeric result: TMB in mutations per megabase (FHIR and pipeline), pipeline MSI "
        "score in percent of unstable loci.",
    ),
    Column(
        "unit",
        STR,
        "UCUM unit of `value_numeric` as given (pipeline TMB: `1/1000000`, per million "
        "bases, as the HL7 Genomics Reporting TMB example; pipeline MSI: `%`).",
    ),
    Column(
        "interpretation",
        STR,
        "positive, negative, high, low, equivocal, or null. Pipeline TMB: high at or above "
        "10 mutations/Mb (FDA 2020 threshold), else low; pipeline MSI: high (MSI-H) or "
        "negative (MSS).",
    ),
    Column("year", INT, "Year of the observation (effective[x])."),
    Column("day", INT, "Day of the observation from the anchor (effective[x], else issued)."),
    Column(
        "source",
        STR,
        "fhir (reported in the clinical export) or pipeline (computed from the sequencing "
        "by the submission's pipeline, results/biomarkers/*.tmb_msi.json). Null on rows "
        "written before the column existed: read it as fhir (`coalesce(source, 'fhir')`).",
    ),
    Column("specimen_id", STR, "Tumour specimen the pipeline computed the marker on, or null."),
    Column(
        "details_json",
        STR,
        "Pipeline rows: the result's record as JSON (TMB: mutations, callable_mb, counted "
        "classes, rule; MSI: loci_evaluated, loci_unstable, threshold_percent).",
    ),
    sort=("marker", "patient_id"),
)

_SPECIMEN_COLS = (
    _pid("linked through the specimen (manifest sample)"),
    Column("specimen_id", STR, "Tumour specimen the result was computed on.", True),
    Column("normal_specimen_id", STR, "Matched normal specimen, or null (tumour-only)."),
    Column("genome_build", STR, "GRCh37 or GRCh38 (manifest reference.build).", True),
)

STRUCTURAL_VARIANTS = _t(
    "structural_variants",
    "Somatic structural variants and gene fusions: the pipeline's SV VCF "
    "(structural/<name>.vcf.gz: delly, `delly filter -f somatic`), one row per record; "
    "a BND pair linked by MATEID is one row (its first record).",
    *_SPECIMEN_COLS,
    Column("sv_id", STR, "VCF ID of the record (e.g. delly's `BND00000001`), or null."),
    Column(
        "sv_type",
        STR,
        "DEL, DUP, INV, INS or BND (INFO/SVTYPE; `<DUP:TANDEM>` and other subtypes are kept "
        "as their base type).",
        True,
    ),
    Column("chrom", STR, "Contig of the first breakpoint (VCF CHROM).", True),
    Column("pos", LONG, "1-based position of the first breakpoint (VCF POS).", True),
    Column(
        "chrom2",
        STR,
        "Contig of the second breakpoint: the BND mate's (ALT bracket notation or INFO/CHR2), "
        "else CHROM.",
        True,
    ),
    Column(
        "pos2",
        LONG,
        "1-based position of the second breakpoint: the BND mate's (ALT or INFO/POS2); "
        "INFO/END for DEL/DUP/INV (the last base of the event); INS: INFO/END or POS.",
        True,
    ),
    Column("sv_length", LONG, "END − POS for DEL/DUP/INV; INFO/SVLEN for INS; null for BND."),
    Column(
        "connection",
        STR,
        "Junction orientation, delly INFO/CT: 3to5, 5to3, 3to3, 5to5 (NtoN for INS).",
    ),
    Column("gene_a", STR_LIST, "HGNC symbols of genes at the first breakpoint (INFO/GENE_A)."),
    Column("gene_b", STR_LIST, "HGNC symbols of genes at the second breakpoint (INFO/GENE_B)."),
    Column(
        "fusion",
        STR,
        "Gene fusion `5PRIME::3PRIME` in HGNC notation (e.g. `ETV6::NTRK3`, INFO/FUSION), "
        "where the junction is transcript-compatible (the pipeline's rule); else null.",
    ),
    Column(
        "fusion_genes",
        STR_LIST,
        "Both partners of `fusion` (5' then 3'), for \"NTRK1, any partner\"; null if none.",
    ),
    Column("filter", STR, "VCF FILTER (`PASS`, or delly's `LowQual` …); count PASS rows."),
    Column("qual", DOUBLE, "VCF QUAL, or null."),
    Column("pe", INT, "Paired-end reads supporting the junction (INFO/PE)."),
    Column("sr", INT, "Split reads supporting the junction (INFO/SR)."),
    Column("caller", STR, "Caller and version (INFO/SVMETHOD, e.g. `EMBL.DELLYv1.1.6`)."),
    Column("pipeline_fingerprint", STR, "Fingerprint of the pipeline that called it."),
    sort=("fusion", "patient_id"),
    no_bounds=("sv_id", "qual", "pe", "sr", "connection", "caller", "sv_length"),
)

COPY_NUMBER_GENES = _t(
    "copy_number_genes",
    "Gene-level copy-number calls: the pipeline's copy_number/<name>.genes.tsv (CNVkit), "
    "one row per gene of the workflow's GFF3 that a segment overlaps.",
    *_SPECIMEN_COLS,
    Column("gene", STR, "HGNC gene symbol (GFF3 gene name).", True),
    Column("chrom", STR, "Contig of the gene.", True),
    Column("start", LONG, "0-based start of the gene (half-open).", True),
    Column("end", LONG, "0-based exclusive end of the gene (half-open).", True),
    Column("log2", DOUBLE, "log2 tumour/normal copy ratio of the gene's segment(s)."),
    Column("copy_number", DOUBLE, "Absolute copy number after purity adjustment."),
    Column(
        "call",
        STR,
        "amplification, gain, neutral, loss or deep_deletion (thresholds in the workflow's "
        "analysis.yaml); neutral rows are kept: they say the gene was assessed.",
        True,
    ),
    Column("pipeline_fingerprint", STR, "Fingerprint of the pipeline that called it."),
    bucket=("gene", 8),
    sort=("gene", "call", "patient_id"),
    no_bounds=("log2", "copy_number"),
)

COPY_NUMBER_SEGMENTS = _t(
    "copy_number_segments",
    "Copy-number segments: the pipeline's copy_number/<name>.segments.tsv (CNVkit).",
    *_SPECIMEN_COLS,
    Column("chrom", STR, "Contig of the segment.", True),
    Column("start", LONG, "0-based start (half-open).", True),
    Column("end", LONG, "0-based exclusive end (half-open).", True),
    Column("log2", DOUBLE, "log2 tumour/normal copy ratio."),
    Column("copy_number", DOUBLE, "Absolute copy number after purity adjustment."),
    Column("probes", INT, "Bins (CNVkit probes) the segment spans."),
    Column("pipeline_fingerprint", STR, "Fingerprint of the pipeline that called it."),
    sort=("chrom", "start", "patient_id"),
    no_bounds=("log2", "copy_number", "probes"),
)

SPECIMEN_QC = _t(
    "specimen_qc",
    "Sequencing QC of each submitted tumour and normal specimen as the pipeline measured "
    "it (the bundle's provenance/provenance.json `qc`, workflows/dna_seq): one row per "
    "specimen; the pair's identity verdict and tumour-in-normal estimate on both rows.",
    _pid("linked through the specimen (manifest sample)"),
    Column("specimen_id", STR, "The sequenced specimen.", True),
    Column("role", STR, "tumour or normal.", True),
    Column("paired_specimen_id", STR, "The other specimen of its tumour/normal pair."),
    Column("reads", LONG, "Reads (samtools stats raw total sequences)."),
    Column("duplication_rate", DOUBLE, "Duplicate share of the examined reads (samtools markdup)."),
    Column("mapped_rate", DOUBLE, "Mapped share of the reads (samtools stats)."),
    Column("insert_size_mean", DOUBLE, "Mean insert size, bp (samtools stats)."),
    Column("insert_size_sd", DOUBLE, "Insert size standard deviation, bp (samtools stats)."),
    Column("mean_coverage", DOUBLE, "Mean depth over the assay's regions (mosdepth)."),
    Column(
        "identity_status",
        STR,
        "match, mismatch or insufficient: whether tumour and normal look like one person "
        "(allele presence at the normal's germline SNVs); mismatch only when the centre "
        "allowed it, and the dataset is then not harmonised.",
    ),
    Column("identity_discordance", DOUBLE, "Share of the compared germline sites discordant."),
    Column("identity_sites", INT, "Germline sites compared."),
    Column(
        "tumour_in_normal",
        DOUBLE,
        "Estimated share of the normal's reads that come from the tumour (ML over the PASS "
        "somatic SNVs), or null when too few SNVs allow it.",
    ),
    Column("pipeline_fingerprint", STR, "Fingerprint of the pipeline that measured it."),
    sort=("specimen_id",),
)

GENE_COVERAGE = _t(
    "gene_coverage",
    "Per-gene coverage of each submitted specimen (provenance.json `qc` `genes`): mosdepth "
    "over each GFF3 gene's exons inside the assay's regions; one row per specimen and gene.",
    _pid("linked through the specimen (manifest sample)"),
    Column("specimen_id", STR, "The sequenced specimen.", True),
    Column("role", STR, "tumour or normal.", True),
    Column("gene", STR, "Gene symbol (GFF3 gene name).", True),
    Column("bp", LONG, "Bases of the gene measured (its exons in the assay's regions)."),
    Column("mean_depth", DOUBLE, "Mean depth over those bases (reads with MAPQ >= 20).", True),
    Column("fraction_20x", DOUBLE, "Share of those bases at depth >= 20 (null: not measured)."),
    Column("fraction_50x", DOUBLE, "Share of those bases at depth >= 50 (null: not measured)."),
    Column("fraction_100x", DOUBLE, "Share of those bases at depth >= 100 (null: not measured)."),
    Column("pipeline_fingerprint", STR, "Fingerprint of the pipeline that measured it."),
    bucket=("gene", 8),
    sort=("gene", "patient_id"),
    no_bounds=("bp", "fraction_20x", "fraction_50x", "fraction_100x"),
)

TREATMENTS = _t(
    "treatments",
    "Treatments: cancer-related medications, surgical procedures and radiotherapy.",
    _pid("MedicationRequest/Administration/Procedure.subject"),
    Column("kind", STR, "medication, surgery or radiotherapy."),
    Column("code", STR, "Medication (RxNorm/ATC) or procedure (SNOMED) code."),
    Column("code_system", STR, "Code system URI of `code`."),
    Column("display", STR, "Display text of the code."),
    Column("drug", STR, "Harmonised drug name (lower case), medications only."),
    Column("line_of_therapy", INT, "Line of systemic therapy (1 = first), where derivable."),
    Column("start_year", INT, "Year the treatment started."),
    Column("end_year", INT, "Year the treatment ended."),
    Column("intent", STR, "curative, palliative … (mCODE ProcedureIntent / treatmentIntent)."),
    Column("status", STR, "FHIR status of the resource."),
    Column(
        "start_day",
        INT,
        "Start, days from the anchor (dosage timing bounds, effective[x], authoredOn; "
        "Procedure.performed[x]).",
    ),
    Column("end_day", INT, "End, days from the anchor (bounds/effective/performed period end)."),
    Column("drug_class", STR, "Harmonised drug class (harmonise/data/drugs.tsv), or null."),
    Column("drug_mapped", BOOL, "True when the medication's code or name is in drugs.tsv."),
    sort=("drug", "patient_id"),
)

OUTCOMES = _t(
    "outcomes",
    "Outcomes: disease status (mCODE CancerDiseaseStatus) and death.",
    _pid("Observation.subject / Patient.deceased"),
    Column("kind", STR, "disease_status or death."),
    Column("code", STR, "Value code (SNOMED) of the disease status."),
    Column("display", STR, "Value display, e.g. `Patient's condition improved`."),
    Column("year", INT, "Year of the observation or of death."),
    Column(
        "days_from_diagnosis",
        INT,
        "Days from the patient's anchor (earliest primary diagnosis), where both are known.",
    ),
    Column(
        "status",
        STR,
        "Harmonised disease status: progression, stable, improved, remission, undetermined; "
        "death for death rows.",
    ),
)

REGIMENS = _t(
    "regimens",
    "Drug combination periods within a line of therapy, derived at ingest by the journey "
    "rules (harmonise/data/journey_rules.json).",
    _pid("derived from the patient's medications"),
    Column("regimen_id", STR, "`<patient_id>/L<line>R<n>`, n 1-based within the line.", True),
    Column("drugs", STR_LIST, "Sorted harmonised drug names given together in the period."),
    Column("regimen_name", STR, "Name in harmonise/data/regimens.tsv (e.g. FOLFOX), or null."),
    Column("start_day", INT, "First day of the period, days from the anchor."),
    Column("end_day", INT, "Last day of the period, days from the anchor."),
    Column("line", INT, "Line of therapy the regimen belongs to (1-based)."),
    Column("rules_version", STR, "Version of the journey rules that derived the row."),
    sort=("regimen_name", "patient_id"),
)

LINES_OF_THERAPY = _t(
    "lines_of_therapy",
    "Lines of systemic therapy per patient, derived at ingest by the journey rules.",
    _pid("derived from the patient's medications"),
    Column("line", INT, "Line number, 1-based.", True),
    Column("drugs", STR_LIST, "Sorted drug names started in the line's regimen window."),
    Column("regimen_name", STR, "Regimen library name of `drugs`, or null."),
    Column("start_day", INT, "Day of the line's first drug, days from the anchor."),
    Column("end_day", INT, "Last day of any drug of the line, days from the anchor."),
    Column("end_reason", STR, "next_line, progression, death, ongoing or last_contact."),
    Column("next_line_start_day", INT, "Start day of the next line, or null."),
    Column("rules_version", STR, "Version of the journey rules that derived the row."),
    sort=("regimen_name", "patient_id"),
)

CONSENTS = _t(
    "consents",
    "Harmonised consent per patient: a FHIR R4 Consent whose provisions carry DUO codes.",
    _pid("Consent.patient"),
    Column("consent_id", STR, "Pseudonymous id of the Consent resource.", True),
    Column("status", STR, "FHIR Consent.status: active, inactive, rejected …"),
    Column("form_version", STR, "Consent form version (Consent.policy / identifier)."),
    Column("year", INT, "Year the consent was given (Consent.dateTime, year only)."),
    Column("scope", STR_LIST, "What the consent covers: genomic, clinical."),
    Column("permissions", STR_LIST, "DUO permission CURIEs (GRU, HMB, DS …)."),
    Column("modifiers", STR_LIST, "DUO modifier CURIEs (NPU, PUB, COL, IRB …)."),
    Column("disease_codes", STR_LIST, "Disease codes restricting DS consent (OncoTree / MONDO)."),
    Column("consent_json", STR, "The harmonised FHIR Consent resource (JSON)."),
)

TABLES: dict[str, TableDef] = {
    t.name: t
    for t in (
        DATASETS,
        PATIENTS,
        CONDITIONS,
        SPECIMENS,
        VARIANTS,
        BIOMARKERS,
        TREATMENTS,
        OUTCOMES,
        CONSENTS,
        REGIMENS,
        LINES_OF_THERAPY,
        STRUCTURAL_VARIANTS,
        COPY_NUMBER_GENES,
        COPY_NUMBER_SEGMENTS,
        SPECIMEN_QC,
        GENE_COVERAGE,
    )
}

#: Tables of the pipeline's somatic results beyond small variants (issue 23) and of its
#: per-specimen QC (issue 21): what a genomic-scope withdrawal removes besides ``variants``.
GENOMIC_RESULT_TABLES: tuple[str, ...] = (
    "structural_variants",
    "copy_number_genes",
    "copy_number_segments",
    "specimen_qc",
    "gene_coverage",
)

#: Tables a submission writes rows to (``datasets`` is written last, as the commit point).
DATA_TABLES: tuple[str, ...] = tuple(n for n in TABLES if n != "datasets")


# -- Vocabularies: the values the variant columns may hold ----------------------------------
# Written once here; the VCF reader fills the columns from them and the catalogue checks
# criteria against them.

#: Sequence Ontology consequence terms in order of severity (most severe first), used to
#: choose one consequence per record. Terms absent from this list rank after all of it.
CONSEQUENCE_SEVERITY: tuple[str, ...] = (
    "transcript_ablation", "splice_acceptor_variant", "splice_donor_variant", "stop_gained",
    "frameshift_variant", "stop_lost", "start_lost", "inframe_insertion", "inframe_deletion",
    "missense_variant", "protein_altering_variant", "splice_region_variant",
    "incomplete_terminal_codon_variant", "start_retained_variant", "stop_retained_variant",
    "synonymous_variant", "coding_sequence_variant", "5_prime_UTR_variant",
    "3_prime_UTR_variant", "non_coding_transcript_exon_variant", "intron_variant",
    "non_coding_transcript_variant", "upstream_gene_variant", "downstream_gene_variant",
    "intergenic_variant",
)  # fmt: skip

#: bcftools csq consequence names → Sequence Ontology terms.
BCSQ_SO: dict[str, str] = {
    "missense": "missense_variant", "synonymous": "synonymous_variant",
    "stop_gained": "stop_gained", "stop_lost": "stop_lost", "start_lost": "start_lost",
    "frameshift": "frameshift_variant", "inframe_deletion": "inframe_deletion",
    "inframe_insertion": "inframe_insertion", "inframe_altering": "protein_altering_variant",
    "splice_acceptor": "splice_acceptor_variant", "splice_donor": "splice_donor_variant",
    "splice_region": "splice_region_variant", "stop_retained": "stop_retained_variant",
    "start_retained": "start_retained_variant", "5_prime_utr": "5_prime_UTR_variant",
    "3_prime_utr": "3_prime_UTR_variant", "intron": "intron_variant",
    "non_coding": "non_coding_transcript_variant", "coding_sequence": "coding_sequence_variant",
    "intergenic": "intergenic_variant", "feature_elongation": "feature_elongation",
}  # fmt: skip

#: Every consequence term the lake holds and a criterion may name: the ranked terms, the
#: bcftools csq terms, and the VEP/snpEff terms that are stored but not ranked.
CONSEQUENCES: frozenset[str] = frozenset(
    (*CONSEQUENCE_SEVERITY, *BCSQ_SO.values(), "transcript_amplification",
     "regulatory_region_variant")
)  # fmt: skip

#: Small-variant classes, from the alleles' lengths (see ``harmonise.vcf``).
VARIANT_CLASSES: tuple[str, ...] = ("SNV", "MNV", "insertion", "deletion", "indel")

#: SNOMED CT concepts of the AJCC/TNM stage groups → the group (the concepts of SNOMED CT's
#: "American Joint Committee on Cancer stage …" qualifier values, as the CanShare NZ value
#: set ``canshare-tnm-pathological-stage-group`` lists them; the ones the demo writes are
#: checked in tests/oncolake/test_demo_stage_codes.py). One table for the lake's readers:
#: the journeys' metastatic index (``harmonise.journeys.stage_group``) and the
#: catalogue's stage labels and criteria.
STAGE_SNOMED: dict[str, str] = {
    "1222605001": "0", "1222721004": "0A", "1222722006": "0IS", "1222723001": "I",
    "1222724007": "IA", "1222725008": "IA1", "1222726009": "IA2", "1222727000": "IA3",
    "1222728005": "IB", "1222729002": "IB1", "1222730007": "IB2", "1222731006": "IC",
    "1222765007": "II", "1222766008": "IIA", "1222767004": "IIA1", "1222768009": "IIA2",
    "1222769001": "IIB", "1222770000": "IIC", "1222801008": "III", "1222802001": "IIIA",
    "1222803006": "IIIA1", "1222804000": "IIIA2", "1222805004": "IIIB", "1222806003": "IIIC",
    "1222807007": "IIIC1", "1222809005": "IIIC2", "1222811001": "IIID", "1222733009": "IS",
    "1222837003": "IV", "1222838008": "IVA", "1222841004": "IVB", "1222842006": "IVC",
}  # fmt: skip
