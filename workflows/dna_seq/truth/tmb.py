"""Coding spikes and the truth TMB of an instance of simulate.py.

``--coding-snvs N``: N more clonal somatic SNVs inside the CDS of the region's
protein-coding genes (GFF3 ``CDS`` records), 150 bp from every other variant: the region
holds 1,698 bp of CDS, so the spiked SNVs and indels of the VAF bins rarely land in one.
They go into ``truth/somatic.vcf.gz`` like every somatic variant (bin ``clonal``).

The truth TMB (``truth_tmb``) counts the instance's somatic variants (somatic.vcf.gz and
msi.vcf.gz) that ``bcftools csq`` gives a counted consequence (the pipeline's list, in
workflow/analysis.yaml ``tmb.counted``) and whose POS lies in the given territory -- the
pipeline's callable BED intersected with the CDS, as scripts/tmb.py does -- per Mb of it.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import numpy as np

GAP = 150


def cds_intervals(gff3: Path, contig: str) -> list[tuple[int, int]]:
    """Merged CDS intervals (0-based half-open) of one contig."""
    raw = []
    for line in gff3.read_text().splitlines():
        f = line.split("\t")
        if len(f) >= 9 and f[0] == contig and f[2] == "CDS":
            raw.append((int(f[3]) - 1, int(f[4])))
    merged: list[tuple[int, int]] = []
    for a, b in sorted(raw):
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(b, merged[-1][1]))
        else:
            merged.append((a, b))
    return merged


def coding_spikes(
    seq: str, opt: Any, variants: list[Any], avoid: Any, gff3: Path, contig: str, make: Any
) -> list[Any]:
    """``opt.coding_snvs`` clonal somatic SNVs in the CDS (fewer if the CDS is full)."""
    n = int(getattr(opt, "coding_snvs", 0))
    if n <= 0:
        return []
    rng = np.random.default_rng(opt.seed * 104729 + 3)  # own stream: other draws unchanged
    lo, hi = opt.start - 1 + 500, opt.end - 500
    candidates = [
        p0
        for a, b in cds_intervals(gff3, contig)
        for p0 in range(max(a, lo), min(b, hi))
        if not any(s.start - GAP <= p0 < s.end + GAP for s in avoid)
    ]
    taken = [v.pos for v in variants]
    out = []
    clonal = round(opt.purity / 2, 4)
    for p0 in rng.permutation(candidates) if candidates else []:
        p0 = int(p0)
        if len(out) == n:
            break
        if any(abs(p0 + 1 - t) < GAP for t in taken) or seq[p0] not in "ACGT":
            continue
        alt = str(rng.choice([b for b in "ACGT" if b != seq[p0]]))
        info = {"TYPE": "SNV", "HOMOPOLYMER": "0", "CODING": "1"}
        out.append(make(p0 + 1, seq[p0], alt, "somatic", clonal, (str(rng.choice(["A", "B"])),),
                        "clonal", info))  # fmt: skip
        taken.append(p0 + 1)
    return out


def read_bed(path: Path) -> dict[str, list[tuple[int, int]]]:
    out: dict[str, list[tuple[int, int]]] = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.startswith(("#", "track")):
            f = line.split("\t")
            out.setdefault(f[0], []).append((int(f[1]), int(f[2])))
    return out


def intersect(a: list[tuple[int, int]], b: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Intersection of two sorted, merged interval lists."""
    out, i, j = [], 0, 0
    a, b = sorted(a), sorted(b)
    while i < len(a) and j < len(b):
        lo, hi = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if lo < hi:
            out.append((lo, hi))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return out


def truth_tmb(
    truth_dir: Path, callable_bed: Path, reference: Path, gff3: Path, counted: list[str]
) -> dict[str, Any]:
    """The truth TMB over callable BED x CDS: counted mutations, Mb, mutations per Mb."""
    contig_cds: dict[str, list[tuple[int, int]]] = {}
    territory: dict[str, list[tuple[int, int]]] = {}
    for chrom, ivs in read_bed(callable_bed).items():
        contig_cds[chrom] = cds_intervals(gff3, chrom)
        territory[chrom] = intersect(ivs, contig_cds[chrom])
    bp = sum(b - a for ivs in territory.values() for a, b in ivs)
    mutations = []
    for name in ("somatic.vcf.gz", "msi.vcf.gz"):
        vcf = truth_dir / name
        if not vcf.exists():
            continue
        out = subprocess.run(
            f"bcftools csq --force -f {reference} -g {gff3} {vcf} 2>/dev/null "
            "| bcftools query -f '%CHROM\\t%POS\\t%REF\\t%ALT\\t%INFO/BCSQ\\n'",
            shell=True, capture_output=True, text=True, check=True,
        )  # fmt: skip
        for line in out.stdout.splitlines():
            chrom, pos, ref, alt, bcsq = line.split("\t")
            consequences = {c.split("|")[0] for c in bcsq.split(",") if c != "."}
            classes = {part for c in consequences for part in c.lstrip("*").split("&")}
            p0 = int(pos) - 1
            in_territory = any(a <= p0 < b for a, b in territory.get(chrom, []))
            if in_territory and classes & set(counted):
                mutations.append(f"{chrom}:{pos}:{ref}>{alt}")
    mb = bp / 1e6
    return {
        "mutations": len(mutations),
        "callable_mb": round(mb, 6),
        "mutations_per_mb": round(len(mutations) / mb, 3) if mb else None,
        "variants": mutations,
    }
