# Somatic structural variants and gene fusions (issue 23): delly call + delly filter -f
# somatic on the tumour/normal pair, then the breakpoints' genes from the workflow's GFF3
# and the fusions the junctions make (the rule is in scripts/sv_annotate.py). Parameters:
# workflow/analysis.yaml, structural_variants.


rule call_structural_variants:
    input:
        unpack(get_pair_bams),
        ref="resources/reference/genome.fa",
        fai="resources/reference/genome.fa.fai",
    output:
        bcf=temp("results/calls/sv/{patient}.delly.somatic.bcf"),
        csi=temp("results/calls/sv/{patient}.delly.somatic.bcf.csi"),
    log:
        "logs/delly/call_structural_variants/{patient}.log",
    conda:
        "../envs/delly.yaml"
    threads: 2
    params:
        sv=PARAMS["structural_variants"],
        tumour=lambda wildcards: sample_of(wildcards.patient, "tumour"),
        normal=lambda wildcards: sample_of(wildcards.patient, "normal"),
    script:
        "../scripts/sv_delly.py"


rule annotate_structural_variants:
    input:
        bcf="results/calls/sv/{patient}.delly.somatic.bcf",
        csi="results/calls/sv/{patient}.delly.somatic.bcf.csi",
        gff="resources/reference/annotation.gff3",
        header="results/provenance/vcf_header.txt",
    output:
        vcf="results/annotated/sv/{patient}.sv.annotated.vcf.gz",
        tbi="results/annotated/sv/{patient}.sv.annotated.vcf.gz.tbi",
    log:
        "logs/sv/annotate_structural_variants/{patient}.log",
    conda:
        "../envs/python.yaml"
    script:
        "../scripts/sv_annotate.py"
