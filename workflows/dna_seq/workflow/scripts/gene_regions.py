"""The per-gene coverage territory: for every gene of the GFF3 (types gene, ncRNA_gene,
pseudogene), the union of its transcripts' exons (the gene's own span when it has no
exon), inside the assay's regions when the centre config gives them. A 4-column BED
(chrom, start, end, gene name), 0-based half-open, sorted in the reference's contig
order, that ``mosdepth --by ... --thresholds`` then measures (rules/qc.smk); genes with
no territory are left out. A gene name that occurs twice (two loci) keeps both loci.
"""

import re
import sys
from pathlib import Path
from typing import Any

# intervals.py beside this script (Snakemake sets __file__ to the original script).
sys.path.insert(0, str(Path(__file__).resolve().parent))
from intervals import Intervals, intersect, merge, read_bed

GENE_TYPES = {"gene", "ncRNA_gene", "pseudogene"}


def _attr(column: str, key: str) -> str | None:
    m = re.search(rf"(?:^|;){key}=([^;]+)", column)
    return m.group(1) if m else None


def gene_territories(gff3: str | Path) -> dict[str, Intervals]:
    """gene name -> its exons (merged), else its span; 0-based half-open."""
    genes: dict[str, tuple[str, str, int, int]] = {}  # ID -> (name, chrom, start, end)
    transcript_gene: dict[str, str] = {}
    exons: dict[str, list[tuple[str, int, int]]] = {}  # transcript ID -> exons
    for line in Path(gff3).read_text().splitlines():
        f = line.split("\t")
        if len(f) < 9 or line.startswith("#"):
            continue
        ident, parent = _attr(f[8], "ID"), _attr(f[8], "Parent")
        if f[2] in GENE_TYPES and ident:
            genes[ident] = (_attr(f[8], "Name") or ident, f[0], int(f[3]) - 1, int(f[4]))
        elif f[2] == "exon" and parent:
            for p in parent.split(","):
                exons.setdefault(p, []).append((f[0], int(f[3]) - 1, int(f[4])))
        elif ident and parent:
            transcript_gene[ident] = parent
    by_gene: dict[str, list[tuple[str, int, int]]] = {}
    for transcript, rows in exons.items():
        gene = transcript_gene.get(transcript)
        if gene in genes:
            by_gene.setdefault(gene, []).extend(rows)
    out: dict[str, Intervals] = {}
    for ident, (name, chrom, start, end) in genes.items():
        rows = by_gene.get(ident) or [(chrom, start, end)]
        territory = out.setdefault(name, {})
        for c, a, b in rows:
            territory.setdefault(c, []).append((a, b))
    return {name: {c: merge(v) for c, v in t.items()} for name, t in out.items()}


def gene_bed_rows(
    territories: dict[str, Intervals], regions: Intervals | None, order: list[str]
) -> list[tuple[str, int, int, str]]:
    """The BED rows, clipped to ``regions`` when given, in contig order then position."""
    rank = {c: k for k, c in enumerate(order)}
    rows = []
    for name, territory in territories.items():
        clipped = intersect(territory, regions) if regions is not None else territory
        rows += [(c, a, b, name) for c, ivs in clipped.items() for a, b in ivs]
    return sorted(rows, key=lambda r: (rank.get(r[0], len(rank)), r[0], r[1], r[2], r[3]))


def main(smk: Any) -> None:
    regions = read_bed(smk.params.regions) if smk.params.regions else None
    order = [ln.split("\t")[0] for ln in Path(smk.input.fai).read_text().splitlines()]
    rows = gene_bed_rows(gene_territories(smk.input.gff), regions, order)
    with open(smk.output[0], "w") as fh:
        for c, a, b, name in rows:
            fh.write(f"{c}\t{a}\t{b}\t{name}\n")
    with open(smk.log[0], "w") as log:
        genes = len({r[3] for r in rows})
        log.write(f"gene territory: {genes} genes, {sum(r[2] - r[1] for r in rows)} bp\n")


if __name__ == "__main__":
    main(snakemake)  # type: ignore[name-defined]  # noqa: F821
