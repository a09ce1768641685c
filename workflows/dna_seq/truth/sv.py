"""Structural variants and gene fusions spiked into a truth instance, and their scorer.

``simulate.py --sv 1`` (``Options.sv``) adds contig ``2`` (GRCh37 2:1-200000 of the same
Sarek small FASTA, with its genes) to the instance's reference and GFF3, six clonal
heterozygous somatic SVs to the tumour and one germline SV to both samples (``SPIKES``;
every breakpoint lies outside ``Options.start..end``, where the small variants are, and
outside the N runs):

* a deletion, a tandem duplication and a balanced inversion between genes;
* a 10-kb deletion from OR4G4P (``+``, bases up to 1:53500 kept: its 5' part) into
  OR4G11P (``+``, bases from 1:63401 on: its 3' part), a fusion ``OR4G4P::OR4G11P`` (the
  TMPRSS2::ERG kind: two same-strand genes, the interval between them deleted);
* a translocation t(1;2) joining OR4F5 (``+``, its 5' part: the bases up to 1:69500) to
  the inverted 3' part of FAM110C (``-``, the bases up to 2:44000): BND ``t]p]``, the
  fusion ``OR4F5::FAM110C`` (the ETV6::NTRK3 kind: 5' partner's exons, then the 3'
  partner's in its own direction of transcription);
* a translocation with the same join (``t]p]``) between FAM138A (``-``, 1:35300) and
  FAM110C (``-``, 2:40000): both breakends keep their gene's 3' part (tail-to-tail), so
  the genes are annotated and no fusion is expected;
* and a germline control: a 2-kb heterozygous deletion (1:100001-102000) in every cell of
  both samples, which the somatic filter must refuse (``KIND=germline`` in the truth; a
  call of it is a false call, listed in ``germline_called``).

Every partner has an HGNC symbol (the annotation leaves clone-named loci out).

Reads: for each SV, windows of ``FLANK`` bp around every breakpoint of the reference
allele (the whole interval for the deletions and the duplication) and the derived allele
(the rearranged molecule); ``art_illumina`` as for the small variants. A clonal het SV at
purity p has tumour cells carrying the derived allele on one homolog: the tumour gets the
derived windows at depth ``tumour_depth * p/2`` and the reference windows at
``tumour_depth * (1 - p/2)`` (so the flanks have the full depth, a deleted interval
``1 - p/2`` of it and a duplicated one ``1 + p/2``); the normal gets the derived windows
at its tumour-in-normal share (``contamination * p/2``). Truth: ``truth/sv.vcf.gz``
(symbolic DEL/DUP/INV and BND records, with the expected ``GENE_A``, ``GENE_B`` and
``FUSION``) and ``truth/sv.json``.

Scoring (``score``): each record, truth or call, is a set of junctions (two breakends,
each with the side of its breakpoint kept: DEL left+right, DUP right+left, INV both
left+left and right+right or delly's CT, BND from the ALT's brackets). A call matches a
truth SV when one of its junctions has both breakends on the same contigs and sides as
one of the truth's junctions and each position within ``TOLERANCE`` bp (delly's imprecise
paired-end calls on the Manta demo were up to 104 bp off). Recall: truth SVs matched;
precision: calls matching a truth SV. This parser is written apart from the workflow's
``scripts/sv_annotate.py`` so that a mistake there cannot cancel out here.

    .venv/bin/python workflows/dna_seq/truth/sv.py score DIR         # a simulated instance
    .venv/bin/python workflows/dna_seq/truth/sv.py manta CALLS.vcf.gz  # the Manta demo
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[3]
SHARED = (REPO / ".." / "shared" / "data").resolve()
FASTA = SHARED / "genome" / "sarek-data" / "reference" / "human_g1k_v37_decoy.small.fasta.gz"
GFF3 = SHARED / "annotation" / "grch37-ensembl75" / "sarek_small.GRCh37.75.gff3"
MANTA = SHARED / "genome" / "manta-demo"
MANTA_EXPECTED = MANTA / "expectedResults" / "somaticSV.vcf.gz"
CONTIG2 = "2"
FLANK = 1500
TOLERANCE = 200
COMPLEMENT = str.maketrans("ACGTN", "TGCAN")
LEFT, RIGHT = "left", "right"


@dataclass(frozen=True)
class Spike:
    """One somatic SV. ``pos``/``end`` are the VCF POS and END (DEL/DUP/INV: the base
    before the interval and its last base); BND: ``pos`` on ``chrom`` joined to ``end``
    on ``chrom2`` with the sides ``sides``."""

    name: str
    svtype: str
    chrom: str
    pos: int
    end: int
    chrom2: str = "1"
    sides: tuple[str, str] = (LEFT, RIGHT)
    gene_a: str = ""
    gene_b: str = ""
    fusion: str = ""
    germline: bool = False  # in both samples at 0.5: the somatic filter must refuse it


SPIKES: tuple[Spike, ...] = (
    Spike("del_intergenic", "DEL", "1", 40_000, 43_000),
    Spike("dup_intergenic", "DUP", "1", 75_000, 77_000, sides=(RIGHT, LEFT)),
    Spike("inv_intergenic", "INV", "1", 81_000, 84_000, sides=(LEFT, LEFT)),
    Spike(
        "del_fusion", "DEL", "1", 53_500, 63_400,
        gene_a="OR4G4P", gene_b="OR4G11P", fusion="OR4G4P::OR4G11P",
    ),
    Spike(
        "tra_fusion", "BND", "1", 69_500, 44_000, chrom2=CONTIG2, sides=(LEFT, LEFT),
        gene_a="OR4F5", gene_b="FAM110C", fusion="OR4F5::FAM110C",
    ),
    Spike(
        "tra_tail_to_tail", "BND", "1", 35_300, 40_000, chrom2=CONTIG2, sides=(LEFT, LEFT),
        gene_a="FAM138A", gene_b="FAM110C",
    ),
    Spike("del_germline", "DEL", "1", 100_000, 102_000, germline=True),
)  # fmt: skip


def read_fasta(path: Path) -> dict[str, str]:
    """Every contig of a (gzip) FASTA, upper case."""
    seqs: dict[str, list[str]] = {}
    name = ""
    with gzip.open(path, "rt") as fh:
        for line in fh:
            if line.startswith(">"):
                name = line[1:].split()[0]
                seqs[name] = []
            else:
                seqs[name].append(line.strip())
    return {k: "".join(v).upper() for k, v in seqs.items()}


def revcomp(seq: str) -> str:
    return seq.translate(COMPLEMENT)[::-1]


def alleles(spike: Spike, genome: dict[str, str]) -> tuple[list[str], list[str]]:
    """(reference windows, derived windows) of one SV, as sequences."""
    a, f = genome[spike.chrom], FLANK
    p, e = spike.pos, spike.end  # 1-based
    if spike.svtype == "DEL":  # bases p+1..e removed
        return [a[p - f : e + f]], [a[p - f : p] + a[e : e + f]]
    if spike.svtype == "DUP":  # bases p+1..e twice
        return [a[p - f : e + f]], [a[p - f : e] + a[p:e] + a[e : e + f]]
    if spike.svtype == "INV":  # bases p+1..e reversed
        return [a[p - f : e + f]], [a[p - f : p] + revcomp(a[p:e]) + a[e : e + f]]
    b = genome[spike.chrom2]
    refs = [a[p - f : p + f], b[e - f : e + f]]
    left_a = a[p - f : p] if spike.sides[0] == LEFT else revcomp(a[p - 1 : p - 1 + f])
    piece_b = b[e - 1 : e - 1 + f] if spike.sides[1] == RIGHT else revcomp(b[e - f : e])
    return refs, [left_a + piece_b]


def check_layout(start: int, end: int) -> None:
    """Every SV window must lie outside the small variants' region [start, end]."""
    for s in SPIKES:
        spans = [(s.chrom, s.pos - FLANK, (s.end if s.chrom2 == s.chrom else s.pos) + FLANK)]
        if s.chrom2 != s.chrom:
            spans.append((s.chrom2, s.end - FLANK, s.end + FLANK))
        for chrom, lo, hi in spans:
            if chrom == "1" and lo <= end and start <= hi:
                raise ValueError(
                    f"SV {s.name} ({chrom}:{lo}-{hi}) overlaps the small-variant region "
                    f"{start}-{end}: choose --start/--end outside the SV windows "
                    "(e.g. --start 155001 --end 165000)"
                )


def _fasta(path: Path, seqs: Iterable[tuple[str, str]]) -> Path:
    with open(path, "w") as fh:
        for name, seq in seqs:
            fh.write(f">{name}\n")
            for i in range(0, len(seq), 60):
                fh.write(seq[i : i + 60] + "\n")
    return path


def extend_reference(out: Path, genome: dict[str, str]) -> None:
    """Add contig 2 to the instance's genome.fa.gz and its genes to annotation.gff3."""
    ref = out / "data" / "reference"
    with gzip.open(ref / "genome.fa.gz", "rt") as fh:
        text = fh.read()
    seq = genome[CONTIG2]
    text += f">{CONTIG2}\n" + "".join(seq[i : i + 60] + "\n" for i in range(0, len(seq), 60))
    with (
        open(ref / "genome.fa.gz", "wb") as raw,
        gzip.GzipFile(filename="", fileobj=raw, mode="wb", mtime=0) as gz,
    ):
        gz.write(text.encode())
    extra = [ln for ln in GFF3.read_text().splitlines() if ln.split("\t")[0] == CONTIG2]
    with open(ref / "annotation.gff3", "a") as fh:
        fh.write("\n".join(extra) + "\n")


def spike(
    opt: Any,
    out: Path,
    run_art: Callable[[Path, float, int, Path], None],
    read_fastq: Callable[[Path], list[tuple[str, str]]],
) -> dict[str, list[tuple[str, ...]]]:
    """Add the SVs to the instance in ``out``; returns the extra read pairs per sample."""
    check_layout(opt.start, opt.end)
    genome = read_fasta(FASTA)
    extend_reference(out, genome)
    windows: dict[tuple[bool, str], list[tuple[str, str]]] = {}
    for s in SPIKES:
        r, d = alleles(s, genome)
        windows.setdefault((s.germline, "ref"), []).extend(
            (f"{s.name}_ref{i}", seq) for i, seq in enumerate(r)
        )
        windows.setdefault((s.germline, "alt"), []).extend(
            (f"{s.name}_alt{i}", seq) for i, seq in enumerate(d)
        )
    het = opt.purity / 2
    plan = [  # (sample, windows, depth, seed offset); germline: a het in every cell
        ("tumour", windows[False, "ref"], opt.tumour_depth * (1 - het), 1),
        ("tumour", windows[False, "alt"], opt.tumour_depth * het, 2),
        ("normal", windows[False, "ref"], opt.normal_depth * (1 - opt.contamination * het), 3),
        ("normal", windows[False, "alt"], opt.normal_depth * opt.contamination * het, 4),
        ("tumour", windows[True, "ref"], opt.tumour_depth / 2, 5),
        ("tumour", windows[True, "alt"], opt.tumour_depth / 2, 6),
        ("normal", windows[True, "ref"], opt.normal_depth / 2, 7),
        ("normal", windows[True, "alt"], opt.normal_depth / 2, 8),
    ]
    pairs: dict[str, list[tuple[str, ...]]] = {"tumour": [], "normal": []}
    with tempfile.TemporaryDirectory(prefix="oncolake-sv-") as tmp:
        for sample, seqs, depth, k in plan:
            if depth <= 0:
                continue
            fasta = _fasta(Path(tmp) / f"{sample}{k}.fa", seqs)
            prefix = Path(tmp) / f"{sample}{k}_"
            run_art(fasta, depth, opt.seed * 1000 + 900 + k, prefix)
            r1 = read_fastq(Path(f"{prefix}1.fq"))
            r2 = read_fastq(Path(f"{prefix}2.fq"))
            pairs[sample] += [(a[0], a[1], b[0], b[1]) for a, b in zip(r1, r2, strict=True)]
    write_truth(out / "truth", genome)
    return pairs


def truth_records(genome: dict[str, str]) -> list[str]:
    """The truth VCF body lines, sorted."""
    rows = []
    for s in SPIKES:
        base = genome[s.chrom][s.pos - 1]
        info = [f"SVTYPE={s.svtype}"]
        if s.svtype == "BND":
            bracket = "]" if s.sides[1] == LEFT else "["
            mate = f"{bracket}{s.chrom2}:{s.end}{bracket}"
            alt = base + mate if s.sides[0] == LEFT else mate + base
            info += [f"CHR2={s.chrom2}", f"POS2={s.end}"]
        else:
            alt = f"<{s.svtype}>"
            info.append(f"END={s.end}")
        info += [f"{k}={v}" for k, v in (("GENE_A", s.gene_a), ("GENE_B", s.gene_b)) if v]
        if s.fusion:
            info.append(f"FUSION={s.fusion}")
        info.append("KIND=germline" if s.germline else "KIND=somatic")
        rows.append((s.chrom, s.pos, f"{s.chrom}\t{s.pos}\t{s.name}\t{base}\t{alt}\t.\tPASS\t"
                     + ";".join(info)))  # fmt: skip
    return [r for *_, r in sorted(rows)]


def write_truth(truth: Path, genome: dict[str, str]) -> None:
    head = [
        "##fileformat=VCFv4.2",
        *(f"##contig=<ID={c},length={len(genome[c])}>" for c in ("1", CONTIG2)),
        *(f'##ALT=<ID={t},Description="{t}">' for t in ("DEL", "DUP", "INV")),
        '##INFO=<ID=SVTYPE,Number=1,Type=String,Description="SV type">',
        '##INFO=<ID=END,Number=1,Type=Integer,Description="Last base of the interval">',
        '##INFO=<ID=CHR2,Number=1,Type=String,Description="Mate contig">',
        '##INFO=<ID=POS2,Number=1,Type=Integer,Description="Mate position">',
        '##INFO=<ID=GENE_A,Number=.,Type=String,Description="Expected genes at POS">',
        '##INFO=<ID=GENE_B,Number=.,Type=String,Description="Expected genes at the mate">',
        '##INFO=<ID=FUSION,Number=.,Type=String,Description="Expected fusion">',
        '##INFO=<ID=KIND,Number=1,Type=String,Description="somatic, or germline (not to call)">',
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO",
    ]
    plain = truth / "sv.vcf"
    plain.write_text("\n".join(head + truth_records(genome)) + "\n")
    subprocess.run(["bgzip", "-f", str(plain)], check=True)
    subprocess.run(["tabix", "-f", "-p", "vcf", str(truth / "sv.vcf.gz")], check=True)
    doc = {
        "generator": "workflows/dna_seq/truth/sv.py",
        "flank": FLANK,
        "zygosity": "clonal heterozygous (tumour ALT fraction purity / 2)",
        "spikes": [asdict(s) for s in SPIKES],
    }
    (truth / "sv.json").write_text(json.dumps(doc, indent=2) + "\n")


# ---- scoring ---------------------------------------------------------------------------

_BND = re.compile(r"^([A-Za-z.]*)([\[\]])([^:\[\]]+):(\d+)([\[\]])([A-Za-z.]*)$")
Breakend = tuple[str, int, str]  # contig, 1-based position, side kept


@dataclass
class Record:
    """One SV record as junctions, with its INFO and FILTER."""

    id: str
    chrom: str
    pos: int
    svtype: str
    filter: str
    info: dict[str, str]
    junctions: list[tuple[Breakend, Breakend]]


def record_junctions(
    chrom: str, pos: int, alt: str, info: dict[str, str]
) -> list[tuple[Breakend, Breakend]]:
    m = _BND.match(alt)
    if m:
        pre, b, mchrom, mpos = m[1], m[2], m[3], int(m[4])
        side = LEFT if pre else RIGHT
        # t[p[ / [p[t: the mate's bases from p on are joined; t]p] / ]p]t: those up to p.
        mate_side = RIGHT if b == "[" else LEFT
        return [((chrom, pos, side), (mchrom, mpos, mate_side))]
    svtype = info.get("SVTYPE", alt.strip("<>").split(":")[0])
    end = int(info.get("END", pos))
    ct = info.get("CT", "")
    sides = {"DEL": [(LEFT, RIGHT)], "DUP": [(RIGHT, LEFT)], "INV": [(LEFT, LEFT), (RIGHT, RIGHT)]}
    pairs: list[tuple[str, str]] = sides.get(svtype, [])
    if re.fullmatch(r"[35]to[35]", ct) and svtype != "BND":
        pairs = [(LEFT if ct[0] == "3" else RIGHT, LEFT if ct[-1] == "3" else RIGHT)]
    return [((chrom, pos, a), (chrom, end, b)) for a, b in pairs]


def _kv(item: str) -> tuple[str, str]:
    key, _, value = item.partition("=")
    return key, value if _ else "1"


def read_records(vcf: Path) -> list[Record]:
    """The records of a VCF (plain or gzip) as junctions; Manta's mate pairs once."""
    opener = gzip.open if str(vcf).endswith(".gz") else open
    out: list[Record] = []
    seen_mates: set[str] = set()
    with opener(vcf, "rt") as fh:
        for line in fh:
            if line.startswith("#"):
                continue
            f = line.rstrip("\n").split("\t")
            info = dict(_kv(kv) for kv in f[7].split(";"))
            if info.get("MATEID") in seen_mates:
                continue
            seen_mates.add(f[2])
            chrom, pos, alt = f[0], int(f[1]), f[4]
            svtype = info.get("SVTYPE", "")
            out.append(
                Record(
                    f[2], chrom, pos, svtype, f[6], info, record_junctions(chrom, pos, alt, info)
                )
            )
    return out


def _near(x: Breakend, y: Breakend, tol: int) -> bool:
    return x[0] == y[0] and x[2] == y[2] and abs(x[1] - y[1]) <= tol


def matches(call: Record, truth: Record, tol: int = TOLERANCE) -> bool:
    for a1, b1 in call.junctions:
        for a2, b2 in truth.junctions:
            if (_near(a1, a2, tol) and _near(b1, b2, tol)) or (
                _near(a1, b2, tol) and _near(b1, a2, tol)
            ):
                return True
    return False


@dataclass
class SVScore:
    """Recall over truth SVs, precision over calls, and the fusions as annotated."""

    truth: int
    calls: int
    found: list[str]
    missed: list[str]
    false_calls: list[str]
    germline_called: list[str]
    recall: float
    precision: float
    pass_only: bool
    tolerance_bp: int
    fusions: dict[str, dict[str, str]] = field(default_factory=dict)


def score(
    truth_vcf: Path, calls_vcf: Path, pass_only: bool = False, tol: int = TOLERANCE
) -> SVScore:
    """Calls against truth; ``fusions`` maps each truth SV with expected genes to the
    GENE_A/GENE_B/FUSION of the call that matched it (or ``{}``)."""
    every = read_records(truth_vcf)
    truth = [t for t in every if t.info.get("KIND") != "germline"]
    germline = [t for t in every if t.info.get("KIND") == "germline"]
    calls = [c for c in read_records(calls_vcf) if not pass_only or c.filter in ("PASS", ".")]
    found: list[str] = []
    missed: list[str] = []
    fusions: dict[str, dict[str, str]] = {}
    for t in truth:
        hit = [c for c in calls if matches(c, t, tol)]
        (found if hit else missed).append(t.id)
        if "GENE_A" in t.info or "GENE_B" in t.info or "FUSION" in t.info:
            keys = ("GENE_A", "GENE_B", "FUSION")
            fusions[t.id] = {k: hit[0].info.get(k, "") for k in keys} if hit else {}
    false_calls = [c.id for c in calls if not any(matches(c, t, tol) for t in truth)]
    n_calls = len(calls)
    return SVScore(
        truth=len(truth),
        calls=n_calls,
        found=found,
        missed=missed,
        false_calls=false_calls,
        germline_called=[g.id for g in germline if any(matches(c, g, tol) for c in calls)],
        recall=round(len(found) / len(truth), 4) if truth else 0.0,
        precision=round((n_calls - len(false_calls)) / n_calls, 4) if n_calls else 0.0,
        pass_only=pass_only,
        tolerance_bp=tol,
        fusions=fusions,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("score", help="score a simulated instance's SV calls")
    p.add_argument("instance", type=Path)
    p.add_argument("--calls", type=Path)
    m = sub.add_parser("manta", help="score calls against the Manta demo's expected SVs")
    m.add_argument("calls", type=Path)
    for q in (p, m):
        q.add_argument("--pass-only", action="store_true")
    args = parser.parse_args(argv)
    if args.cmd == "score":
        meta = json.loads((args.instance / "truth" / "truth.json").read_text())
        calls = args.calls or (
            args.instance
            / "results"
            / "annotated"
            / "sv"
            / f"{meta['patient']}.sv.annotated.vcf.gz"
        )
        truth = args.instance / "truth" / "sv.vcf.gz"
    else:
        calls, truth = args.calls, MANTA_EXPECTED
    for path in (calls, truth):
        if not path.exists():
            print(f"sv: {path} does not exist", file=sys.stderr)
            return 2
    print(json.dumps(asdict(score(truth, calls, args.pass_only)), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
