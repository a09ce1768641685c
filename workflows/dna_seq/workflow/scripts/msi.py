"""Microsatellite instability of one tumour against its matched normal: our own scorer,
after MSIsensor's method (Niu et al. 2014, Bioinformatics 30:1015-1016).

No packaged MSI caller is installable here: MSIsensor, MSIsensor-pro and MANTIS are in
neither Debian nor PyPI, and conda channels are not reachable. So this script does what
MSIsensor does, with every threshold in workflow/analysis.yaml (``msi``):

1. Loci: the microsatellites of the reference inside the patient's callable territory --
   homopolymers of >= ``min_homopolymer`` bp and 2-4 bp units repeated >=
   ``min_repeat_units`` times, at most ``max_length`` bp -- found by scanning the
   reference (MSIsensor ``scan``).
2. Read lengths: for each locus, every read (MAPQ >= ``min_mapq``; no duplicate,
   secondary, supplementary or QC-failed read) whose alignment spans the locus plus
   ``flank`` bp each side without a clip there gives one repeat length: the reference
   length plus its CIGAR insertions minus its deletions inside that window.
3. Per locus with >= ``min_reads`` such reads in both the tumour and the normal: a
   chi-square test of the tumour's against the normal's length counts (a 2 x k table, k
   the lengths seen; one length in both: p = 1). Benjamini-Hochberg FDR over the
   evaluated loci; FDR <= ``max_fdr`` is an unstable locus (MSIsensor's rule).
4. Score = 100 x unstable / evaluated loci; ``MSI-H`` at >= ``threshold_percent``, else
   ``MSS``. Fewer than ``min_loci`` evaluated loci: score and status null (not
   evaluable; the lake then stores no MSI row, harmonise/tmb_msi.py).
"""

import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pysam
from scipy.stats import chi2_contingency

SKIP_FLAGS = 0x4 | 0x100 | 0x200 | 0x400 | 0x800


@dataclass(frozen=True)
class Locus:
    chrom: str
    start: int  # 0-based, first base of the repeat
    end: int  # exclusive
    unit: str


def find_loci(
    seq: str, chrom: str, intervals: Iterable[tuple[int, int]], p: Mapping[str, Any]
) -> list[Locus]:
    """Microsatellites wholly inside the intervals, flank included (0-based half-open)."""
    flank, max_len = int(p["flank"]), int(p["max_length"])
    homo = re.compile(rf"([ACGT])\1{{{int(p['min_homopolymer']) - 1},}}")
    repeat = re.compile(rf"([ACGT]{{2,4}})\1{{{int(p['min_repeat_units']) - 1},}}")
    out: dict[int, Locus] = {}
    for a, b in intervals:
        window = seq[a:b].upper()
        for pattern in (homo, repeat):
            for m in pattern.finditer(window):
                unit = m.group(1)
                if len(unit) > 1 and len(set(unit)) == 1:
                    continue
                start, end = a + m.start(), a + m.end()
                if end - start > max_len or start - flank < a or end + flank > b:
                    continue
                out.setdefault(start, Locus(chrom, start, end, unit))
    return [out[k] for k in sorted(out)]


def repeat_length(read: pysam.AlignedSegment, locus: Locus, flank: int) -> int | None:
    """The repeat length this read shows, or None if it does not span locus + flanks."""
    lo, hi = locus.start - flank, locus.end + flank
    if read.reference_start > lo or read.reference_end is None or read.reference_end < hi:
        return None
    length = locus.end - locus.start
    ref = read.reference_start
    for op, n in read.cigartuples or ():
        if op in (0, 7, 8):  # M = X
            ref += n
        elif op == 1:  # insertion before `ref`
            if lo < ref < hi:
                length += n
        elif op in (2, 3):  # deletion / skip of [ref, ref + n)
            if lo < ref and ref + n < hi:
                length -= n
            elif ref < hi and ref + n > lo:
                return None  # a deletion that runs into a flank
            ref += n
        elif op == 4 and lo <= ref <= hi:
            return None  # clipped inside the window
        if ref > hi and op in (0, 7, 8):
            break
    return length


def lengths_at(bam: pysam.AlignmentFile, locus: Locus, p: Mapping[str, Any]) -> Counter[int]:
    flank, min_mapq = int(p["flank"]), int(p["min_mapq"])
    counts: Counter[int] = Counter()
    for read in bam.fetch(locus.chrom, locus.start, locus.end):
        if read.flag & SKIP_FLAGS or read.mapping_quality < min_mapq:
            continue
        n = repeat_length(read, locus, flank)
        if n is not None:
            counts[n] += 1
    return counts


def chi_square_p(tumour: Counter[int], normal: Counter[int]) -> float:
    lengths = sorted(set(tumour) | set(normal))
    if len(lengths) < 2:
        return 1.0
    table = [[tumour.get(n, 0) for n in lengths], [normal.get(n, 0) for n in lengths]]
    return float(chi2_contingency(table, correction=False).pvalue)


def bh_fdr(pvalues: Sequence[float]) -> list[float]:
    """Benjamini-Hochberg adjusted p-values, in the input order."""
    m = len(pvalues)
    order = sorted(range(m), key=lambda i: pvalues[i])
    out = [1.0] * m
    running = 1.0
    for rank in range(m, 0, -1):
        i = order[rank - 1]
        running = min(running, pvalues[i] * m / rank)
        out[i] = min(1.0, running)
    return out


def score(
    loci: Sequence[Locus], tumour_bam: str, normal_bam: str, p: Mapping[str, Any]
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The MSI summary (CONTRACT23 item 4's ``msi``) and one row per evaluated locus."""
    rows: list[dict[str, Any]] = []
    min_reads = int(p["min_reads"])
    with pysam.AlignmentFile(tumour_bam) as t, pysam.AlignmentFile(normal_bam) as n:
        for locus in loci:
            tc, nc = lengths_at(t, locus, p), lengths_at(n, locus, p)
            if sum(tc.values()) < min_reads or sum(nc.values()) < min_reads:
                continue
            rows.append({"chrom": locus.chrom, "start": locus.start, "end": locus.end,
                         "unit": locus.unit, "p": chi_square_p(tc, nc),
                         "tumour": dict(sorted(tc.items())),
                         "normal": dict(sorted(nc.items()))})  # fmt: skip
    for row, q in zip(rows, bh_fdr([r["p"] for r in rows]), strict=True):
        row["fdr"] = q
        row["unstable"] = q <= float(p["max_fdr"])
    evaluated = len(rows)
    unstable = sum(r["unstable"] for r in rows)
    threshold = float(p["threshold_percent"])
    percent: float | None = None
    status: str | None = None
    if evaluated >= int(p["min_loci"]):
        percent = round(100.0 * unstable / evaluated, 2)
        status = "MSI-H" if percent >= threshold else "MSS"
    summary = {
        "score_percent": percent,
        "status": status,
        "loci_evaluated": evaluated,
        "loci_unstable": unstable,
        "threshold_percent": threshold,
    }
    return summary, rows


def read_intervals(bed: str | Path) -> dict[str, list[tuple[int, int]]]:
    out: dict[str, list[tuple[int, int]]] = {}
    for line in Path(bed).read_text().splitlines():
        if line.strip():
            f = line.split("\t")
            out.setdefault(f[0], []).append((int(f[1]), int(f[2])))
    return out


def main(smk: Any) -> None:
    p = smk.params.msi
    loci: list[Locus] = []
    with pysam.FastaFile(smk.input.ref) as fasta:
        for chrom, intervals in read_intervals(smk.input.callable).items():
            loci += find_loci(fasta.fetch(chrom), chrom, intervals, p)
    summary, rows = score(loci, smk.input.tumour, smk.input.normal, p)
    summary["loci_scanned"] = len(loci)
    Path(smk.output.json).write_text(json.dumps(summary, indent=2) + "\n")
    with open(smk.output.loci, "w") as fh:
        fh.write("chrom\tstart\tend\tunit\tp\tfdr\tunstable\ttumour\tnormal\n")
        for r in rows:
            fh.write(
                f"{r['chrom']}\t{r['start']}\t{r['end']}\t{r['unit']}\t{r['p']:.3g}\t"
                f"{r['fdr']:.3g}\t{int(r['unstable'])}\t{json.dumps(r['tumour'])}\t"
                f"{json.dumps(r['normal'])}\n"
            )
    with open(smk.log[0], "w") as log:
        log.write(f"msi: {len(loci)} loci scanned, {json.dumps(summary)}\n")


if __name__ == "__main__":
    main(snakemake)  # type: ignore[name-defined]  # noqa: F821
