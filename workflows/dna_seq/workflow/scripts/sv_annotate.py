"""Somatic SVs annotated with the genes their breakpoints fall in, and gene fusions.

Input: delly's somatic calls (``delly filter -f somatic``, BCF); output: the contract's
``results/annotated/sv/{patient}.sv.annotated.vcf.gz`` (+ ``.tbi``), every delly record
and field kept, with three INFO fields added:

* ``GENE_A`` / ``GENE_B``: the genes of the workflow's GFF3 (``gene``, ``ncRNA_gene`` and
  ``pseudogene`` features, their ``Name``) whose span [start, end] contains the first /
  the second breakpoint, comma-separated in GFF3 order; absent where there is none. The
  first breakpoint is POS; the second is END for ``<DEL>``, ``<DUP>``, ``<INV>`` and
  ``<INS>``, and the mate (``CHR2``:``POS2``, as the BND ALT states it) for BND records.
  Only names shaped like HGNC symbols count (``HGNC_SYMBOL``: letters, digits, hyphens):
  Ensembl's clone-based names of unnamed loci (``AL627309.1``, ``RP11-34P13.7``) are not
  HGNC symbols and are left out (CONTRACT23 item 1 asks for HGNC symbols).
* ``FUSION``: ``FIVE::THREE`` (HGNC notation, e.g. ``ETV6::NTRK3``) for a pair of
  different genes, one at each breakend of a junction, that the junction joins in a
  transcript-compatible orientation (below). One per record: where overlapping genes make
  several pairs, the first in GFF3 order (and, for an ``<INV>`` without CT, the 3to3
  junction's) is named; delly writes each inversion junction as its own record.

The rule. A junction joins two breakends; at each breakend one side of the breakpoint is
kept in the rearranged molecule: ``left`` (the bases up to the breakpoint, the piece's
3' end in reference orientation, delly's CT ``3``) or ``right`` (the bases from the
breakpoint on, CT ``5``). The joins are:

==========================  ==================  ==================
record                      first breakend      second breakend
==========================  ==================  ==================
``<DEL>`` (CT 3to5)         left                right
``<DUP>`` (CT 5to3)         right               left
``<INV>`` CT 3to3 / 5to5    left / right        left / right
``<INV>`` without CT        both joins (3to3 and 5to5), an inversion's two junctions
BND ``t[p[``                left                right
BND ``t]p]``                left                left
BND ``]p]t``                right               left
BND ``[p[t``                right               right
==========================  ==================  ==================

A gene on strand ``+`` keeps its 5' part (promoter and first exons) on the left of a
breakpoint in it and its 3' part (last exons, polyA site) on the right; a gene on ``-``
the other way round. So a breakend in gene G contributes G's 5' part when (strand ``+``,
side left) or (strand ``-``, side right), and G's 3' part when (``+``, right) or (``-``,
left). A junction makes a fusion transcript exactly when one breakend contributes the 5'
part of its gene and the other the 3' part of its gene: reading the rearranged molecule
in the 5' partner's direction of transcription then runs from the 5' partner's exons
across the junction into the 3' partner's exons in that gene's own direction of
transcription (a same-strand join for left+right, an opposite-strand join for left+left
and right+right). The 5' partner is named first. Two 5' parts (head-to-head) or two 3'
parts (tail-to-tail) make no fusion, nor does a junction inside one gene. Breakpoints in
introns and exons count alike (splicing across an intronic junction is assumed); reading
frame is not checked. ``<INS>`` records join no two genes.
"""

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

GENE_TYPES = frozenset({"gene", "ncRNA_gene", "pseudogene"})
HGNC_SYMBOL = re.compile(r"^[A-Z0-9][A-Za-z0-9-]*$")
LEFT, RIGHT = "left", "right"
_CT_SIDE = {"3": LEFT, "5": RIGHT}
_BND = re.compile(
    r"^(?P<pre>[^\[\]]*)(?P<b>[\[\]])(?P<chrom>[^:\[\]]+):(?P<pos>\d+)[\[\]](?P<post>[^\[\]]*)$"
)

INFO_LINES = (
    '##INFO=<ID=GENE_A,Number=.,Type=String,Description="Genes of the GFF3 overlapped by '
    'the first breakpoint (POS) (oncolake sv_annotate.py)">',
    '##INFO=<ID=GENE_B,Number=.,Type=String,Description="Genes of the GFF3 overlapped by '
    'the second breakpoint (END, or the BND mate) (oncolake sv_annotate.py)">',
    '##INFO=<ID=FUSION,Number=1,Type=String,Description="Gene fusion FIVE::THREE the '
    'junction makes in a transcript-compatible orientation (rule: sv_annotate.py)">',
)


@dataclass(frozen=True)
class Gene:
    name: str
    chrom: str
    start: int  # 1-based, inclusive (GFF3)
    end: int  # 1-based, inclusive
    strand: str


@dataclass(frozen=True)
class Junction:
    """Two breakends joined; ``side_*`` is the side of the breakpoint that is kept."""

    chrom_a: str
    pos_a: int
    side_a: str
    chrom_b: str
    pos_b: int
    side_b: str


def read_genes(gff3: str | Path) -> dict[str, list[Gene]]:
    """Gene features of a GFF3 with an HGNC-shaped name, by contig, in file order."""
    genes: dict[str, list[Gene]] = {}
    with open(gff3) as fh:
        for line in fh:
            if line.startswith("#") or not line.strip():
                continue
            f = line.rstrip("\n").split("\t")
            if len(f) < 9 or f[2] not in GENE_TYPES:
                continue
            attrs = dict(kv.split("=", 1) for kv in f[8].split(";") if "=" in kv)
            name = attrs.get("Name", "")
            if not HGNC_SYMBOL.match(name):
                continue
            genes.setdefault(f[0], []).append(Gene(name, f[0], int(f[3]), int(f[4]), f[6]))
    return genes


def genes_at(genes: dict[str, list[Gene]], chrom: str, pos: int) -> list[Gene]:
    """The genes whose span contains ``chrom:pos`` (1-based)."""
    return [g for g in genes.get(chrom, []) if g.start <= pos <= g.end]


def parse_bnd(alt: str) -> tuple[str, int, str, str] | None:
    """(mate contig, mate pos, side kept at POS, side kept at the mate) of a BND ALT."""
    m = _BND.match(alt)
    if m is None:
        return None
    chrom, pos, bracket = m["chrom"], int(m["pos"]), m["b"]
    if m["pre"]:  # t[p[ or t]p]: the bases up to POS are kept
        return chrom, pos, LEFT, RIGHT if bracket == "[" else LEFT
    return chrom, pos, RIGHT, LEFT if bracket == "]" else RIGHT  # ]p]t or [p[t


def junctions(
    chrom: str, pos: int, alt: str, svtype: str, end: int | None, ct: str | None
) -> list[Junction]:
    """The junctions of one record (the table in the module docstring)."""
    bnd = parse_bnd(alt)
    if bnd is not None:
        mate_chrom, mate_pos, side, mate_side = bnd
        return [Junction(chrom, pos, side, mate_chrom, mate_pos, mate_side)]
    if svtype == "INS" or end is None:
        return []
    if ct and re.fullmatch(r"[35]to[35]", ct):
        return [Junction(chrom, pos, _CT_SIDE[ct[0]], chrom, end, _CT_SIDE[ct[-1]])]
    if svtype == "DEL":
        return [Junction(chrom, pos, LEFT, chrom, end, RIGHT)]
    if svtype == "DUP":
        return [Junction(chrom, pos, RIGHT, chrom, end, LEFT)]
    if svtype == "INV":
        return [
            Junction(chrom, pos, LEFT, chrom, end, LEFT),
            Junction(chrom, pos, RIGHT, chrom, end, RIGHT),
        ]
    return []


def part(gene: Gene, side: str) -> str:
    """``5`` if the kept side of a breakpoint in ``gene`` holds its 5' part, else ``3``."""
    return "5" if (gene.strand == "+") == (side == LEFT) else "3"


def fusions(junction: Junction, genes_a: Sequence[Gene], genes_b: Sequence[Gene]) -> list[str]:
    """``FIVE::THREE`` for each transcript-compatible gene pair across the junction."""
    out: list[str] = []
    for a in genes_a:
        for b in genes_b:
            if a.name == b.name:
                continue
            pa, pb = part(a, junction.side_a), part(b, junction.side_b)
            if pa == pb:
                continue  # head-to-head or tail-to-tail
            name = f"{a.name}::{b.name}" if pa == "5" else f"{b.name}::{a.name}"
            if name not in out:
                out.append(name)
    return out


def second_breakpoint(rec: Any) -> tuple[str, int] | None:
    """(contig, pos) of a record's second breakpoint (END, or the BND mate)."""
    bnd = parse_bnd(rec.alts[0]) if rec.alts else None
    if bnd is not None:
        return bnd[0], bnd[1]
    return (rec.chrom, int(rec.stop)) if rec.stop else None


def annotate_record(
    rec: Any, genes: dict[str, list[Gene]]
) -> tuple[list[str], list[str], list[str]]:
    """(GENE_A, GENE_B, FUSION) of one pysam record."""
    genes_a = genes_at(genes, rec.chrom, rec.pos)
    second = second_breakpoint(rec)
    genes_b = genes_at(genes, *second) if second else []
    svtype = str(rec.info.get("SVTYPE", ""))
    ct = rec.info.get("CT")
    found: list[str] = []
    for j in junctions(rec.chrom, rec.pos, rec.alts[0], svtype, rec.stop, ct):
        ga = genes_at(genes, j.chrom_a, j.pos_a)
        gb = genes_at(genes, j.chrom_b, j.pos_b)
        found += [f for f in fusions(j, ga, gb) if f not in found]
    return [g.name for g in genes_a], [g.name for g in genes_b], found


def annotate(bcf: str, gff3: str, header_lines: Iterable[str], out_vcf: str) -> tuple[int, int]:
    """Write the annotated VCF (bgzip + tabix). Returns (records, fusions)."""
    import pysam

    genes = read_genes(gff3)
    n = n_fusions = 0
    with pysam.VariantFile(bcf) as src:
        header = src.header.copy()
        for record in list(header.records):
            if record.key == "fileDate":  # the same calls give the same file on any day
                record.remove()
        for line in (*INFO_LINES, *header_lines):
            if line.strip() and not line.startswith("#CHROM"):
                header.add_line(line.strip())
        with pysam.VariantFile(out_vcf, "wz", header=header) as dst:
            for rec in src:
                rec.translate(dst.header)
                gene_a, gene_b, fusion = annotate_record(rec, genes)
                if gene_a:
                    rec.info["GENE_A"] = gene_a
                if gene_b:
                    rec.info["GENE_B"] = gene_b
                if fusion:
                    rec.info["FUSION"] = fusion[0]
                    n_fusions += 1
                dst.write(rec)
                n += 1
    pysam.tabix_index(out_vcf, preset="vcf", force=True)
    return n, n_fusions


def main(smk: Any) -> None:
    header = Path(smk.input.header).read_text().splitlines()
    n, n_fusions = annotate(smk.input.bcf, smk.input.gff, header, smk.output.vcf)
    Path(smk.log[0]).write_text(f"sv_annotate: {n} SV records, {n_fusions} with a fusion\n")


if __name__ == "__main__":
    main(snakemake)  # type: ignore[name-defined]  # noqa: F821
