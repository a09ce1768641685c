"""Generate a bgzipped tumour/normal somatic VCF like the pipeline's (BCSQ, GT:DP:AD).

Usage: python bench/ingest/make_vcf.py OUT.vcf.gz RECORDS [--seed N] [--samples T,N]

GRCh37 Ensembl contig names and lengths; records sorted; ~30% carry a bcftools csq
``BCSQ`` annotation on 1-3 transcripts; SNVs with a few indels; biallelic (as the pipeline
writes after ``bcftools norm -m-any``).
"""

from __future__ import annotations

import argparse
import random
import subprocess
from pathlib import Path

from harmonise.vcf import BUILD_LENGTHS

GENES = ["BRAF", "KRAS", "EGFR", "TP53", "PIK3CA", "NRAS", "IDH1", "ERBB2", "ALK", "APC"]
AA = "ACDEFGHIKLMNPQRSTVWY"
CSQ = ["missense", "synonymous", "stop_gained", "intron", "3_prime_utr"]


def header(samples: tuple[str, str]) -> str:
    """The VCF header."""
    lines = [
        "##fileformat=VCFv4.2",
        "##reference=GRCh37",
        *[
            f"##contig=<ID={c},length={n},assembly=GRCh37>"
            for c, n in BUILD_LENGTHS["GRCh37"].items()
        ],
        '##FILTER=<ID=PASS,Description="All filters passed">',
        '##FILTER=<ID=LowQual,Description="Low quality">',
        '##INFO=<ID=BCSQ,Number=.,Type=String,Description="Haplotype-aware consequence '
        "annotation from BCFtools/csq, see http://samtools.github.io/bcftools/howtos/csq-"
        "calling.html for details. Format: Consequence|gene|transcript|biotype|strand|"
        'amino_acid_change|dna_change">',
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
        '##FORMAT=<ID=DP,Number=1,Type=Integer,Description="Read depth">',
        '##FORMAT=<ID=AD,Number=R,Type=Integer,Description="Allelic depths">',
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t" + "\t".join(samples),
    ]
    return "\n".join(lines) + "\n"


def records(n: int, rng: random.Random) -> list[str]:
    """``n`` sorted records spread over the chromosomes by length."""
    contigs = list(BUILD_LENGTHS["GRCh37"].items())
    total = sum(length for _, length in contigs)
    out: list[str] = []
    bases = "ACGT"
    for chrom, length in contigs:
        k = max(1, round(n * length / total))
        if len(out) + k > n:
            k = n - len(out)
        positions = sorted(rng.sample(range(1, length - 100), k))
        for pos in positions:
            ref = rng.choice(bases)
            r = rng.random()
            if r < 0.9:
                alt = rng.choice([b for b in bases if b != ref])
            elif r < 0.95:
                alt = ref + "".join(rng.choice(bases) for _ in range(rng.randint(1, 5)))
            else:
                alt, ref = ref, ref + "".join(rng.choice(bases) for _ in range(rng.randint(1, 5)))
            info = "."
            if rng.random() < 0.3:
                gene = rng.choice(GENES)
                aa_pos = rng.randint(1, 1200)
                entries = []
                for t in range(rng.randint(1, 3)):
                    c = rng.choice(CSQ)
                    a1, a2 = rng.choice(AA), rng.choice(AA)
                    change = f"{aa_pos}{a1}>{aa_pos}{a2}" if c == "missense" else f"{aa_pos}{a1}"
                    entries.append(
                        f"{c}|{gene}|ENST{rng.randint(10**10, 10**11 - 1):011d}|protein_coding|"
                        f"{'+-'[t % 2]}|{change}|{pos}{ref}>{alt}"
                    )
                info = "BCSQ=" + ",".join(entries)
            td = rng.randint(10, 200)
            ta = rng.randint(0, td)
            nd = rng.randint(10, 100)
            na = rng.randint(0, 2)
            qual = f"{rng.uniform(1, 500):.1f}"
            flt = "PASS" if rng.random() < 0.85 else "LowQual"
            out.append(
                f"{chrom}\t{pos}\t.\t{ref}\t{alt}\t{qual}\t{flt}\t{info}\tGT:DP:AD\t"
                f"0/1:{td}:{td - ta},{ta}\t0/0:{nd}:{nd - na},{na}"
            )
        if len(out) >= n:
            break
    return out


def main() -> None:
    """Write the VCF and its tabix index."""
    ap = argparse.ArgumentParser()
    ap.add_argument("out", type=Path)
    ap.add_argument("records", type=int)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--samples", default="TUMOUR,NORMAL")
    a = ap.parse_args()
    rng = random.Random(a.seed)
    t, nm = a.samples.split(",")
    text = header((t, nm)) + "\n".join(records(a.records, rng)) + "\n"
    with open(a.out, "wb") as fh:
        subprocess.run(["bgzip", "-c"], input=text.encode(), stdout=fh, check=True)
    subprocess.run(["tabix", "-f", "-p", "vcf", str(a.out)], check=True)


if __name__ == "__main__":
    main()
