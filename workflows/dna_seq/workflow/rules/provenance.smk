# Small bookkeeping jobs: run them on the submitting host, not through a scheduler, and
# as `run:` blocks inside the workflow's own process (a `script:` would start a fresh
# interpreter and import Snakemake for each of them). The code is in
# scripts/oncolake_dna_seq.py, which is part of the fingerprinted workflow code.
localrules:
    record_software_versions,
    compute_fingerprint,
    write_provenance,
    check_pair_identity,
    estimate_contamination,


rule record_software_versions:
    output:
        versions="results/provenance/software_versions.yaml",
        mqc="results/qc/software_versions_mqc_versions.yml",
    log:
        "logs/provenance/record_software_versions.log",
    params:
        steps=STEPS,
        tool_versions=TOOL_VERSIONS,
        harmonised=HARMONISED,
    run:
        dna.job_record_software_versions(output, params, log)


rule compute_fingerprint:
    input:
        ref="resources/reference/genome.fa",
        gff="resources/reference/annotation.gff3",
    output:
        json="results/provenance/fingerprint.json",
        header="results/provenance/vcf_header.txt",
    log:
        "logs/provenance/compute_fingerprint.log",
    params:
        analysis=ANALYSIS,
        # A parameter, so that any change to the workflow code re-runs this rule.
        code_digest=dna.workflow_code_digest(),
        tool_versions=TOOL_VERSIONS,
        harmonised=HARMONISED,
        mismatches=VERSION_MISMATCHES,
        build=config["reference"]["build"],
    run:
        dna.job_compute_fingerprint(input, output, params, log)


rule write_provenance:
    input:
        fingerprint="results/provenance/fingerprint.json",
        versions="results/provenance/software_versions.yaml",
        vcfs=annotated_vcfs() + structural_variant_vcfs(),
        cnv23=callable_beds() + copy_number_tables() + biomarker_files(),
        fastqs=all_fastqs(),
        fasta=config["reference"]["fasta"],
        gff3=config["reference"]["gff3"],
        identity=expand("results/qc/identity/{patient}.identity.json", patient=PATIENTS),
        contamination=expand(
            "results/qc/contamination/{patient}.contamination.json", patient=PATIENTS
        ),
        gene_regions=expand(
            "results/qc/mosdepth_genes/{sample}.regions.bed.gz",
            sample=samples["sample_name"],
        ),
        gene_thresholds=expand(
            "results/qc/mosdepth_genes/{sample}.thresholds.bed.gz",
            sample=samples["sample_name"],
        ),
        markdup=expand(
            "results/qc/samtools/{sample}.markdup.txt", sample=samples["sample_name"]
        ),
        flagstat=expand(
            "results/qc/samtools/{sample}.flagstat.txt", sample=samples["sample_name"]
        ),
        stats=expand(
            "results/qc/samtools/{sample}.stats.txt", sample=samples["sample_name"]
        ),
        mosdepth=expand(
            "results/qc/mosdepth/{sample}.mosdepth.summary.txt",
            sample=samples["sample_name"],
        ),
        report="results/qc/multiqc/multiqc_report.html",
    output:
        "results/provenance/provenance.json",
    log:
        "logs/provenance/write_provenance.log",
    params:
        gene_depths=PARAMS["coverage"]["gene_thresholds"],
        samples=lambda wildcards: [
            {
                "patient": p,
                "tumour": sample_of(p, "tumour"),
                "normal": sample_of(p, "normal"),
                "vcf": f"results/annotated/bcftools_csq/{p}.somatic.annotated.vcf.gz",
                "germline_vcf": f"results/annotated/bcftools_csq/{p}.germline.annotated.vcf.gz",
            }
            for p in PATIENTS
        ],
    run:
        dna.job_write_provenance(input, output, params, log)
