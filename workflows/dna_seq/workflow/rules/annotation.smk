rule annotate_consequences:
    input:
        vcf="results/calls/normalised/{patient}.{kind}.norm.vcf.gz",
        ref="resources/reference/genome.fa",
        fai="resources/reference/genome.fa.fai",
        gff="resources/reference/annotation.gff3",
        header="results/provenance/vcf_header.txt",
    output:
        vcf="results/annotated/bcftools_csq/{patient}.{kind}.annotated.vcf.gz",
        tbi="results/annotated/bcftools_csq/{patient}.{kind}.annotated.vcf.gz.tbi",
    log:
        "logs/bcftools/csq/{patient}.{kind}.log",
    conda:
        "../envs/bcftools.yaml"
    params:
        phase=PARAMS["annotation"]["phase"],
    shell:
        # BCSQ: gene, transcript, consequence and protein change; then the
        # pipeline id, version, fingerprint and tool versions into the header.
        "(bcftools csq --no-version -f {input.ref} -g {input.gff} "
        "--phase {params.phase} -Ou {input.vcf} "
        "| bcftools annotate --no-version -h {input.header} -Oz -o {output.vcf} "
        "&& tabix -p vcf {output.vcf}) 2> {log}"
