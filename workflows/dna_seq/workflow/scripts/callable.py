"""The callable territory of one patient: where both the tumour and the normal reach the
depths the somatic caller needs (the TMB denominator, CONTRACT23 item 5).

Inputs are ``mosdepth --quantize 0:D:`` BEDs of each sample (reads with MAPQ >=
``callable.min_mapq``; mosdepth's default flag filter drops unmapped, secondary,
QC-failed and duplicate reads), D = ``callable.min_tumour_depth`` for the tumour and
``callable.min_normal_depth`` for the normal (workflow/analysis.yaml). The intervals
labelled CALLABLE in both, intersected with the assay's regions when the centre config
gives them, merged, sorted: a 3-column BED, 0-based half-open.
"""

import gzip
from collections.abc import Iterable
from pathlib import Path
from typing import Any

Intervals = dict[str, list[tuple[int, int]]]


def read_bed(path: str | Path, label: str | None = None) -> Intervals:
    """Intervals of a (gzip) BED, only the rows whose 4th column is ``label`` if given."""
    opener = gzip.open if str(path).endswith(".gz") else open
    out: Intervals = {}
    with opener(path, "rt") as fh:
        for line in fh:
            if not line.strip() or line.startswith(("#", "track", "browser")):
                continue
            f = line.rstrip("\n").split("\t")
            if label is not None and (len(f) < 4 or f[3] != label):
                continue
            out.setdefault(f[0], []).append((int(f[1]), int(f[2])))
    return {chrom: merge(ivs) for chrom, ivs in out.items()}


def merge(intervals: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sorted, merged (touching intervals joined), empty ones dropped."""
    out: list[tuple[int, int]] = []
    for a, b in sorted(intervals):
        if b <= a:
            continue
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(b, out[-1][1]))
        else:
            out.append((a, b))
    return out


def intersect(a: Intervals, b: Intervals) -> Intervals:
    """Per-contig intersection of two merged interval sets."""
    out: Intervals = {}
    for chrom in sorted(set(a) & set(b)):
        x, y, i, j, got = a[chrom], b[chrom], 0, 0, []
        while i < len(x) and j < len(y):
            lo, hi = max(x[i][0], y[j][0]), min(x[i][1], y[j][1])
            if lo < hi:
                got.append((lo, hi))
            if x[i][1] < y[j][1]:
                i += 1
            else:
                j += 1
        if got:
            out[chrom] = got
    return out


def total_bp(intervals: Intervals) -> int:
    return sum(b - a for ivs in intervals.values() for a, b in ivs)


def write_bed(path: str | Path, intervals: Intervals, order: list[str]) -> None:
    """Write in the reference's contig order (then any other contig, sorted)."""
    rank = {c: k for k, c in enumerate(order)}
    with open(path, "w") as fh:
        for chrom in sorted(intervals, key=lambda c: (rank.get(c, len(rank)), c)):
            for a, b in intervals[chrom]:
                fh.write(f"{chrom}\t{a}\t{b}\n")


def main(smk: Any) -> None:
    tumour = read_bed(smk.input.tumour, "CALLABLE")
    normal = read_bed(smk.input.normal, "CALLABLE")
    territory = intersect(tumour, normal)
    regions = smk.params.regions
    if regions:
        territory = intersect(territory, read_bed(regions))
    order = [ln.split("\t")[0] for ln in Path(smk.input.fai).read_text().splitlines()]
    write_bed(smk.output[0], territory, order)
    with open(smk.log[0], "w") as log:
        log.write(
            f"callable: tumour {total_bp(tumour)} bp, normal {total_bp(normal)} bp, "
            f"both{' within the regions' if regions else ''} {total_bp(territory)} bp\n"
        )


if __name__ == "__main__":
    main(snakemake)  # type: ignore[name-defined]  # noqa: F821
