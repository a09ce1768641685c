import sys
from pathlib import Path

import pandas as pd
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

sys.path.insert(0, str(Path(workflow.basedir) / "scripts"))
import oncolake_dna_seq as dna  # noqa: E402

# Snakemake's scheduler arms a 1-s threading.Timer after every scheduling round while
# jobs wait for cores (its job-rate limiter), and each timer's round arms another: the
# rounds per second grow with every finished job, and the last non-daemon timer keeps
# the process alive for up to a second at exit -- in the main run and in every cluster
# job step. Keep at most one wake-up pending, as a daemon thread.
dna.tame_scheduler_timers()

# ---- the centre config: only sheets, paths, reference location and resources ----------

ANALYSIS = dna.load_analysis()
PARAMS = ANALYSIS["parameters"]
CONFIG_SCHEMA = Path(workflow.basedir) / "schemas" / "config.schema.yaml"
ALLOWED_KEYS = sorted(dna.yaml.safe_load(CONFIG_SCHEMA.read_text())["properties"])


def refuse_analysis_parameters(cfg):
    """Refuse config keys that are not in the centre schema, naming analysis ones."""
    analysis_keys = set(PARAMS) | {
        key for section in PARAMS.values() for key in section
    }
    for key in cfg:
        if key in ALLOWED_KEYS:
            continue
        if key in analysis_keys:
            raise ValueError(
                f"config key '{key}' is an analysis parameter: analysis parameters are "
                "fixed by the workflow (workflow/analysis.yaml) so that every centre's "
                "results are comparable; remove it from the centre config. "
                f"Allowed keys: {', '.join(ALLOWED_KEYS)}."
            )
        raise ValueError(
            f"config key '{key}' is not allowed in a centre config; allowed keys: "
            f"{', '.join(ALLOWED_KEYS)} (analysis parameters are fixed by the workflow)."
        )


refuse_analysis_parameters(config)
# `--config allow_tool_version_mismatch=true` arrives as a string.
for _flag in ("allow_tool_version_mismatch", "allow_identity_mismatch"):
    if isinstance(config.get(_flag), str):
        config[_flag] = config[_flag].lower() in {"true", "1", "yes"}
validate(config, schema="../schemas/config.schema.yaml")

THREADS = int(config["threads"])
MEM_MB = int(config["memory_mb"])


# ---- tool versions against the lock --------------------------------------------------

ALLOW_MISMATCH = bool(config["allow_tool_version_mismatch"])
try:
    TOOL_VERSIONS, HARMONISED, VERSION_MISMATCHES = dna.check_tools(ALLOW_MISMATCH)
except dna.ToolVersionMismatch as exc:
    raise WorkflowError(str(exc)) from None
if VERSION_MISMATCHES:
    logger.warning(
        "tool versions differ from the lock (results will be marked harmonised: "
        "false): " + "; ".join(VERSION_MISMATCHES)
    )

#: (step, tool) for every step; software_versions.yaml lists them with the version.
STEPS = [
    ("trim_reads_fastp", "fastp"),
    ("map_reads_bwa", "bwa"),
    ("map_reads_bwa", "samtools"),
    ("mark_duplicates", "samtools"),
    ("stat_alignments", "samtools"),
    ("compute_coverage", "mosdepth"),
    ("call_germline", "bcftools"),
    ("pileup_tumour_normal", "bcftools"),
    ("call_somatic", "pysam"),
    ("normalise_calls", "bcftools"),
    ("annotate_consequences", "bcftools"),
    ("annotate_consequences", "htslib"),
    ("stat_variants", "bcftools"),
    ("call_structural_variants", "delly"),
    ("annotate_structural_variants", "pysam"),
    ("genotype_pair_identity", "bcftools"),
    ("compute_gene_coverage", "mosdepth"),
    ("query_somatic_allele_depths", "bcftools"),
    ("report_qc", "multiqc"),
    ("compute_callable_depth", "mosdepth"),
    ("call_copy_ratios_cnvkit", "cnvkit"),
    ("call_copy_ratios_cnvkit", "dnacopy"),
    ("score_msi", "pysam"),
    ("workflow", "snakemake"),
]


# ---- sample sheets -------------------------------------------------------------------


def read_sheet(path, schema, index):
    """Read a TSV sheet as strings and validate each row against its schema."""
    sheet = pd.read_csv(path, sep="\t", dtype=str, comment="#").fillna("")
    validate(sheet, schema=schema)
    return sheet.set_index(index, drop=False).sort_index()


samples = read_sheet(config["samples"], "../schemas/samples.schema.yaml", "sample_name")
units = read_sheet(
    config["units"], "../schemas/units.schema.yaml", ["sample_name", "unit_name"]
)


def check_sheets(samples, units):
    """Semantic checks a schema cannot express; each error names the column."""
    if samples["sample_name"].duplicated().any():
        dup = samples.loc[samples["sample_name"].duplicated(), "sample_name"].iloc[0]
        raise ValueError(f"samples.tsv column sample_name: '{dup}' appears twice")
    for patient, rows in samples.groupby("patient"):
        kinds = sorted(rows["type"])
        if kinds != ["normal", "tumour"]:
            raise ValueError(
                f"samples.tsv column type: patient '{patient}' needs exactly one "
                f"tumour and one normal sample, found {kinds}"
            )
    unknown = set(units["sample_name"]) - set(samples["sample_name"])
    if unknown:
        raise ValueError(
            f"units.tsv column sample_name: {sorted(unknown)} not in samples.tsv"
        )
    if units.index.duplicated().any():
        raise ValueError("units.tsv column unit_name: a (sample, unit) pair repeats")
    missing = set(samples["sample_name"]) - set(units["sample_name"])
    if missing:
        raise ValueError(
            f"units.tsv column sample_name: no sequencing unit for {sorted(missing)}"
        )


check_sheets(samples, units)

PATIENTS = sorted(samples["patient"].unique())


wildcard_constraints:
    sample="|".join(samples["sample_name"]),
    unit="|".join(sorted(set(units["unit_name"]))),
    patient="|".join(PATIENTS),
    kind="somatic|germline",


# ---- input functions -----------------------------------------------------------------


def sample_of(patient, kind):
    """The sample name of the patient's tumour or normal."""
    rows = samples[(samples["patient"] == patient) & (samples["type"] == kind)]
    return rows["sample_name"].iloc[0]


def get_fastqs(wildcards):
    """The two FASTQs of one sequencing unit."""
    unit = units.loc[(wildcards.sample, wildcards.unit)]
    return {"r1": unit["fq1"], "r2": unit["fq2"]}


def get_read_group(wildcards):
    """The bwa -R read group of one unit (ID sample.unit, SM sample)."""
    unit = units.loc[(wildcards.sample, wildcards.unit)]
    return (
        f"@RG\\tID:{wildcards.sample}.{wildcards.unit}\\tSM:{wildcards.sample}"
        f"\\tLB:{wildcards.sample}\\tPL:{unit['platform']}"
    )


def get_unit_bams(wildcards):
    """The sorted per-unit BAMs of one sample."""
    names = units.loc[wildcards.sample, "unit_name"]
    return expand(
        "results/alignments/bwa/{sample}.{unit}.bam",
        sample=wildcards.sample,
        unit=sorted(names),
    )


def get_pair_bams(wildcards):
    """Tumour then normal BAM (and indexes) of one patient."""
    tumour = sample_of(wildcards.patient, "tumour")
    normal = sample_of(wildcards.patient, "normal")
    return {
        "tumour": f"results/alignments/samtools/{tumour}.bam",
        "tumour_bai": f"results/alignments/samtools/{tumour}.bam.bai",
        "normal": f"results/alignments/samtools/{normal}.bam",
        "normal_bai": f"results/alignments/samtools/{normal}.bam.bai",
    }


def get_raw_calls(wildcards):
    """The unnormalised calls of one patient and kind."""
    if wildcards.kind == "somatic":
        return f"results/calls/somatic/{wildcards.patient}.somatic.vcf.gz"
    return f"results/calls/germline/{wildcards.patient}.germline.vcf.gz"


def get_regions_arg(wildcards):
    """mosdepth --by: the assay's regions when configured, else 1-kb windows."""
    return config.get("regions", "1000")


def all_fastqs():
    """Every input FASTQ, in sheet order (for the provenance checksums)."""
    return [p for fq in zip(units["fq1"], units["fq2"]) for p in fq]


# ---- targets, one small function per feature -----------------------------------------


def annotated_vcfs():
    return expand(
        "results/annotated/bcftools_csq/{patient}.{kind}.annotated.vcf.gz",
        patient=PATIENTS,
        kind=["somatic", "germline"],
    )


def structural_variant_vcfs():
    return expand(
        "results/annotated/sv/{patient}.sv.annotated.vcf.gz", patient=PATIENTS
    )


def qc_reports():
    return ["results/qc/multiqc/multiqc_report.html"]


def provenance_files():
    return [
        "results/provenance/provenance.json",
        "results/provenance/software_versions.yaml",
    ]
