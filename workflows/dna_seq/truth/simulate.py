"""A seeded tumour/normal truth set for workflows/dna_seq: reads simulated with ART from a
real GRCh37 region, with germline and somatic variants at known allele fractions.

What it builds (all from ``../shared/data``; the same seed gives byte-identical files):

* reference: contig ``1`` of the Sarek small GRCh37 FASTA (GRCh37 1:1-200000) and its
  Ensembl 75 GFF3 (``annotation/grch37-ensembl75/sarek_small.GRCh37.75.gff3``);
* a normal: two haplotypes (A, B) carrying germline SNVs drawn from dbSNP 138 COMMON
  records in the region (het 2/3, hom 1/3) and a few random germline indels;
* a tumour of purity ``purity``: somatic SNVs and 1-10 bp indels (a share of them in
  homopolymers) on one haplotype each, in nested subclones so that the expected
  allele fractions are the bins ``VAF_BINS`` and clonal (``purity / 2``);
* ``contamination``: that fraction of the normal's reads comes from the tumour;
* artefacts (``--oxidation N``): G>T in the read's own orientation (8-oxoG damage: ref G
  changed only in forward-strand reads, ref C only in reverse-strand reads) at N sites
  of the tumour, the pattern of the ``.test`` artefact 1:138980 G>T;
* reads: ``art_illumina`` (HiSeq 2000 profile, 2x100 bp, fragments 300 +- 30 bp), one run
  per haplotype component with its own seed and coverage, pairs shuffled, renamed and
  split into two lanes per sample (gzip, mtime 0);
* a ready centre: ``config/{config.yaml,samples.tsv,units.tsv}`` for the workflow, and
  ``truth/{somatic,germline,artefacts}.vcf.gz`` plus ``truth/truth.json``.

    .venv/bin/python workflows/dna_seq/truth/simulate.py --seed 1 --out /tmp/truth1

How the allele fractions come about: each haplotype h (A, B) of the tumour is split into
components S1..S5 (weights 0.05, 0.05, 0.10, 0.20, purity/2 - 0.40 of all tumour reads)
and the normal-cell part N_h ((1 - purity) / 2). A somatic variant of bin v is carried by
S1..Sj with w1 + ... + wj = v (nested subclones: S1 is the most evolved), so its expected
VAF is v; a germline het has VAF 0.5 in both samples.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import importlib.util
import itertools
import json
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[3]
HERE = Path(__file__).resolve().parent
SHARED = (REPO / ".." / "shared" / "data").resolve()
FASTA = SHARED / "genome" / "sarek-data" / "reference" / "human_g1k_v37_decoy.small.fasta.gz"
GFF3 = SHARED / "annotation" / "grch37-ensembl75" / "sarek_small.GRCh37.75.gff3"
DBSNP = SHARED / "genome" / "sarek-data" / "reference" / "dbsnp_138.b37.small.COMMON.vcf.gz"
CONTIG = "1"

#: Expected tumour VAF bins below clonal; clonal = purity / 2.
VAF_BINS = (0.05, 0.10, 0.20, 0.40)
READ_LENGTH = 100
FRAGMENT_MEAN, FRAGMENT_SD = 300, 30
ART_PROFILE = "HS20"
#: Variants keep this distance from each other and from the region's ends (bp).
MIN_GAP = 150
EDGE = 500
COMPLEMENT = str.maketrans("ACGTN", "TGCAN")


def _issue23_module(name: str) -> Any:
    """A module beside this file (truth/cnv.py, ...), whether run as a script or loaded."""
    spec = importlib.util.spec_from_file_location(
        f"dna_seq_truth_{name}", Path(__file__).with_name(f"{name}.py")
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


truth_cnv, truth_msi, truth_tmb = (_issue23_module(n) for n in ("cnv", "msi", "tmb"))


@dataclass(frozen=True)
class Options:
    """The knobs of one truth instance (all recorded in truth.json)."""

    seed: int = 1
    start: int = 60_001  # 1-based, inclusive
    end: int = 160_000  # 1-based, inclusive
    tumour_depth: float = 150.0
    normal_depth: float = 50.0
    purity: float = 0.9
    contamination: float = 0.05
    somatic_per_bin: int = 30
    indel_share: float = 0.3
    homopolymer_share: float = 0.5
    germline_indels: int = 10
    germline_share: float = 0.7
    oxidation: int = 10
    oxidation_depth_share: float = 0.3
    threads: int = 2
    sv: int = 0  # 1: structural variants and fusions spiked in (truth/sv.py)
    # Issue 23 copy number, TMB and MSI spikes (truth/cnv.py, tmb.py, msi.py); off by default.
    cnv: int = 0
    coding_snvs: int = 0
    msi: float = 0.0


@dataclass
class Variant:
    pos: int  # 1-based VCF position
    ref: str
    alt: str
    kind: str  # germline | somatic | artefact
    vaf: float  # expected tumour VAF (germline: 0.5 het, 1.0 hom)
    haplotypes: tuple[str, ...] = ()  # "A"/"B" (germline) or "A"/"B" (somatic homolog)
    bin: str = ""
    info: dict[str, str] = field(default_factory=dict)


def read_contig(path: Path, name: str) -> str:
    """The sequence of one contig of a (gzip) FASTA, upper case."""
    out: list[str] = []
    keep = False
    with gzip.open(path, "rt") as fh:
        for line in fh:
            if line.startswith(">"):
                if keep:
                    break
                keep = line[1:].split()[0] == name
            elif keep:
                out.append(line.strip())
    if not out:
        raise ValueError(f"{path}: no contig {name!r}")
    return "".join(out).upper()


def dbsnp_snvs(start: int, end: int) -> list[tuple[int, str, str]]:
    """Biallelic dbSNP COMMON SNVs on the contig within [start, end] (1-based)."""
    out = []
    with gzip.open(DBSNP, "rt") as fh:
        for line in fh:
            if line.startswith("#"):
                continue
            chrom, pos, _id, ref, alt = line.split("\t", 5)[:5]
            p = int(pos)
            if chrom == CONTIG and start <= p <= end and len(ref) == 1 and len(alt) == 1:
                out.append((p, ref, alt))
    return out


def homopolymer_starts(seq: str, start: int, end: int, min_len: int = 5) -> list[tuple[int, int]]:
    """(0-based run start, run length) of homopolymer runs >= min_len inside [start, end)."""
    runs = []
    for m in re.finditer(rf"([ACGT])\1{{{min_len - 1},}}", seq[start:end]):
        runs.append((start + m.start(), m.end() - m.start()))
    return runs


class Picker:
    """Positions that keep MIN_GAP from every position taken so far."""

    def __init__(self) -> None:
        self.taken: list[int] = []

    def free(self, pos: int) -> bool:
        return all(abs(pos - t) >= MIN_GAP for t in self.taken)

    def take(self, pos: int) -> None:
        self.taken.append(pos)


def random_bases(rng: np.random.Generator, n: int) -> str:
    return "".join(rng.choice(list("ACGT"), size=n))


def make_indel(
    seq: str, rng: np.random.Generator, pos0: int, homopolymer: tuple[int, int] | None
) -> tuple[int, str, str]:
    """An indel as (1-based pos, REF, ALT) with a left anchor base."""
    if homopolymer is not None:
        run0, run_len = homopolymer
        base = seq[run0]
        anchor = run0 - 1  # the base before the run: the left-aligned representation
        length = int(rng.integers(1, min(3, run_len - 1) + 1))
        if rng.random() < 0.5:
            return anchor + 1, seq[anchor : anchor + 1 + length], seq[anchor]
        return anchor + 1, seq[anchor], seq[anchor] + base * length
    length = int(rng.integers(1, 11))
    if rng.random() < 0.5:
        return pos0 + 1, seq[pos0 : pos0 + 1 + length], seq[pos0]
    return pos0 + 1, seq[pos0], seq[pos0] + random_bases(rng, length)


def choose_variants(seq: str, opt: Options, rng: np.random.Generator) -> list[Variant]:
    """Germline, somatic and artefact variants of one instance, sorted by position."""
    lo, hi = opt.start - 1 + EDGE, opt.end - EDGE  # 0-based window for variants
    picker = Picker()
    variants: list[Variant] = []

    # Germline SNVs: a seeded subset of the dbSNP COMMON records in the region.
    for pos, ref, alt in dbsnp_snvs(lo + 1, hi):
        if seq[pos - 1] != ref or rng.random() >= opt.germline_share or not picker.free(pos):
            continue
        picker.take(pos)
        hom = rng.random() < 1 / 3
        haps = ("A", "B") if hom else (str(rng.choice(["A", "B"])),)
        variants.append(Variant(pos, ref, alt, "germline", 1.0 if hom else 0.5, haps))

    def free_position() -> int:
        for _ in range(10_000):
            p0 = int(rng.integers(lo, hi))
            if picker.free(p0 + 1) and "N" not in seq[p0 - 1 : p0 + 12]:
                return p0
        raise ValueError("region too small for the requested number of variants")

    for _ in range(opt.germline_indels):
        p0 = free_position()
        pos, ref, alt = make_indel(seq, rng, p0, None)
        picker.take(pos)
        haps = (str(rng.choice(["A", "B"])),)
        variants.append(Variant(pos, ref, alt, "germline", 0.5, haps))

    runs = [r for r in homopolymer_starts(seq, lo, hi) if picker.free(r[0])]
    clonal = round(opt.purity / 2, 4)
    bins = [*VAF_BINS, clonal]
    for vaf in bins:
        label = "clonal" if vaf == clonal else f"{vaf:.2f}"
        for _ in range(opt.somatic_per_bin):
            homolog = (str(rng.choice(["A", "B"])),)
            if rng.random() < opt.indel_share:
                hp = None
                if rng.random() < opt.homopolymer_share:
                    usable = [r for r in runs if picker.free(r[0])]
                    if usable:
                        hp = usable[int(rng.integers(len(usable)))]
                p0 = hp[0] if hp else free_position()
                pos, ref, alt = make_indel(seq, rng, p0, hp)
                info = {"TYPE": "INDEL", "HOMOPOLYMER": "1" if hp else "0"}
            else:
                p0 = free_position()
                pos, ref = p0 + 1, seq[p0]
                alt = str(rng.choice([b for b in "ACGT" if b != ref]))
                info = {"TYPE": "SNV", "HOMOPOLYMER": "0"}
            picker.take(pos)
            variants.append(Variant(pos, ref, alt, "somatic", vaf, homolog, label, info))

    for _ in range(opt.oxidation):
        for _ in range(10_000):
            p0 = free_position()
            if seq[p0] in "GC":
                break
        ref = seq[p0]
        alt = "T" if ref == "G" else "A"
        picker.take(p0 + 1)
        strand = "forward" if ref == "G" else "reverse"
        variants.append(Variant(p0 + 1, ref, alt, "artefact", 0.0, (), "", {"STRAND": strand}))
    return sorted(variants, key=lambda v: v.pos)


def apply(seq: str, start0: int, end0: int, variants: list[Variant]) -> str:
    """The region [start0, end0) with the variants applied (non-overlapping by MIN_GAP)."""
    out: list[str] = []
    cursor = start0
    for v in sorted(variants, key=lambda v: v.pos):
        p0 = v.pos - 1
        out.append(seq[cursor:p0])
        out.append(v.alt)
        cursor = p0 + len(v.ref)
    out.append(seq[cursor:end0])
    return "".join(out)


def components(opt: Options) -> list[tuple[str, str, int, float, float]]:
    """(name, homolog, subclone index 1..5 or 0 for normal cells, tumour weight,
    normal weight) of every haplotype component; weights are shares of the reads."""
    clonal = opt.purity / 2
    weights = [VAF_BINS[0]] + [b - a for a, b in itertools.pairwise(VAF_BINS)]
    weights.append(clonal - VAF_BINS[-1])
    if min(weights) <= 0:
        raise ValueError(f"purity {opt.purity} must exceed 2 x {VAF_BINS[-1]}")
    c = opt.contamination
    out = []
    for hap in ("A", "B"):
        normal_cells = (1 - opt.purity) / 2
        out.append((f"N{hap}", hap, 0, normal_cells, (1 - c) / 2 + c * normal_cells))
        for k, w in enumerate(weights, start=1):
            out.append((f"S{k}{hap}", hap, k, w, c * w))
    return out


def somatic_in(v: Variant, subclone: int, opt: Options) -> bool:
    """Whether subclone k carries somatic variant v (nested: bin v is in S1..Sj)."""
    if subclone == 0:
        return False
    bins = [*VAF_BINS, opt.purity / 2]
    j = min(range(len(bins)), key=lambda i: abs(bins[i] - v.vaf)) + 1
    return subclone <= j


def run_art(fasta: Path, depth: float, seed: int, prefix: Path) -> None:
    """art_illumina paired-end at ``depth``-fold coverage (writes prefix1.fq, prefix2.fq,
    and prefix.sam with the true alignments)."""
    cmd = [
        "art_illumina", "-ss", ART_PROFILE, "-i", str(fasta), "-p", "-l", str(READ_LENGTH),
        "-f", f"{depth:.6f}", "-m", str(FRAGMENT_MEAN), "-s", str(FRAGMENT_SD),
        "-rs", str(seed), "-o", str(prefix), "-na", "-q", "-sam",
    ]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"art_illumina failed ({proc.returncode}): {proc.stderr[-500:]}")


def read_fastq(path: Path) -> list[tuple[str, str]]:
    """(sequence, quality) of every record."""
    lines = path.read_text().splitlines()
    return [(lines[i + 1], lines[i + 3]) for i in range(0, len(lines), 4)]


def oxidise(prefix: Path, region_start0: int, sites: list[Variant]) -> list[tuple[str, ...]]:
    """Pairs of the artefact component in which exactly one read covers an artefact site
    on the damaged strand: that base is changed (G>T read-orientation); others dropped."""
    by_pos = {v.pos - 1 - region_start0: v for v in sites}  # 0-based, region coordinates
    r1 = read_fastq(Path(f"{prefix}1.fq"))
    r2 = read_fastq(Path(f"{prefix}2.fq"))
    covered: dict[int, list[tuple[int, int, bool, int]]] = {}
    index = 0
    with open(f"{prefix}.sam") as fh:
        for line in fh:
            if line.startswith("@"):
                continue
            f = line.split("\t")
            flag, pos0, cigar = int(f[1]), int(f[3]) - 1, f[5]
            mate = 0 if flag & 64 else 1
            ref_i, q_i = pos0, 0
            hits = []
            for n, op in re.findall(r"(\d+)([=XMIDS])", cigar):
                n = int(n)
                if op in "=XM":
                    for k in range(n):
                        if ref_i + k in by_pos:
                            hits.append((ref_i + k, q_i + k))
                    ref_i += n
                    q_i += n
                elif op in "IS":
                    q_i += n
                elif op == "D":
                    ref_i += n
            pair = index // 2
            index += 1
            for site, qpos in hits:
                covered.setdefault(pair, []).append((mate, qpos, bool(flag & 16), site))
    pairs = []
    for pair, hits in sorted(covered.items()):
        reads = [list(r1[pair]), list(r2[pair])]
        damaged = False
        ok = True
        for mate, qpos, reverse, site in hits:
            v = by_pos[site]
            want_reverse = v.info["STRAND"] == "reverse"
            if reverse != want_reverse:
                ok = False  # the other strand covers the site too: would show REF there
                continue
            seq, qual = reads[mate]
            length = len(seq)
            i = length - 1 - qpos if reverse else qpos
            base = v.alt.translate(COMPLEMENT) if reverse else v.alt
            reads[mate][0] = seq[:i] + base + seq[i + 1 :]
            assert len(reads[mate][1]) == length and qual
            damaged = True
        if damaged and ok:
            pairs.append((reads[0][0], reads[0][1], reads[1][0], reads[1][1]))
    return pairs


def write_fasta(path: Path, name: str, seq: str) -> None:
    with open(path, "w") as fh:
        fh.write(f">{name}\n")
        for i in range(0, len(seq), 60):
            fh.write(seq[i : i + 60] + "\n")


def gzip_text(path: Path, text: str) -> None:
    """Deterministic gzip (no name, mtime 0)."""
    with open(path, "wb") as raw, gzip.GzipFile(filename="", fileobj=raw, mode="wb", mtime=0) as gz:
        gz.write(text.encode())


def write_lanes(
    out: Path, sample: str, pairs: list[tuple[str, ...]], rng: np.random.Generator
) -> list[tuple[str, str, str]]:
    """Shuffle pairs, rename them, split into lanes L001/L002; returns (unit, fq1, fq2)."""
    order = rng.permutation(len(pairs))
    lanes: dict[str, tuple[list[str], list[str]]] = {"L001": ([], []), "L002": ([], [])}
    for n, i in enumerate(order):
        s1, q1, s2, q2 = pairs[i]
        lane = "L001" if n % 2 == 0 else "L002"
        name = f"sim:{sample}:{lane}:{n + 1}"
        lanes[lane][0].append(f"@{name}/1\n{s1}\n+\n{q1}\n")
        lanes[lane][1].append(f"@{name}/2\n{s2}\n+\n{q2}\n")
    units = []
    for lane, (one, two) in lanes.items():
        fq1 = out / "data" / "reads" / f"{sample}_{lane}_R1.fastq.gz"
        fq2 = out / "data" / "reads" / f"{sample}_{lane}_R2.fastq.gz"
        gzip_text(fq1, "".join(one))
        gzip_text(fq2, "".join(two))
        units.append((lane, str(fq1.relative_to(out)), str(fq2.relative_to(out))))
    return units


def vcf_text(variants: list[Variant], contig_len: int, with_samples: bool) -> str:
    head = [
        "##fileformat=VCFv4.2",
        f"##contig=<ID={CONTIG},length={contig_len}>",
        '##INFO=<ID=KIND,Number=1,Type=String,Description="germline, somatic, artefact or msi">',
        '##INFO=<ID=VAF,Number=1,Type=Float,Description="Expected tumour allele fraction">',
        '##INFO=<ID=BIN,Number=1,Type=String,Description="VAF bin: 0.05 0.10 0.20 0.40 clonal">',
        '##INFO=<ID=TYPE,Number=1,Type=String,Description="SNV or INDEL">',
        '##INFO=<ID=HOMOPOLYMER,Number=1,Type=Integer,Description="1: indel in a homopolymer">',
        '##INFO=<ID=STRAND,Number=1,Type=String,Description="Artefact: strand of the ALT reads">',
        # issue 23 (truth/tmb.py, truth/msi.py)
        '##INFO=<ID=CODING,Number=1,Type=Integer,Description="1: a coding spike (truth/tmb.py)">',
        '##INFO=<ID=REPEAT,Number=1,Type=String,Description="MSI spike: run length x unit">',
        '##INFO=<ID=CHANGE,Number=1,Type=Integer,Description="MSI spike: length change, bp">',
    ]
    cols = "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO"
    if with_samples:
        head.append('##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">')
        cols += "\tFORMAT\tNORMAL"
    lines = [*head, cols]
    for v in variants:
        info = [f"KIND={v.kind}", f"VAF={v.vaf:g}"]
        if v.bin:
            info.append(f"BIN={v.bin}")
        info += [f"{k}={val}" for k, val in sorted(v.info.items())]
        row = f"{CONTIG}\t{v.pos}\t.\t{v.ref}\t{v.alt}\t.\tPASS\t{';'.join(info)}"
        if with_samples:
            gt = "1/1" if len(v.haplotypes) == 2 else "0/1"
            row += f"\tGT\t{gt}"
        lines.append(row)
    return "\n".join(lines) + "\n"


def bgzip_vcf(path: Path, text: str) -> None:
    plain = path.with_suffix("")
    plain.write_text(text)
    subprocess.run(["bgzip", "-f", str(plain)], check=True)
    subprocess.run(["tabix", "-f", "-p", "vcf", str(path)], check=True)


def simulate(opt: Options, out: Path) -> dict[str, object]:
    """Write one truth instance into ``out`` (created; must not hold an earlier one)."""
    for tool in ("art_illumina", "bgzip", "tabix"):
        if shutil.which(tool) is None:
            raise RuntimeError(f"{tool} is not on PATH (make tools installs it)")
    if (out / "truth" / "truth.json").exists():
        raise FileExistsError(f"{out} already holds a truth instance; use a fresh directory")
    rng = np.random.default_rng(opt.seed)
    seq = read_contig(FASTA, CONTIG)
    if not 1 <= opt.start < opt.end <= len(seq) or opt.end - opt.start < 2 * EDGE + MIN_GAP:
        raise ValueError(f"region {opt.start}-{opt.end} is not inside contig {CONTIG}")
    variants = choose_variants(seq, opt, rng)
    cnv_spikes = truth_cnv.spikes_for(opt)
    variants = truth_cnv.drop_somatic_inside(variants, cnv_spikes)
    variants += truth_tmb.coding_spikes(seq, opt, variants, cnv_spikes, GFF3, CONTIG, Variant)
    msi_sites = truth_msi.spikes(seq, opt, variants, cnv_spikes, Variant)
    variants.sort(key=lambda v: v.pos)
    start0, end0 = opt.start - 1, opt.end
    for sub in ("config", "data/reads", "data/reference", "truth"):
        (out / sub).mkdir(parents=True, exist_ok=True)

    # The reference and annotation the centre maps against (the whole 200-kb contig).
    write_fasta(out / "data" / "reference" / "genome.fa", CONTIG, seq)
    fa = out / "data" / "reference" / "genome.fa"
    gzip_text(out / "data" / "reference" / "genome.fa.gz", fa.read_text())
    fa.unlink()
    gff = [
        ln
        for ln in GFF3.read_text().splitlines()
        if ln.startswith("#") or ln.split("\t")[0] == CONTIG
    ]
    (out / "data" / "reference" / "annotation.gff3").write_text("\n".join(gff) + "\n")
    (out / "data" / "reference" / "regions.bed").write_text(
        f"{CONTIG}\t{start0}\t{end0}\tsimulated\n"
    )

    germline = [v for v in variants if v.kind == "germline"]
    somatic = [v for v in variants if v.kind == "somatic"]
    artefacts = [v for v in variants if v.kind == "artefact"]
    pairs: dict[str, list[tuple[str, ...]]] = {"tumour": [], "normal": []}
    with tempfile.TemporaryDirectory(prefix="oncolake-truth-") as tmp:
        work = Path(tmp)
        for n, (name, hap, sub, w_t, w_n) in enumerate(components(opt)):
            carried = [v for v in germline if hap in v.haplotypes]
            carried += [v for v in somatic if hap in v.haplotypes and somatic_in(v, sub, opt)]
            carried += [v for v in msi_sites if hap in v.haplotypes and sub > 0]
            fasta = work / f"{name}.fa"
            sequence = apply(seq, start0, end0, carried)
            records = truth_cnv.component_records(name, sequence, sub, start0, carried, cnv_spikes)
            truth_cnv.write_records(fasta, records)
            for k, (sample, depth) in enumerate(
                (("tumour", opt.tumour_depth * w_t), ("normal", opt.normal_depth * w_n))
            ):
                if depth <= 0:
                    continue
                prefix = work / f"{name}_{sample}_"
                run_art(fasta, depth, opt.seed * 1000 + n * 10 + k + 1, prefix)
                r1 = read_fastq(Path(f"{prefix}1.fq"))
                r2 = read_fastq(Path(f"{prefix}2.fq"))
                pairs[sample] += [(a[0], a[1], b[0], b[1]) for a, b in zip(r1, r2, strict=True)]
        if artefacts:
            fasta = work / "ART.fa"
            write_fasta(fasta, "ART", seq[start0:end0])
            prefix = work / "ART_"
            run_art(
                fasta, opt.tumour_depth * opt.oxidation_depth_share, opt.seed * 1000 + 999, prefix
            )
            pairs["tumour"] += oxidise(prefix, start0, artefacts)
        extra = truth_cnv.amplified_reads(
            work, seq, opt, germline, cnv_spikes, run_art, read_fastq, apply
        )
        pairs["tumour"] += extra["tumour"]
        pairs["normal"] += extra["normal"]

    if opt.sv:  # issue 23: SVs and fusions (contig 2 joins the reference), truth/sv.py
        for kind, extra in _sibling("sv").spike(opt, out, run_art, read_fastq).items():
            pairs[kind] += extra
    names = {"tumour": f"sim{opt.seed}_T", "normal": f"sim{opt.seed}_N"}
    unit_rows = []
    for kind in ("tumour", "normal"):
        for lane, fq1, fq2 in write_lanes(out, names[kind], pairs[kind], rng):
            unit_rows.append(f"{names[kind]}\t{lane}\tILLUMINA\t{fq1}\t{fq2}")
    patient = f"SIM{opt.seed:02d}"
    (out / "config" / "samples.tsv").write_text(
        "sample_name\tpatient\ttype\n"
        f"{names['tumour']}\t{patient}\ttumour\n{names['normal']}\t{patient}\tnormal\n"
    )
    (out / "config" / "units.tsv").write_text(
        "sample_name\tunit_name\tplatform\tfq1\tfq2\n" + "\n".join(unit_rows) + "\n"
    )
    (out / "config" / "config.yaml").write_text(
        "# A simulated centre (workflows/dna_seq/truth/simulate.py); see ../truth/truth.json.\n"
        "samples: config/samples.tsv\nunits: config/units.tsv\nreference:\n"
        "  fasta: data/reference/genome.fa.gz\n  gff3: data/reference/annotation.gff3\n"
        "  build: GRCh37\nregions: data/reference/regions.bed\n"
        f"threads: {opt.threads}\nmemory_mb: 2000\n"
    )
    bgzip_vcf(out / "truth" / "somatic.vcf.gz", vcf_text(somatic, len(seq), False))
    bgzip_vcf(out / "truth" / "germline.vcf.gz", vcf_text(germline, len(seq), True))
    bgzip_vcf(out / "truth" / "artefacts.vcf.gz", vcf_text(artefacts, len(seq), False))
    if msi_sites:
        bgzip_vcf(out / "truth" / "msi.vcf.gz", vcf_text(msi_sites, len(seq), False))
    if cnv_spikes:
        truth_cnv.write_truth(out, CONTIG, cnv_spikes, GFF3)
    summary: dict[str, object] = {
        "generator": "workflows/dna_seq/truth/simulate.py",
        "options": asdict(opt),
        "contig": CONTIG,
        "region": {"start": start0, "end": end0, "note": "0-based half-open"},
        "patient": patient,
        "samples": names,
        "counts": {
            "germline": len(germline),
            "somatic": len(somatic),
            "somatic_indels": sum(v.info.get("TYPE") == "INDEL" for v in somatic),
            "somatic_homopolymer_indels": sum(v.info.get("HOMOPOLYMER") == "1" for v in somatic),
            "artefacts": len(artefacts),
            "cnv_spikes": len(cnv_spikes),
            "msi_sites": len(msi_sites),
            "read_pairs": {k: len(v) for k, v in pairs.items()},
        },
        "sources": {
            "reference": str(FASTA.relative_to(SHARED)),
            "annotation": str(GFF3.relative_to(SHARED)),
            "germline_snvs": str(DBSNP.relative_to(SHARED)),
        },
        "simulator": {"tool": "art_illumina", "profile": ART_PROFILE, "read_length": READ_LENGTH,
                      "fragment_mean": FRAGMENT_MEAN, "fragment_sd": FRAGMENT_SD},
    }  # fmt: skip
    (out / "truth" / "truth.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def _sibling(name: str) -> Any:
    """A sibling module of truth/ (e.g. sv.py), loaded by path (this file may be too)."""
    spec = importlib.util.spec_from_file_location(f"dna_seq_truth_{name}", HERE / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = sys.modules.setdefault(spec.name, importlib.util.module_from_spec(spec))
    spec.loader.exec_module(module)
    return module


def digest_tree(root: Path) -> str:
    """SHA-256 over (relative path, SHA-256) of every file (for the determinism check)."""
    total = hashlib.sha256()
    for p in sorted(q for q in root.rglob("*") if q.is_file()):
        total.update(f"{p.relative_to(root).as_posix()}\t".encode())
        total.update(hashlib.sha256(p.read_bytes()).hexdigest().encode() + b"\n")
    return total.hexdigest()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="new directory for the instance")
    defaults = Options()
    for name, value in asdict(defaults).items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=type(value), default=value)
    args = vars(parser.parse_args(argv))
    out = args.pop("out")
    try:
        summary = simulate(Options(**args), out)
    except (ValueError, RuntimeError, FileExistsError) as exc:
        print(f"simulate: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(summary["counts"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
