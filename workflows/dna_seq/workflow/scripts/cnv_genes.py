"""Tumour purity, absolute copy numbers and gene-level calls of one patient, from CNVkit's
segments (scripts/cnv_segment.py) and the somatic calls (CONTRACT23 items 2 and 3).

Purity (``copy_number`` in workflow/analysis.yaml): a clonal heterozygous SNV in a
diploid region has tumour VAF purity / 2. From the PASS somatic SNVs with tumour depth
>= ``purity_min_depth`` inside copy-neutral segments (|log2| < ``neutral_log2``), a
Gaussian kernel density of their VAFs (bandwidth ``purity_bandwidth``); its highest-VAF
local maximum that holds >= ``purity_min_peak_share`` of the SNVs (within one bandwidth
each side) is the clonal peak; purity = min(1, 2 x peak). Fewer than ``purity_min_snvs``
SNVs: purity null. (CNVkit 0.9.14's ``purity`` command fits segment copy ratios; a region
with a handful of segments does not identify it, the SNVs do.)

Copy number of a segment, diploid genome assumed: with purity p, the tumour/normal ratio
r = 2^log2 = (1 - p) + p x CN / 2, so CN = max(0, 2 (r - (1 - p)) / p); without a purity,
CN = 2 r (not adjusted). Segments: 0-based half-open, bins as ``probes``.

Gene-level call: each gene of the GFF3 (records of type gene, ncRNA_gene, pseudogene
with a Name: HGNC symbols, or Ensembl's clone-based names such as RP11-34P13.7, which the
lake's reader accepts too) overlapped by a segment takes the segment covering most of its
bases; its
call from that segment's CN: ``amplification`` >= ``amplification_min_cn``, ``gain`` >=
``gain_min_cn``, ``deep_deletion`` < ``deep_deletion_max_cn``, ``loss`` < ``loss_max_cn``,
else ``neutral``; a segment of fewer than ``min_bins`` bins is ``neutral``.
"""

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pysam

GENE_TYPES = {"gene", "ncRNA_gene", "pseudogene"}


@dataclass(frozen=True)
class Segment:
    chrom: str
    start: int
    end: int
    log2: float
    probes: int


def read_segments(path: str | Path) -> list[Segment]:
    """CNVkit .cns rows (chromosome, start, end, gene, log2, ..., probes, ...)."""
    lines = Path(path).read_text().splitlines()
    if not lines:
        return []
    head = lines[0].split("\t")
    col = {name: i for i, name in enumerate(head)}
    out = []
    for line in lines[1:]:
        f = line.split("\t")
        out.append(
            Segment(f[col["chromosome"]], int(f[col["start"]]), int(f[col["end"]]),
                    float(f[col["log2"]]), int(f[col["probes"]]))
        )  # fmt: skip
    return out


def copy_number(log2: float, purity: float | None) -> float:
    """Absolute copy number of a segment (purity-adjusted when the purity is known)."""
    ratio = 2.0**log2
    if purity is None:
        return 2.0 * ratio
    return max(0.0, 2.0 * (ratio - (1.0 - purity)) / purity)


def call(cn: float, probes: int, p: Mapping[str, Any]) -> str:
    if probes < int(p["min_bins"]):
        return "neutral"
    if cn >= float(p["amplification_min_cn"]):
        return "amplification"
    if cn >= float(p["gain_min_cn"]):
        return "gain"
    if cn < float(p["deep_deletion_max_cn"]):
        return "deep_deletion"
    if cn < float(p["loss_max_cn"]):
        return "loss"
    return "neutral"


def somatic_snv_vafs(vcf: str | Path, tumour: str, min_depth: int) -> list[tuple[str, int, float]]:
    """(chrom, 0-based pos, tumour VAF) of the PASS somatic SNVs with enough depth."""
    out = []
    with pysam.VariantFile(str(vcf)) as fh:
        for rec in fh:
            if list(rec.filter) not in (["PASS"], []):
                continue
            if len(rec.ref or "") != 1 or any(len(a) != 1 for a in rec.alts or ()):
                continue
            sample = rec.samples[tumour]
            ad, dp = sample.get("AD"), sample.get("DP")
            if not ad or dp is None or dp < min_depth or None in ad:
                continue
            out.append((rec.chrom, rec.start, ad[1] / dp))
    return out


def estimate_purity(
    vafs: Sequence[float], p: Mapping[str, Any]
) -> tuple[float | None, dict[str, Any]]:
    """Purity from the SNV VAFs (see the module docstring), and how it was reached."""
    n = len(vafs)
    info: dict[str, Any] = {"snvs": n, "method": "2 x highest clonal VAF peak (KDE)"}
    if n < int(p["purity_min_snvs"]):
        info["reason"] = f"fewer than {p['purity_min_snvs']} usable somatic SNVs"
        return None, info
    x = np.asarray(vafs, dtype=float)
    bw = float(p["purity_bandwidth"])
    grid = np.linspace(0.0, 1.0, 1001)
    density = np.exp(-0.5 * ((grid[:, None] - x[None, :]) / bw) ** 2).sum(axis=1)
    peaks = [
        i for i in range(1, len(grid) - 1)
        if density[i] >= density[i - 1] and density[i] > density[i + 1]
    ]  # fmt: skip
    share = float(p["purity_min_peak_share"])
    for i in sorted(peaks, key=lambda k: -grid[k]):
        mass = float(np.mean(np.abs(x - grid[i]) <= bw))
        if mass >= share:
            purity = round(min(1.0, 2.0 * float(grid[i])), 3)
            info.update(peak_vaf=round(float(grid[i]), 3), peak_share=round(mass, 3))
            return purity, info
    info["reason"] = "no VAF peak holds enough SNVs"
    return None, info


def read_genes(gff3: str | Path) -> list[tuple[str, str, int, int]]:
    """(name, chrom, start, end) of the GFF3's genes, 0-based half-open."""
    out = []
    for line in Path(gff3).read_text().splitlines():
        f = line.split("\t")
        if len(f) < 9 or f[2] not in GENE_TYPES:
            continue
        m = re.search(r"(?:^|;)Name=([^;]+)", f[8])
        if m:
            out.append((m.group(1), f[0], int(f[3]) - 1, int(f[4])))
    return out


def gene_calls(
    genes: Sequence[tuple[str, str, int, int]],
    segments: Sequence[Segment],
    purity: float | None,
    p: Mapping[str, Any],
) -> list[tuple[str, str, int, int, float, float, str]]:
    """One row per gene overlapped by a segment: the segment covering most of it."""
    rows = []
    for name, chrom, start, end in genes:
        best, best_bp = None, 0
        for s in segments:
            if s.chrom != chrom:
                continue
            bp = min(end, s.end) - max(start, s.start)
            if bp > best_bp:
                best, best_bp = s, bp
        if best is None:
            continue
        cn = copy_number(best.log2, purity)
        rows.append((name, chrom, start, end, best.log2, cn, call(cn, best.probes, p)))
    return rows


def main(smk: Any) -> None:
    p = smk.params.copy_number
    segments = read_segments(smk.input.cns)
    neutral = float(p["neutral_log2"])
    vafs = [
        vaf
        for chrom, pos, vaf in somatic_snv_vafs(
            smk.input.vcf, smk.params.tumour, int(p["purity_min_depth"])
        )
        if any(
            s.chrom == chrom and s.start <= pos < s.end and abs(s.log2) < neutral for s in segments
        )
    ]
    purity, info = estimate_purity(vafs, p)
    with open(smk.output.segments, "w") as fh:
        fh.write("chrom\tstart\tend\tlog2\tcopy_number\tprobes\n")
        for s in segments:
            cn = copy_number(s.log2, purity)
            fh.write(f"{s.chrom}\t{s.start}\t{s.end}\t{s.log2:.4f}\t{cn:.3f}\t{s.probes}\n")
    rows = gene_calls(read_genes(smk.input.gff), segments, purity, p)
    with open(smk.output.genes, "w") as fh:
        fh.write("gene\tchrom\tstart\tend\tlog2\tcopy_number\tcall\n")
        for name, chrom, start, end, log2, cn, verdict in rows:
            fh.write(f"{name}\t{chrom}\t{start}\t{end}\t{log2:.4f}\t{cn:.3f}\t{verdict}\n")
    Path(smk.output.purity).write_text(
        json.dumps({"purity": purity, **info}, indent=2, sort_keys=True) + "\n"
    )
    with open(smk.log[0], "w") as log:
        calls = {c: sum(r[6] == c for r in rows) for c in sorted({r[6] for r in rows})}
        log.write(f"purity {purity}; {len(segments)} segments; gene calls {calls}\n")


if __name__ == "__main__":
    main(snakemake)  # type: ignore[name-defined]  # noqa: F821
