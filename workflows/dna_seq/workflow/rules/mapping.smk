rule map_reads_bwa:
    input:
        r1="results/trimmed/fastp/{sample}.{unit}.R1.fastq.gz",
        r2="results/trimmed/fastp/{sample}.{unit}.R2.fastq.gz",
        idx=multiext(
            "resources/reference/genome.fa", ".amb", ".ann", ".bwt", ".pac", ".sa"
        ),
    output:
        temp("results/alignments/bwa/{sample}.{unit}.bam"),
    log:
        "logs/bwa/{sample}.{unit}.log",
    conda:
        "../envs/bwa.yaml"
    threads: THREADS
    resources:
        mem_mb=MEM_MB,
    params:
        rg=get_read_group,
        index=lambda wildcards, input: input.idx[0][: -len(".amb")],
        chunk=PARAMS["mapping"]["chunk_bases"],
        extra=PARAMS["mapping"]["extra"],
        tmp=lambda wildcards, output: f"{output[0]}.tmp",
    shell:
        # -K: a fixed batch size makes bwa's output independent of -t (insert-size
        # statistics are estimated per batch).
        "(bwa mem -t {threads} -K {params.chunk} {params.extra} -R '{params.rg}' "
        "{params.index} {input.r1} {input.r2} "
        "| samtools fixmate -m -u - - "
        "| samtools sort -@ {threads} -T {params.tmp} -o {output} -) 2> {log}"


rule mark_duplicates:
    input:
        get_unit_bams,
    output:
        bam="results/alignments/samtools/{sample}.bam",
        stats="results/qc/samtools/{sample}.markdup.txt",
    log:
        "logs/samtools/markdup/{sample}.log",
    conda:
        "../envs/samtools.yaml"
    threads: THREADS
    resources:
        mem_mb=MEM_MB,
    params:
        extra=PARAMS["markdup"]["extra"],
        tmp=lambda wildcards, output: f"{output.bam}.tmp",
    shell:
        "(samtools merge -@ {threads} -u -o - {input} "
        "| samtools markdup -@ {threads} {params.extra} -T {params.tmp} "
        "-f {output.stats} - {output.bam}) 2> {log}"


rule index_alignments:
    input:
        "results/alignments/samtools/{sample}.bam",
    output:
        "results/alignments/samtools/{sample}.bam.bai",
    log:
        "logs/samtools/index/{sample}.log",
    conda:
        "../envs/samtools.yaml"
    shell:
        "samtools index {input} 2> {log}"
