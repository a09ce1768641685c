# Small bookkeeping jobs: run them on the submitting host, not through a scheduler.
localrules:
    record_software_versions,
    compute_fingerprint,
    write_provenance,


rule record_software_versions:
    output:
        versions="results/provenance/software_versions.yaml",
        mqc="results/qc/software_versions_mqc_versions.yml",
    log:
        "logs/provenance/record_software_versions.log",
    conda:
        "../envs/python.yaml"
    params:
        steps=STEPS,
        tool_versions=TOOL_VERSIONS,
        harmonised=HARMONISED,
    script:
        "../scripts/record_software_versions.py"


rule compute_fingerprint:
    input:
        ref="resources/reference/genome.fa",
        gff="resources/reference/annotation.gff3",
    output:
        json="results/provenance/fingerprint.json",
        header="results/provenance/vcf_header.txt",
    log:
        "logs/provenance/compute_fingerprint.log",
    conda:
        "../envs/python.yaml"
    params:
        analysis=ANALYSIS,
        # A parameter, so that any change to the workflow code re-runs this rule.
        code_digest=dna.workflow_code_digest(),
        tool_versions=TOOL_VERSIONS,
        harmonised=HARMONISED,
        mismatches=VERSION_MISMATCHES,
        build=config["reference"]["build"],
    script:
        "../scripts/compute_fingerprint.py"


rule write_provenance:
    input:
        fingerprint="results/provenance/fingerprint.json",
        versions="results/provenance/software_versions.yaml",
        vcfs=annotated_vcfs(),
        fastqs=all_fastqs(),
        fasta=config["reference"]["fasta"],
        gff3=config["reference"]["gff3"],
    output:
        "results/provenance/provenance.json",
    log:
        "logs/provenance/write_provenance.log",
    conda:
        "../envs/python.yaml"
    params:
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
    script:
        "../scripts/write_provenance.py"
