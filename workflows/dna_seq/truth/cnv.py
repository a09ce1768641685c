"""Copy-number spikes for the truth generator (simulate.py ``--cnv 1``): a clonal
amplification and a clonal deep deletion in every tumour cell, made by the reads ART
simulates (no coverage rescaling after the fact).

* deep deletion: both homologs of every tumour subclone lose the segment; the tumour
  component's FASTA is written as two records (before, after), so the segment's only
  reads come from the normal cells (purity ``p``: expected tumour/normal depth ratio
  ``1 - p``) -- and the normal's tumour share carries the deletion too;
* amplification: homolog A of every tumour cell has ``copies - 1`` copies of the segment
  (homolog B one), i.e. ``copies`` in all; the extra ``copies - 2`` are one more ART run
  over the segment of homolog A at ``depth * p / 2 * (copies - 2)`` (tumour) and
  ``normal_depth * contamination * p / 2 * (copies - 2)`` (the tumour cells in the normal).

Somatic variants chosen inside a spiked segment are dropped (their expected allele
fractions would no longer be their bins); germline ones stay. ``truth/cnv.tsv`` lists
the segments (0-based half-open) with the genes of the GFF3 they contain wholly, which is
what the pipeline's gene-level calls are scored against.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Spike:
    """One copy-number segment of every tumour cell (0-based half-open, contig 1)."""

    name: str
    start: int
    end: int
    copies: int  # total copy number in tumour cells (normal: 2)
    call: str  # the gene-level call it should give: amplification | deep_deletion


#: The default spikes, inside the default region (1:60,001-160,000), away from the two
#: protein-coding genes (OR4F5 1:69,091-70,008, AL627309.1 1:134,901-139,379) whose
#: coding mutations the TMB check counts, and where dbSNP has few common SNVs (hets that
#: an amplification turns into apparent homozygotes in the tumour make the identity
#: check see two people). RNU6-1100P (snRNA, 157,784-157,887) lies in the amplification,
#: CICP27 (pseudogene, 131,025-134,836) in the deep deletion.
SPIKES = (
    Spike("amp1", 151_000, 158_800, 10, "amplification"),
    Spike("del1", 124_000, 134_880, 0, "deep_deletion"),
)


def spikes_for(opt: Any) -> tuple[Spike, ...]:
    """The spikes of an instance: the default ones when ``opt.cnv`` is set and they lie
    inside its region, else none."""
    if not getattr(opt, "cnv", 0):
        return ()
    lo, hi = opt.start - 1, opt.end
    return tuple(s for s in SPIKES if lo + 1000 <= s.start and s.end <= hi - 1000)


def inside(pos: int, spikes: tuple[Spike, ...]) -> bool:
    """Whether the 1-based position lies in a spiked segment (with 300 bp to spare)."""
    return any(s.start - 300 <= pos - 1 < s.end + 300 for s in spikes)


def drop_somatic_inside(variants: list[Any], spikes: tuple[Spike, ...]) -> list[Any]:
    """The variants without the somatic ones inside a spiked segment."""
    return [v for v in variants if not (v.kind == "somatic" and inside(v.pos, spikes))]


def _component_offset(pos0: int, carried: list[Any]) -> int:
    """Where reference position ``pos0`` (0-based) lies in a component sequence made by
    ``apply``: the length change of the variants before it."""
    return sum(len(v.alt) - len(v.ref) for v in carried if v.pos - 1 < pos0)


def component_records(
    name: str, sequence: str, subclone: int, start0: int, carried: list[Any], spikes: Any
) -> list[tuple[str, str]]:
    """The FASTA records of one haplotype component: tumour subclones lose the deleted
    segments (one record per remaining piece); normal cells keep the whole region."""
    deletions = sorted((s for s in spikes if s.copies == 0), key=lambda s: s.start)
    if subclone == 0 or not deletions:
        return [(name, sequence)]
    records, cursor = [], 0
    for k, s in enumerate(deletions):
        a = s.start - start0 + _component_offset(s.start, carried)
        b = s.end - start0 + _component_offset(s.end, carried)
        records.append((f"{name}_{k}", sequence[cursor:a]))
        cursor = b
    records.append((f"{name}_{len(deletions)}", sequence[cursor:]))
    return [r for r in records if len(r[1]) > 1000]


def write_records(path: Path, records: list[tuple[str, str]]) -> None:
    with open(path, "w") as fh:
        for name, seq in records:
            fh.write(f">{name}\n")
            for i in range(0, len(seq), 60):
                fh.write(seq[i : i + 60] + "\n")


def amplified_reads(
    work: Path,
    seq: str,
    opt: Any,
    germline: list[Any],
    spikes: tuple[Spike, ...],
    run_art: Callable[[Path, float, int, Path], None],
    read_fastq: Callable[[Path], list[tuple[str, str]]],
    apply: Callable[[str, int, int, list[Any]], str],
) -> dict[str, list[tuple[str, ...]]]:
    """The extra read pairs of the amplified segments: homolog A (with its germline
    variants) of every tumour cell, in the tumour and in the normal's tumour share."""
    out: dict[str, list[tuple[str, ...]]] = {"tumour": [], "normal": []}
    for k, s in enumerate(x for x in spikes if x.copies > 2):
        carried = [v for v in germline if "A" in v.haplotypes and s.start < v.pos <= s.end]
        fasta = work / f"AMP{k}.fa"
        write_records(fasta, [(f"AMP{k}", apply(seq, s.start, s.end, carried))])
        extra = opt.purity / 2 * (s.copies - 2)
        depths = {
            "tumour": opt.tumour_depth * extra,
            "normal": opt.normal_depth * opt.contamination * extra,
        }
        for j, (sample, depth) in enumerate(depths.items()):
            if depth <= 0:
                continue
            prefix = work / f"AMP{k}_{sample}_"
            run_art(fasta, depth, opt.seed * 1000 + 900 + 10 * k + j, prefix)
            r1 = read_fastq(Path(f"{prefix}1.fq"))
            r2 = read_fastq(Path(f"{prefix}2.fq"))
            out[sample] += [(a[0], a[1], b[0], b[1]) for a, b in zip(r1, r2, strict=True)]
    return out


def genes_within(gff3: Path, contig: str, start: int, end: int) -> list[str]:
    """Names of the GFF3 genes lying wholly inside [start, end) (0-based half-open)."""
    names = []
    for line in gff3.read_text().splitlines():
        f = line.split("\t")
        if len(f) < 9 or f[0] != contig or f[2] != "gene":
            continue
        g0, g1 = int(f[3]) - 1, int(f[4])
        m = re.search(r"(?:^|;)Name=([^;]+)", f[8])
        if m and start <= g0 and g1 <= end:
            names.append(m.group(1))
    return names


def write_truth(out: Path, contig: str, spikes: tuple[Spike, ...], gff3: Path) -> None:
    """``truth/cnv.tsv``: the spiked segments and the genes wholly inside each."""
    rows = ["name\tchrom\tstart\tend\tcopies\tcall\tgenes"]
    for s in spikes:
        genes = ",".join(genes_within(gff3, contig, s.start, s.end))
        rows.append(f"{s.name}\t{contig}\t{s.start}\t{s.end}\t{s.copies}\t{s.call}\t{genes}")
    (out / "truth" / "cnv.tsv").write_text("\n".join(rows) + "\n")
