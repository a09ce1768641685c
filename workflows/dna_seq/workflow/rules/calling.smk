rule call_germline:
    input:
        unpack(get_pair_bams),
        ref="resources/reference/genome.fa",
        fai="resources/reference/genome.fa.fai",
    output:
        "results/calls/germline/{patient}.germline.vcf.gz",
    log:
        "logs/bcftools/call_germline/{patient}.log",
    conda:
        "../envs/bcftools.yaml"
    params:
        q=PARAMS["pileup"]["min_mapq"],
        Q=PARAMS["pileup"]["min_baseq"],
        d=PARAMS["pileup"]["max_depth"],
        extra=PARAMS["germline"]["call_extra"],
    shell:
        "(bcftools mpileup --no-version -f {input.ref} -q {params.q} -Q {params.Q} "
        "-d {params.d} -a FORMAT/AD,FORMAT/DP -Ou {input.normal} "
        "| bcftools call --no-version {params.extra} -Oz -o {output}) 2> {log}"


rule pileup_tumour_normal:
    input:
        unpack(get_pair_bams),
        ref="resources/reference/genome.fa",
        fai="resources/reference/genome.fa.fai",
    output:
        temp("results/calls/pileup/{patient}.pileup.bcf"),
    log:
        "logs/bcftools/pileup_tumour_normal/{patient}.log",
    conda:
        "../envs/bcftools.yaml"
    params:
        q=PARAMS["pileup"]["min_mapq"],
        Q=PARAMS["pileup"]["min_baseq"],
        d=PARAMS["pileup"]["max_depth"],
        annotate=PARAMS["pileup"]["somatic_annotations"],
        extra=PARAMS["pileup"]["somatic_extra"],
    shell:
        # Joint pileup, tumour first; drop the sites whose only ALT is mpileup's <*>
        # (no observed ALT allele). Not `N_ALT>1`: indel records carry no <*>, so an
        # indel site has N_ALT == 1 and that filter dropped every indel candidate.
        "(bcftools mpileup --no-version -f {input.ref} -q {params.q} -Q {params.Q} "
        "-d {params.d} {params.extra} -a {params.annotate} -Ou {input.tumour} {input.normal} "
        "| bcftools view --no-version -e 'N_ALT=1 && ALT=\"<*>\"' -Ob -o {output}) "
        "2> {log}"


rule call_somatic:
    input:
        "results/calls/pileup/{patient}.pileup.bcf",
    output:
        calls="results/calls/somatic/{patient}.somatic.vcf.gz",
        candidates="results/calls/somatic/{patient}.candidates.vcf.gz",
    log:
        "logs/call_somatic/{patient}.log",
    conda:
        "../envs/python.yaml"
    params:
        somatic=PARAMS["somatic"],
        pileup=PARAMS["pileup"],
        tumour=lambda wildcards: sample_of(wildcards.patient, "tumour"),
        normal=lambda wildcards: sample_of(wildcards.patient, "normal"),
    script:
        "../scripts/call_somatic.py"


rule normalise_calls:
    input:
        vcf=get_raw_calls,
        ref="resources/reference/genome.fa",
        fai="resources/reference/genome.fa.fai",
    output:
        temp("results/calls/normalised/{patient}.{kind}.norm.vcf.gz"),
    log:
        "logs/bcftools/norm/{patient}.{kind}.log",
    conda:
        "../envs/bcftools.yaml"
    params:
        check_ref=PARAMS["normalisation"]["check_ref"],
    shell:
        # Split multi-allelic records, left-align and check REF against the reference.
        "bcftools norm --no-version -f {input.ref} -m -any -c {params.check_ref} "
        "-Oz -o {output} {input.vcf} 2> {log}"
