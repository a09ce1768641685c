#!/usr/bin/env bash
# The dna_seq workflow's tool commands, written by hand in one shell script (same tools,
# same flags as workflow/analysis.yaml, same thread counts as the rules: bwa, sort, merge
# and markdup -@ THREADS, fastp and mosdepth min(THREADS, 4), the rest single-threaded),
# for the wall-time comparison in walltime.py. Steps run one after the other (the
# workflow may run independent single-threaded steps side by side). Not done here: the
# workflow's bookkeeping (tool-version check against the lock, fingerprint, software
# versions, provenance with SHA-256 of every input FASTQ and output VCF), so its cost
# counts as workflow overhead in the ratio.
# Usage: by_hand.sh WORKDIR THREADS   (WORKDIR holds config/samples.tsv, config/units.tsv
# and data/ like workflows/dna_seq/.test; one patient, tumour + normal)
set -euo pipefail
W=$(realpath "$1"); T=${2:-2}; T4=$(( T < 4 ? T : 4 ))
HERE=$(dirname "$(realpath "$0")")
SCRIPTS=$HERE/../../workflows/dna_seq/workflow/scripts
cd "$W"
mkdir -p out/ref out/trim out/bam out/qc out/calls
gzip -cdf data/reference/genome.fa.gz > out/ref/genome.fa
samtools faidx out/ref/genome.fa
samtools dict -o out/ref/genome.dict out/ref/genome.fa
bwa index out/ref/genome.fa 2> out/ref/bwa.log
gzip -cdf data/reference/annotation.gff3 > out/ref/annotation.gff3
tail -n +2 config/units.tsv | while IFS=$'\t' read -r s u pl fq1 fq2; do
  fastp -i "$fq1" -I "$fq2" -o out/trim/$s.$u.R1.fq.gz -O out/trim/$s.$u.R2.fq.gz -w "$T4" \
    --detect_adapter_for_pe --cut_front --cut_tail --cut_mean_quality 20 --length_required 30 \
    -j out/qc/$s.$u.fastp.json -h out/qc/$s.$u.fastp.html -R "$s.$u" 2> /dev/null
  bwa mem -t "$T" -K 10000000 -Y -R "@RG\tID:$s.$u\tSM:$s\tLB:$s\tPL:$pl" out/ref/genome.fa \
    out/trim/$s.$u.R1.fq.gz out/trim/$s.$u.R2.fq.gz 2> /dev/null \
    | samtools fixmate -m -u - - | samtools sort -@ "$T" -T out/bam/$s.$u.bam.tmp -o out/bam/$s.$u.bam - 2> /dev/null
done
for s in $(tail -n +2 config/samples.tsv | cut -f1); do
  samtools merge -@ "$T" -u -o - out/bam/$s.*.bam \
    | samtools markdup -@ "$T" -T out/bam/$s.bam.tmp -f out/qc/$s.markdup.txt - out/bam/$s.bam
  samtools index out/bam/$s.bam
  samtools stats --reference out/ref/genome.fa out/bam/$s.bam > out/qc/$s.stats.txt
  samtools flagstat out/bam/$s.bam > out/qc/$s.flagstat.txt
  mosdepth -t "$T4" --by data/reference/regions.bed --no-per-base --mapq 20 out/qc/$s out/bam/$s.bam
done
P=$(tail -n +2 config/samples.tsv | cut -f2 | head -1)
TU=$(awk -F'\t' '$3=="tumour"{print $1}' config/samples.tsv)
NO=$(awk -F'\t' '$3=="normal"{print $1}' config/samples.tsv)
bcftools mpileup --no-version -f out/ref/genome.fa -q 20 -Q 20 -d 10000 -a FORMAT/AD,FORMAT/DP -Ou \
  out/bam/$NO.bam 2> /dev/null | bcftools call --no-version --multiallelic-caller --variants-only \
  -Oz -o out/calls/$P.germline.vcf.gz
bcftools mpileup --no-version -f out/ref/genome.fa -q 20 -Q 20 -d 10000 --per-sample-mF \
  -a FORMAT/AD,FORMAT/DP,FORMAT/ADF,FORMAT/ADR,FORMAT/QS,FORMAT/SP,FORMAT/SCR -Ou \
  out/bam/$TU.bam out/bam/$NO.bam 2> /dev/null | bcftools view --no-version -e 'N_ALT=1 && ALT="<*>"' -Ob \
  -o out/calls/$P.pileup.bcf
python3 - "$SCRIPTS" out/calls/$P "$TU" "$NO" <<'PY'
import sys, types, yaml
sys.path.insert(0, sys.argv[1])
import call_somatic
prefix, tumour, normal = sys.argv[2:5]
params = yaml.safe_load(open(f"{sys.argv[1]}/../analysis.yaml"))["parameters"]
sm = types.SimpleNamespace(
    input=[f"{prefix}.pileup.bcf"],
    output=types.SimpleNamespace(calls=f"{prefix}.somatic.vcf.gz", candidates=f"{prefix}.candidates.vcf.gz"),
    params=types.SimpleNamespace(
        somatic=params["somatic"], pileup=params["pileup"], tumour=tumour, normal=normal
    ),
    log=[f"{prefix}.somatic.log"],
)
call_somatic.main(sm)
PY
# Tumour/normal identity: the normal's germline SNVs genotyped in both, gtcheck.
bcftools view --no-version -v snps -i 'QUAL>=30' out/calls/$P.germline.vcf.gz \
  | bcftools query -f '%CHROM\t%POS\n' > out/qc/$P.sites.tsv
bcftools mpileup --no-version -f out/ref/genome.fa -q 20 -Q 20 -a FORMAT/AD,FORMAT/DP \
  -T out/qc/$P.sites.tsv -Ou out/bam/$TU.bam out/bam/$NO.bam 2> /dev/null \
  | bcftools call --no-version -m -Ou | bcftools view --no-version -i 'MIN(FMT/DP)>=10' -Ou \
  | bcftools gtcheck -e 0 -u GT,GT - > out/qc/$P.gtcheck.txt 2> /dev/null
printf '##oncolake_pipeline_id=oncolake/dna_seq\n' > out/calls/header.txt
for k in somatic germline; do
  bcftools norm --no-version -f out/ref/genome.fa -m -any -c e -Oz -o out/calls/$P.$k.norm.vcf.gz \
    out/calls/$P.$k.vcf.gz 2> /dev/null
  bcftools csq --no-version -f out/ref/genome.fa -g out/ref/annotation.gff3 --phase a -Ou \
    out/calls/$P.$k.norm.vcf.gz 2> /dev/null | bcftools annotate --no-version -h out/calls/header.txt \
    -Oz -o out/calls/$P.$k.annotated.vcf.gz
  tabix -p vcf out/calls/$P.$k.annotated.vcf.gz
  bcftools stats -F out/ref/genome.fa -s - out/calls/$P.$k.annotated.vcf.gz > out/qc/$P.$k.stats.txt
done
multiqc --force --no-ai --no-version-check -c "$HERE/../../workflows/dna_seq/workflow/report/multiqc_config.yaml" \
  -o out/multiqc -n multiqc_report.html out/qc/*.fastp.json out/qc/*.stats.txt out/qc/*.flagstat.txt out/qc/*.markdup.txt \
  out/qc/*.mosdepth.*.txt > /dev/null 2>&1
