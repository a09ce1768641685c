"""Somatic structural variants of one tumour/normal pair with delly 1.1.6.

``delly call`` discovers and genotypes SVs (deletions, tandem duplications, inversions,
insertions, translocations as BND records) in the tumour and its normal together, from
discordant pairs and split reads; ``delly filter -f somatic`` keeps the sites the tumour
carries and the normal does not (a two-column samples file names which is which). Every
option is in ``workflow/analysis.yaml`` (``structural_variants``).

Small inputs: delly refuses a sample with too few read pairs to estimate its insert-size
distribution ("Sample has not enough data to estimate library parameters", fewer than
1,000 pairs screened), and writes no file when it finds no SV. Neither is an error of the
pair: the step then writes an empty call set (the two samples, delly's header fields) and
says why in its header (``##oncolake_sv_status``) and its log.
"""

import os
import subprocess
import tempfile
from pathlib import Path
from typing import Any

NOT_ENOUGH_DATA = "not enough data to estimate library parameters"

#: delly's INFO/FORMAT fields, declared in an empty call set too (same header either way).
EMPTY_HEADER = (
    '##ALT=<ID=DEL,Description="Deletion">',
    '##ALT=<ID=DUP,Description="Duplication">',
    '##ALT=<ID=INV,Description="Inversion">',
    '##ALT=<ID=INS,Description="Insertion">',
    '##FILTER=<ID=LowQual,Description="Poor quality and insufficient number of PEs and SRs.">',
    '##INFO=<ID=CIEND,Number=2,Type=Integer,Description="PE confidence interval around END">',
    '##INFO=<ID=CIPOS,Number=2,Type=Integer,Description="PE confidence interval around POS">',
    '##INFO=<ID=CHR2,Number=1,Type=String,Description="Chromosome for POS2 coordinate in case '
    'of an inter-chromosomal translocation">',
    '##INFO=<ID=POS2,Number=1,Type=Integer,Description="Genomic position for CHR2 in case of '
    'an inter-chromosomal translocation">',
    '##INFO=<ID=END,Number=1,Type=Integer,Description="End position of the structural variant">',
    '##INFO=<ID=PE,Number=1,Type=Integer,Description="Paired-end support of the structural '
    'variant">',
    '##INFO=<ID=MAPQ,Number=1,Type=Integer,Description="Median mapping quality of paired-ends">',
    '##INFO=<ID=SR,Number=1,Type=Integer,Description="Split-read support">',
    '##INFO=<ID=CT,Number=1,Type=String,Description="Paired-end signature induced connection '
    'type">',
    '##INFO=<ID=IMPRECISE,Number=0,Type=Flag,Description="Imprecise structural variation">',
    '##INFO=<ID=PRECISE,Number=0,Type=Flag,Description="Precise structural variation">',
    '##INFO=<ID=SVTYPE,Number=1,Type=String,Description="Type of structural variant">',
    '##INFO=<ID=SVLEN,Number=1,Type=Integer,Description="Insertion length for SVTYPE=INS.">',
    '##INFO=<ID=SOMATIC,Number=0,Type=Flag,Description="Somatic structural variant.">',
    '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
    '##FORMAT=<ID=DR,Number=1,Type=Integer,Description="# high-quality reference pairs">',
    '##FORMAT=<ID=DV,Number=1,Type=Integer,Description="# high-quality variant pairs">',
    '##FORMAT=<ID=RR,Number=1,Type=Integer,Description="# high-quality reference junction reads">',
    '##FORMAT=<ID=RV,Number=1,Type=Integer,Description="# high-quality variant junction reads">',
)


def call_args(sv: dict[str, Any], ref: str, out: str, tumour: str, normal: str) -> list[str]:
    """``delly call`` with the analysis parameters, tumour first."""
    return [
        "delly", "call", "-g", ref, "-o", out,
        "-q", str(sv["call_min_mapq"]),
        "-r", str(sv["call_min_mapq_translocation"]),
        "-c", str(sv["call_min_clip"]),
        "-z", str(sv["call_min_clique_size"]),
        tumour, normal,
    ]  # fmt: skip


def filter_args(sv: dict[str, Any], samples_tsv: str, raw: str, out: str) -> list[str]:
    """``delly filter -f somatic`` with the analysis parameters."""
    args = [
        "delly", "filter", "-f", "somatic", "-s", samples_tsv, "-o", out,
        "-y", str(sv["filter_min_quality"]),
        "-a", str(sv["filter_min_alt_fraction"]),
        "-v", str(sv["filter_min_tumour_coverage"]),
        "-c", str(sv["filter_max_normal_alt_fraction"]),
        "-r", str(sv["filter_min_genotyped_fraction"]),
    ]  # fmt: skip
    if sv["filter_pass_only"]:
        args.append("-p")
    return [*args, raw]


def write_empty(out: str, fai: str, tumour: str, normal: str, why: str) -> None:
    """An empty somatic call set with delly's header fields and the reason."""
    import pysam

    header = pysam.VariantHeader()
    for line in Path(fai).read_text().splitlines():
        name, length = line.split("\t")[:2]
        header.contigs.add(name, length=int(length))
    for line in EMPTY_HEADER:
        header.add_line(line)
    header.add_line(f"##oncolake_sv_status={why}")
    header.add_sample(tumour)
    header.add_sample(normal)
    with pysam.VariantFile(out, "wb", header=header):
        pass
    subprocess.run(["bcftools", "index", "-f", out], check=True)


def run(cmd: list[str], log: Any, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    log.write("$ " + " ".join(cmd) + "\n")
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    log.write(proc.stdout + proc.stderr)
    return proc


def main(smk: Any) -> None:
    sv = smk.params.sv
    tumour, normal = smk.params.tumour, smk.params.normal
    out = smk.output.bcf
    env = {**os.environ, "OMP_NUM_THREADS": str(smk.threads)}
    with open(smk.log[0], "w") as log, tempfile.TemporaryDirectory(dir=Path(out).parent) as tmp:
        raw = str(Path(tmp) / "call.bcf")
        proc = run(call_args(sv, smk.input.ref, raw, smk.input.tumour, smk.input.normal), log, env)
        if proc.returncode != 0:
            if NOT_ENOUGH_DATA in (proc.stdout + proc.stderr).lower():
                why = "delly: too few read pairs to estimate the insert size; no SV called"
                write_empty(out, smk.input.fai, tumour, normal, why)
                log.write(f"sv_delly: {why}\n")
                return
            raise RuntimeError(f"delly call failed ({proc.returncode}); see {smk.log[0]}")
        if not Path(raw).exists():
            why = "delly: no structural variant found"
            write_empty(out, smk.input.fai, tumour, normal, why)
            log.write(f"sv_delly: {why}\n")
            return
        samples = Path(tmp) / "samples.tsv"
        samples.write_text(f"{tumour}\ttumor\n{normal}\tcontrol\n")
        proc = run(filter_args(sv, str(samples), raw, out), log, env)
        if proc.returncode != 0:
            raise RuntimeError(f"delly filter failed ({proc.returncode}); see {smk.log[0]}")
        log.write("sv_delly: done\n")


if __name__ == "__main__":
    main(snakemake)  # type: ignore[name-defined]  # noqa: F821
