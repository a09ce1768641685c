"""Interval sets of the dna_seq scripts (callable.py, tmb.py, gene_coverage.py): BED
reading, merging, intersection. 0-based half-open, as in BED; per contig, sorted and
merged. Standard library only.

Snakemake's ``script:`` runs a copy of a script but sets ``__file__`` to the original,
so a script finds this module with ``sys.path.insert(0, str(Path(__file__).parent))``.
"""

import gzip
from collections.abc import Iterable
from pathlib import Path

Intervals = dict[str, list[tuple[int, int]]]


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


def intersect(a: Intervals, b: Intervals) -> Intervals:
    """Per-contig intersection of two merged interval sets (contigs left empty dropped)."""
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
    """Bases covered by a merged interval set."""
    return sum(b - a for ivs in intervals.values() for a, b in ivs)
