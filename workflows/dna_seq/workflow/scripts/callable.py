"""The callable territory of one patient: where both the tumour and the normal reach the
depths the somatic caller needs (the TMB denominator, CONTRACT23 item 5).

Inputs are ``mosdepth --quantize 0:D:`` BEDs of each sample (reads with MAPQ >=
``callable.min_mapq``; mosdepth's default flag filter drops unmapped, secondary,
QC-failed and duplicate reads), D = ``callable.min_tumour_depth`` for the tumour and
``callable.min_normal_depth`` for the normal (workflow/analysis.yaml). The intervals
labelled CALLABLE in both, intersected with the assay's regions when the centre config
gives them, merged, sorted: a 3-column BED, 0-based half-open.
"""

import sys
from pathlib import Path
from typing import Any

# intervals.py beside this script (Snakemake sets __file__ to the original script).
sys.path.insert(0, str(Path(__file__).resolve().parent))
from intervals import Intervals, intersect, merge, read_bed, total_bp

__all__ = ["Intervals", "intersect", "merge", "read_bed", "total_bp", "write_bed"]


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
