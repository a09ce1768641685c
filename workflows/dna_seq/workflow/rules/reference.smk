# The reference steps come first (priority): every mapping job waits for the bwa index,
# and without it the scheduler would trim every unit before preparing the reference,
# keeping all trimmed FASTQs (temp files) on disk at once. Order only, never results.


rule prepare_reference:
    input:
        config["reference"]["fasta"],
    output:
        "resources/reference/genome.fa",
    log:
        "logs/reference/prepare_reference.log",
    priority: 1
    conda:
        "../envs/samtools.yaml"
    shell:
        "gzip -cdf {input} > {output} 2> {log}"


rule index_reference_faidx:
    input:
        "resources/reference/genome.fa",
    output:
        "resources/reference/genome.fa.fai",
    log:
        "logs/reference/index_reference_faidx.log",
    priority: 1
    conda:
        "../envs/samtools.yaml"
    shell:
        "samtools faidx {input} 2> {log}"


rule create_sequence_dictionary:
    input:
        "resources/reference/genome.fa",
    output:
        "resources/reference/genome.dict",
    log:
        "logs/reference/create_sequence_dictionary.log",
    priority: 1
    conda:
        "../envs/samtools.yaml"
    shell:
        "samtools dict -o {output} {input} 2> {log}"


rule index_reference_bwa:
    input:
        "resources/reference/genome.fa",
    output:
        multiext("resources/reference/genome.fa", ".amb", ".ann", ".bwt", ".pac", ".sa"),
    log:
        "logs/reference/index_reference_bwa.log",
    priority: 1
    conda:
        "../envs/bwa.yaml"
    shell:
        "bwa index {input} 2> {log}"


rule prepare_annotation:
    input:
        config["reference"]["gff3"],
    output:
        "resources/reference/annotation.gff3",
    log:
        "logs/reference/prepare_annotation.log",
    priority: 1
    conda:
        "../envs/samtools.yaml"
    shell:
        "gzip -cdf {input} > {output} 2> {log}"
