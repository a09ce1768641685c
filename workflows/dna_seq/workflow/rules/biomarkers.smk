# Issue 23: callable territory, TMB and MSI (CONTRACT23 items 4 and 5).


rule compute_callable_depth:
    input:
        bam="results/alignments/samtools/{sample}.bam",
        bai="results/alignments/samtools/{sample}.bam.bai",
    output:
        temp("results/callable/mosdepth/{sample}.quantized.bed.gz"),
    log:
        "logs/mosdepth/callable/{sample}.log",
    conda:
        "../envs/mosdepth.yaml"
    threads: min(THREADS, 4)
    params:
        min_depth=lambda wildcards: PARAMS["callable"][
            f"min_{sample_type(wildcards.sample)}_depth"
        ],
        mapq=PARAMS["callable"]["min_mapq"],
        prefix=lambda wildcards, output: output[0].replace(".quantized.bed.gz", ""),
    shell:
        "MOSDEPTH_Q0=LOW MOSDEPTH_Q1=CALLABLE mosdepth -t {threads} -n "
        "--quantize 0:{params.min_depth}: --mapq {params.mapq} {params.prefix} "
        "{input.bam} 2> {log}"


rule define_callable_territory:
    input:
        unpack(
            lambda wildcards: {
                "tumour": "results/callable/mosdepth/"
                f"{sample_of(wildcards.patient, 'tumour')}.quantized.bed.gz",
                "normal": "results/callable/mosdepth/"
                f"{sample_of(wildcards.patient, 'normal')}.quantized.bed.gz",
            }
        ),
        fai="resources/reference/genome.fa.fai",
        regions=assay_regions,
    output:
        "results/callable/{patient}.callable.bed",
    log:
        "logs/callable/{patient}.log",
    conda:
        "../envs/python.yaml"
    params:
        regions=lambda wildcards: config.get("regions", ""),
    script:
        "../scripts/callable.py"


rule score_msi:
    input:
        unpack(get_pair_bams),
        ref="resources/reference/genome.fa",
        fai="resources/reference/genome.fa.fai",
        callable="results/callable/{patient}.callable.bed",
    output:
        json="results/biomarkers/msi/{patient}.msi.json",
        loci="results/biomarkers/msi/{patient}.msi_loci.tsv",
    log:
        "logs/msi/{patient}.log",
    conda:
        "../envs/cnvkit.yaml"
    params:
        msi=PARAMS["msi"],
    script:
        "../scripts/msi.py"


rule write_tmb_msi:
    input:
        vcf="results/annotated/bcftools_csq/{patient}.somatic.annotated.vcf.gz",
        callable="results/callable/{patient}.callable.bed",
        gff="resources/reference/annotation.gff3",
        msi="results/biomarkers/msi/{patient}.msi.json",
        purity="results/cnv/{patient}.purity.json",
    output:
        "results/biomarkers/{patient}.tmb_msi.json",
    log:
        "logs/tmb/{patient}.log",
    conda:
        "../envs/python.yaml"
    params:
        tmb=PARAMS["tmb"],
    script:
        "../scripts/tmb.py"
