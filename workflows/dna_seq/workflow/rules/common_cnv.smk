# Issue 23 (cnv23): the input and target functions of rules/cnv.smk and
# rules/biomarkers.smk (Snakemake's lint wants functions apart from rules).


def callable_beds():
    return expand("results/callable/{patient}.callable.bed", patient=PATIENTS)


def sample_type(sample):
    """tumour or normal, from the sample sheet."""
    return samples.loc[sample, "type"]


def assay_regions(wildcards):
    """The assay's regions BED when the centre config gives one, else nothing."""
    return [config["regions"]] if config.get("regions") else []


def copy_number_tables():
    return expand(
        "results/cnv/{patient}.{table}.tsv",
        patient=PATIENTS,
        table=["segments", "genes"],
    )


def biomarker_files():
    return expand("results/biomarkers/{patient}.tmb_msi.json", patient=PATIENTS)
