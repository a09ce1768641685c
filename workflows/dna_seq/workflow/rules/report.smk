# MultiQC only aggregates the small QC text files of the other steps: run it on the
# submitting host rather than queue a separate cluster job for a few seconds of work.
localrules:
    report_qc,
    write_qc_tables,


rule write_qc_tables:
    input:
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
    output:
        pairs="results/qc/oncolake/pair_qc_mqc.tsv",
        genes="results/qc/oncolake/gene_coverage_mqc.tsv",
    log:
        "logs/qc/write_qc_tables.log",
    params:
        gene_depths=PARAMS["coverage"]["gene_thresholds"],
    run:
        dna.job_write_qc_tables(input, output, params, log)


rule report_qc:
    input:
        fastp=expand(
            "results/qc/fastp/{u.sample_name}.{u.unit_name}.fastp.json",
            u=units.itertuples(),
        ),
        samtools=expand(
            "results/qc/samtools/{sample}.{ext}",
            sample=samples["sample_name"],
            ext=["stats.txt", "flagstat.txt", "markdup.txt"],
        ),
        mosdepth=expand(
            "results/qc/mosdepth/{sample}.mosdepth.{ext}",
            sample=samples["sample_name"],
            ext=["summary.txt", "global.dist.txt", "region.dist.txt"],
        ),
        bcftools=expand(
            "results/qc/bcftools/{patient}.{kind}.stats.txt",
            patient=PATIENTS,
            kind=["somatic", "germline"],
        ),
        versions="results/qc/software_versions_mqc_versions.yml",
        oncolake=rules.write_qc_tables.output,
        config=workflow.source_path("../report/multiqc_config.yaml"),
    output:
        report(
            "results/qc/multiqc/multiqc_report.html",
            caption="../report/multiqc.rst",
            category="Quality control",
        ),
    log:
        "logs/multiqc/multiqc.log",
    conda:
        "../envs/multiqc.yaml"
    params:
        outdir=lambda wildcards, output: str(Path(output[0]).parent),
    shell:
        "multiqc --force --no-ai --no-version-check -c {input.config} -o {params.outdir} "
        "-n multiqc_report.html {input.fastp} {input.samtools} {input.mosdepth} "
        "{input.bcftools} {input.versions} {input.oncolake} > {log} 2>&1"
