# Issue 23: copy number with CNVkit, tumour against its matched normal (CONTRACT23 items
# 2 and 3). The methods and their rules are in the scripts' docstrings.


rule call_copy_ratios_cnvkit:
    input:
        unpack(get_pair_bams),
        ref="resources/reference/genome.fa",
        fai="resources/reference/genome.fa.fai",
        regions=assay_regions,
    output:
        cnr="results/cnv/cnvkit/{patient}.cnr",
        cns="results/cnv/cnvkit/{patient}.cns",
    log:
        "logs/cnvkit/{patient}.log",
    conda:
        "../envs/cnvkit.yaml"
    params:
        copy_number=PARAMS["copy_number"],
        regions=lambda wildcards: config.get("regions", ""),
    script:
        "../scripts/cnv_segment.py"


rule call_gene_copy_number:
    input:
        cns="results/cnv/cnvkit/{patient}.cns",
        vcf="results/annotated/bcftools_csq/{patient}.somatic.annotated.vcf.gz",
        gff="resources/reference/annotation.gff3",
    output:
        segments="results/cnv/{patient}.segments.tsv",
        genes="results/cnv/{patient}.genes.tsv",
        purity="results/cnv/{patient}.purity.json",
    log:
        "logs/cnv/{patient}.log",
    conda:
        "../envs/cnvkit.yaml"
    params:
        copy_number=PARAMS["copy_number"],
        tumour=lambda wildcards: sample_of(wildcards.patient, "tumour"),
    script:
        "../scripts/cnv_genes.py"
