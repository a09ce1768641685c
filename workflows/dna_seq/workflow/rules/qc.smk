rule trim_reads_fastp:
    input:
        unpack(get_fastqs),
    output:
        r1=temp("results/trimmed/fastp/{sample}.{unit}.R1.fastq.gz"),
        r2=temp("results/trimmed/fastp/{sample}.{unit}.R2.fastq.gz"),
        json="results/qc/fastp/{sample}.{unit}.fastp.json",
        html="results/qc/fastp/{sample}.{unit}.fastp.html",
    log:
        "logs/fastp/{sample}.{unit}.log",
    conda:
        "../envs/fastp.yaml"
    threads: min(THREADS, 4)
    resources:
        mem_mb=MEM_MB,
    params:
        extra=PARAMS["trimming"]["extra"],
    shell:
        # Output files (never stdout): fastp 0.23 keeps the read order with any -w.
        "fastp -i {input.r1} -I {input.r2} -o {output.r1} -O {output.r2} "
        "-w {threads} {params.extra} -j {output.json} -h {output.html} "
        "-R '{wildcards.sample}.{wildcards.unit}' 2> {log}"


rule stat_alignments:
    input:
        bam="results/alignments/samtools/{sample}.bam",
        bai="results/alignments/samtools/{sample}.bam.bai",
        ref="resources/reference/genome.fa",
    output:
        stats="results/qc/samtools/{sample}.stats.txt",
        flagstat="results/qc/samtools/{sample}.flagstat.txt",
    log:
        "logs/samtools/stats/{sample}.log",
    conda:
        "../envs/samtools.yaml"
    shell:
        "(samtools stats --reference {input.ref} {input.bam} > {output.stats} && "
        "samtools flagstat {input.bam} > {output.flagstat}) 2> {log}"


rule compute_coverage:
    input:
        bam="results/alignments/samtools/{sample}.bam",
        bai="results/alignments/samtools/{sample}.bam.bai",
    output:
        summary="results/qc/mosdepth/{sample}.mosdepth.summary.txt",
        dist="results/qc/mosdepth/{sample}.mosdepth.global.dist.txt",
        region_dist="results/qc/mosdepth/{sample}.mosdepth.region.dist.txt",
        regions="results/qc/mosdepth/{sample}.regions.bed.gz",
    log:
        "logs/mosdepth/{sample}.log",
    conda:
        "../envs/mosdepth.yaml"
    threads: min(THREADS, 4)
    params:
        by=get_regions_arg,
        extra=PARAMS["coverage"]["extra"],
        prefix=lambda wildcards, output: output.summary.replace(
            ".mosdepth.summary.txt", ""
        ),
    shell:
        "mosdepth -t {threads} --by {params.by} {params.extra} {params.prefix} "
        "{input.bam} 2> {log}"


rule stat_variants:
    input:
        vcf="results/annotated/bcftools_csq/{patient}.{kind}.annotated.vcf.gz",
        ref="resources/reference/genome.fa",
    output:
        "results/qc/bcftools/{patient}.{kind}.stats.txt",
    log:
        "logs/bcftools/stats/{patient}.{kind}.log",
    conda:
        "../envs/bcftools.yaml"
    shell:
        "bcftools stats -F {input.ref} -s - {input.vcf} > {output} 2> {log}"


rule genotype_pair_identity:
    input:
        unpack(get_pair_bams),
        germline="results/calls/germline/{patient}.germline.vcf.gz",
        ref="resources/reference/genome.fa",
        fai="resources/reference/genome.fa.fai",
    output:
        sites=temp("results/qc/identity/{patient}.sites.tsv"),
        pileup=temp("results/qc/identity/{patient}.sites.bcf"),
        alleles="results/qc/identity/{patient}.alleles.tsv",
        gtcheck="results/qc/identity/{patient}.gtcheck.txt",
    log:
        "logs/bcftools/gtcheck/{patient}.log",
    conda:
        "../envs/bcftools.yaml"
    params:
        q=PARAMS["pileup"]["min_mapq"],
        Q=PARAMS["pileup"]["min_baseq"],
        d=PARAMS["pileup"]["max_depth"],
        min_qual=PARAMS["identity"]["min_qual"],
        min_depth=PARAMS["identity"]["min_depth"],
    shell:
        # The normal's germline SNVs, piled up in both samples (tumour first): the allele
        # depths the identity verdict reads (scripts/oncolake_dna_seq.py judge_identity),
        # and gtcheck's exact-genotype discordance (-e 0 -u GT,GT), kept as a figure.
        "(bcftools view --no-version -v snps -i 'QUAL>={params.min_qual}' {input.germline} "
        "| bcftools query -f '%CHROM\\t%POS\\n' > {output.sites} && "
        "bcftools mpileup --no-version -f {input.ref} -q {params.q} -Q {params.Q} "
        "-d {params.d} -I -a FORMAT/AD,FORMAT/DP -T {output.sites} -Ob "
        "-o {output.pileup} {input.tumour} {input.normal} && "
        "bcftools query -f '%CHROM\\t%POS\\t%REF\\t%ALT[\\t%AD]\\n' {output.pileup} "
        "> {output.alleles} && "
        "bcftools call --no-version -m -Ou {output.pileup} "
        "| bcftools view --no-version -i 'MIN(FMT/DP)>={params.min_depth}' -Ou "
        "| bcftools gtcheck -e 0 -u GT,GT - > {output.gtcheck}) 2> {log}"


rule check_pair_identity:
    input:
        gtcheck="results/qc/identity/{patient}.gtcheck.txt",
        alleles="results/qc/identity/{patient}.alleles.tsv",
    output:
        "results/qc/identity/{patient}.identity.json",
    log:
        "logs/identity/{patient}.log",
    params:
        identity=PARAMS["identity"],
        tumour=lambda wildcards: sample_of(wildcards.patient, "tumour"),
        normal=lambda wildcards: sample_of(wildcards.patient, "normal"),
        allow=lambda wildcards: bool(config["allow_identity_mismatch"]),
    run:
        dna.job_check_pair_identity(input, output, params, log, wildcards)


rule define_gene_territory:
    input:
        gff="resources/reference/annotation.gff3",
        fai="resources/reference/genome.fa.fai",
        # rules/common_cnv.smk is included after this file: look the function up late.
        regions=lambda wildcards: assay_regions(wildcards),
    output:
        "results/qc/genes/genes.bed",
    log:
        "logs/genes/define_gene_territory.log",
    conda:
        "../envs/python.yaml"
    params:
        regions=lambda wildcards: config.get("regions", ""),
    script:
        "../scripts/gene_regions.py"


rule compute_gene_coverage:
    input:
        bam="results/alignments/samtools/{sample}.bam",
        bai="results/alignments/samtools/{sample}.bam.bai",
        genes="results/qc/genes/genes.bed",
    output:
        regions="results/qc/mosdepth_genes/{sample}.regions.bed.gz",
        thresholds="results/qc/mosdepth_genes/{sample}.thresholds.bed.gz",
    log:
        "logs/mosdepth/genes/{sample}.log",
    conda:
        "../envs/mosdepth.yaml"
    threads: min(THREADS, 4)
    params:
        thresholds=",".join(str(t) for t in PARAMS["coverage"]["gene_thresholds"]),
        extra=PARAMS["coverage"]["extra"],
        prefix=lambda wildcards, output: output.regions.replace(".regions.bed.gz", ""),
    shell:
        "mosdepth -t {threads} --by {input.genes} --thresholds {params.thresholds} "
        "{params.extra} {params.prefix} {input.bam} 2> {log}"


rule query_somatic_allele_depths:
    input:
        "results/annotated/bcftools_csq/{patient}.somatic.annotated.vcf.gz",
    output:
        temp("results/qc/contamination/{patient}.somatic_ad.tsv"),
    log:
        "logs/bcftools/query_somatic_ad/{patient}.log",
    conda:
        "../envs/bcftools.yaml"
    shell:
        'bcftools query -i \'FILTER="PASS" && TYPE="snp"\' '
        "-f '%CHROM\\t%POS[\\t%SAMPLE=%AD]\\n' {input} > {output} 2> {log}"


rule estimate_contamination:
    input:
        "results/qc/contamination/{patient}.somatic_ad.tsv",
    output:
        "results/qc/contamination/{patient}.contamination.json",
    log:
        "logs/contamination/{patient}.log",
    params:
        contamination=PARAMS["contamination"],
        tumour=lambda wildcards: sample_of(wildcards.patient, "tumour"),
        normal=lambda wildcards: sample_of(wildcards.patient, "normal"),
    run:
        dna.job_estimate_contamination(input, output, params, log)
