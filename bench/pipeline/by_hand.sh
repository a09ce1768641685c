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
bcftools mpileup --no-version -f out/ref/genome.fa -q 20 -Q 20 -d 10000 --per-sample-mF --min-ireads 2 --gap-frac 0.002 \
  -a FORMAT/AD,FORMAT/DP,FORMAT/ADF,FORMAT/ADR,FORMAT/QS,FORMAT/SP,FORMAT/SCR -Ou \
  out/bam/$TU.bam out/bam/$NO.bam 2> /dev/null | bcftools view --no-version -e 'N_ALT=1 && ALT="<*>"' -Ob \
  -o out/calls/$P.pileup.bcf
# A workflow script (scripts/*.py) run as Snakemake's `script:` directive runs it: a
# `snakemake` object with input/output/params/log/threads/wildcards. Usage:
#   wfscript SCRIPT.py '{"input": {...}, "output": {...}, "params": {...}, ...}'
# where a params value {"analysis": "section"} is that section of analysis.yaml.
wfscript() {
  python3 - "$SCRIPTS" "$1" "$2" <<'PY'
import json, runpy, sys, yaml
scripts, name, spec = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
analysis = yaml.safe_load(open(f"{scripts}/../analysis.yaml"))["parameters"]
class Named(list):
    """Snakemake's Namedlist: items by position, by name and as attributes."""
    def __init__(self, d):
        d = d if isinstance(d, dict) else {str(i): v for i, v in enumerate(d)}
        super().__init__(d.values()); self._d = d
    def __getattr__(self, k):
        try: return self._d[k]
        except KeyError: raise AttributeError(k)
    def __getitem__(self, k):
        return self._d[k] if isinstance(k, str) else list.__getitem__(self, k)
params = {k: analysis[v["analysis"]] if isinstance(v, dict) and "analysis" in v else v
          for k, v in spec.get("params", {}).items()}
sm = type("Snakemake", (), {})()
sm.input, sm.output = Named(spec.get("input", {})), Named(spec.get("output", {}))
sm.params, sm.log = Named(params), Named(spec.get("log", ["/dev/null"]))
sm.threads, sm.wildcards = spec.get("threads", 1), Named(spec.get("wildcards", {}))
sys.path.insert(0, scripts)
runpy.run_path(f"{scripts}/{name}", init_globals={"snakemake": sm}, run_name="__main__")
PY
}
wfscript call_somatic.py "{\"input\": [\"out/calls/$P.pileup.bcf\"],
  \"output\": {\"calls\": \"out/calls/$P.somatic.vcf.gz\", \"candidates\": \"out/calls/$P.candidates.vcf.gz\"},
  \"params\": {\"somatic\": {\"analysis\": \"somatic\"}, \"pileup\": {\"analysis\": \"pileup\"},
  \"tumour\": \"$TU\", \"normal\": \"$NO\"}, \"log\": [\"out/calls/$P.somatic.log\"]}"
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
# Structural variants (delly), callable territory, MSI, copy number, TMB (issue 23 steps).
REGIONS=$(python3 -c 'import yaml,sys; print(yaml.safe_load(open("config/config.yaml")).get("regions") or "")')
mkdir -p out/sv out/callable out/cnv out/biomarkers
BAMS="\"tumour\": \"out/bam/$TU.bam\", \"normal\": \"out/bam/$NO.bam\""
REF="\"ref\": \"out/ref/genome.fa\", \"fai\": \"out/ref/genome.fa.fai\""
wfscript sv_delly.py "{\"input\": {$BAMS, $REF}, \"output\": {\"bcf\": \"out/sv/$P.delly.bcf\"},
  \"params\": {\"sv\": {\"analysis\": \"structural_variants\"}, \"tumour\": \"$TU\", \"normal\": \"$NO\"},
  \"threads\": 2, \"log\": [\"out/sv/$P.delly.log\"]}"
wfscript sv_annotate.py "{\"input\": {\"bcf\": \"out/sv/$P.delly.bcf\", \"gff\": \"out/ref/annotation.gff3\",
  \"header\": \"out/calls/header.txt\"}, \"output\": {\"vcf\": \"out/sv/$P.sv.annotated.vcf.gz\"},
  \"log\": [\"out/sv/$P.annotate.log\"]}"
for s in $TU $NO; do
  [ "$s" = "$TU" ] && d=8 || d=6
  MOSDEPTH_Q0=LOW MOSDEPTH_Q1=CALLABLE mosdepth -t "$T4" -n --quantize 0:$d: --mapq 20 \
    out/callable/$s out/bam/$s.bam
done
wfscript callable.py "{\"input\": {\"tumour\": \"out/callable/$TU.quantized.bed.gz\",
  \"normal\": \"out/callable/$NO.quantized.bed.gz\", \"fai\": \"out/ref/genome.fa.fai\"},
  \"output\": [\"out/callable/$P.callable.bed\"], \"params\": {\"regions\": \"$REGIONS\"},
  \"log\": [\"out/callable/$P.log\"]}"
wfscript msi.py "{\"input\": {$BAMS, $REF, \"callable\": \"out/callable/$P.callable.bed\"},
  \"output\": {\"json\": \"out/biomarkers/$P.msi.json\", \"loci\": \"out/biomarkers/$P.msi_loci.tsv\"},
  \"params\": {\"msi\": {\"analysis\": \"msi\"}}, \"log\": [\"out/biomarkers/$P.msi.log\"]}"
wfscript cnv_segment.py "{\"input\": {$BAMS, $REF}, \"output\": {\"cnr\": \"out/cnv/cnvkit/$P.cnr\",
  \"cns\": \"out/cnv/cnvkit/$P.cns\"}, \"params\": {\"copy_number\": {\"analysis\": \"copy_number\"},
  \"regions\": \"$REGIONS\"}, \"wildcards\": {\"patient\": \"$P\"}, \"log\": [\"out/cnv/$P.cnvkit.log\"]}"
wfscript cnv_genes.py "{\"input\": {\"cns\": \"out/cnv/cnvkit/$P.cns\", \"vcf\": \"out/calls/$P.somatic.annotated.vcf.gz\",
  \"gff\": \"out/ref/annotation.gff3\"}, \"output\": {\"segments\": \"out/cnv/$P.segments.tsv\",
  \"genes\": \"out/cnv/$P.genes.tsv\", \"purity\": \"out/cnv/$P.purity.json\"},
  \"params\": {\"copy_number\": {\"analysis\": \"copy_number\"}, \"tumour\": \"$TU\"},
  \"log\": [\"out/cnv/$P.genes.log\"]}"
wfscript tmb.py "{\"input\": {\"vcf\": \"out/calls/$P.somatic.annotated.vcf.gz\", \"callable\": \"out/callable/$P.callable.bed\",
  \"gff\": \"out/ref/annotation.gff3\", \"msi\": \"out/biomarkers/$P.msi.json\", \"purity\": \"out/cnv/$P.purity.json\"},
  \"output\": [\"out/biomarkers/$P.tmb_msi.json\"], \"params\": {\"tmb\": {\"analysis\": \"tmb\"}},
  \"log\": [\"out/biomarkers/$P.tmb.log\"]}"
multiqc --force --no-ai --no-version-check -c "$HERE/../../workflows/dna_seq/workflow/report/multiqc_config.yaml" \
  -o out/multiqc -n multiqc_report.html out/qc/*.fastp.json out/qc/*.stats.txt out/qc/*.flagstat.txt out/qc/*.markdup.txt \
  out/qc/*.mosdepth.*.txt > /dev/null 2>&1
