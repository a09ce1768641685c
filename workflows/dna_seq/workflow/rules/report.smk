# MultiQC only aggregates the small QC text files of the other steps: run it on the
# submitting host rather than queue a separate cluster job for a few seconds of work.
localrules:
    report_qc,


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
        "{input.bcftools} {input.versions} > {log} 2>&1"
