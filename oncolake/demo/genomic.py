"""The synthetic centres' somatic results beyond small variants, as the pipeline writes
them (CONTRACT23): per patient a delly-style SV VCF with the pipeline's gene and fusion
annotation, CNVkit-style segment and gene tables, and a TMB/MSI record, laid out as a
pipeline ``results/`` folder that ``oncolake submit --results`` packs.

Frequencies per tumour type (OncoTree codes of ``oncolake.demo.network``), rounded, from:

* NTRK1/2/3 fusions: about 0.3 % of solid tumours overall (Westphalen et al., npj Precis.
  Oncol. 2021, 5:69: 0.30 % of 295,676 patients; Okamura et al., JCO Precis. Oncol. 2018:
  0.31 %), enriched in papillary thyroid cancer (~2 %), glioma and MSI-H colorectal cancer;
* ALK fusions (EML4::ALK) in ~4–5 % of lung adenocarcinoma (Soda et al., Nature 2007;
  Barlesi et al., Lancet 2016, IFCT: 5 %); ROS1 (CD74::ROS1) ~1–2 % (Bergethon et al.,
  JCO 2012); RET (KIF5B::RET) ~1–2 % of lung adenocarcinoma (Kohno et al., Nat. Med.
  2012) and RET fusions (CCDC6::RET, NCOA4::RET) in ~10–20 % of papillary thyroid cancer
  (TCGA, Cell 2014); TMPRSS2::ERG in ~45 % of prostate cancer (Tomlins et al., Science
  2005); FGFR3::TACC3 in ~3 % of glioblastoma and bladder cancer (Singh et al., Science
  2012; Costa et al., 2016);
* MSI-H: ~28 % of endometrial, ~15 % of colorectal (stage-dependent; ~4 % metastatic),
  ~19 % of gastric, ≤ 2 % elsewhere (Bonneville et al., JCO Precis. Oncol. 2017,
  "Landscape of microsatellite instability across 39 cancer types"; Le et al., Science
  2017);
* TMB: log-normal per tumour type around the medians of Chalmers et al., Genome Med. 2017,
  9:34 (100,000 cancer genomes: melanoma ~13.5, lung squamous ~9, bladder ~7, lung adeno
  ~6 mut/Mb; breast, colorectal (MSS), prostate, pancreas ~2–4; thyroid, AML ~1), MSI-H
  tumours around 35 mut/Mb (Chalmers: 83 % of MSI-H tumours are TMB ≥ 10); TMB-high is
  ≥ 10 mut/Mb (FDA 2020, KEYNOTE-158);
* ERBB2 amplification: ~15–20 % of breast cancer (Slamon et al., Science 1987; Wolff et
  al., ASCO/CAP 2018), ~15 % of gastric (Van Cutsem et al., Gastric Cancer 2015, HER-EAGLE:
  ~16 %; ToGA 22 % of those screened), ~3 % of colorectal (Sartore-Bianchi et al., Lancet
  Oncol. 2016, HERACLES), ~7 % of bladder cancer;
* CDKN2A deep deletion: ~55 % of glioblastoma (Brennan et al., Cell 2013), ~30 % of
  pancreatic, melanoma and bladder cancer, ~15–25 % of lung cancer (TCGA PanCancer
  Atlas, cBioPortal); EGFR amplification ~40 % of glioblastoma (Brennan 2013); CCNE1 ~20 %
  of high-grade serous ovarian cancer (TCGA, Nature 2011); MET ~3 % of lung
  adenocarcinoma and gastric cancer; PTEN deep deletion ~15 % of prostate cancer.

Where the centre's FHIR export already reports HER2 or MSI for the patient
(``oncolake.demo.network``), the pipeline's result agrees with it most of the time (ERBB2
amplified in 90 % of HER2-positive and 2 % of HER2-negative tumours; MSI-H in 95 % of
FHIR MSI-H and 2 % of FHIR MSS), so the two sources tell one story.

Assays: a WES centre's pipeline calls SVs and copy number over the demo's gene set and
reports TMB/MSI (~35 Mb callable); a panel centre's only over the genes its panel covers
(``PANEL_GENES``: no fusion partner among them) and reports no TMB/MSI: a panel of a few
dozen genes is far below the ~1 Mb that TMB needs (Friends of Cancer Research TMB
Harmonization Project, Merino et al., J. Immunother. Cancer 2020). The coverage-aware
denominators of the catalogue see that in ``specimens.analyses`` and ``covered_genes``.

Every draw comes from a generator seeded by the network seed and the patient id: the
same seed gives byte-identical files, and the draws of ``oncolake.demo.network`` are not
disturbed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pysam

from harmonise.vcf.reference import BUILD_LENGTHS

#: Recorded in each centre's spec: a change here regenerates the demo's exports.
GENOMIC_VERSION = "oncolake.demo.genomic/1"
TMB_HIGH = 10.0


@dataclass(frozen=True)
class Fusion:
    """A recurrent fusion: partners 5'/3', its junction (GRCh37) and frequency by type."""

    five: str
    three: str
    sv_type: str  # DEL, DUP, INV or BND
    chrom: str
    pos: int
    chrom2: str
    pos2: int
    frequency: Mapping[str, float]
    default: float = 0.0
    #: The 5' partner is the gene at POS (else the 3' partner is, at the lower coordinate).
    five_at_pos: bool = True

    @property
    def genes(self) -> tuple[str, str]:
        """(gene at POS, gene at POS2): GENE_A and GENE_B of the record."""
        return (self.five, self.three) if self.five_at_pos else (self.three, self.five)


FUSIONS: tuple[Fusion, ...] = (
    Fusion("ETV6", "NTRK3", "BND", "12", 12022903, "15", 88576000,
           {"THPA": 0.010, "IDC": 0.001, "COAD": 0.002, "GB": 0.002}, 0.0008),
    Fusion("TPM3", "NTRK1", "INV", "1", 154142000, "1", 156844000,
           {"THPA": 0.008, "COAD": 0.004, "LUAD": 0.002, "GB": 0.004}, 0.0008),
    Fusion("LMNA", "NTRK1", "DEL", "1", 156100000, "1", 156843000,
           {"COAD": 0.002, "THPA": 0.002}, 0.0003),
    Fusion("QKI", "NTRK2", "BND", "6", 163900000, "9", 87480000,
           {"GB": 0.006}, 0.0002),
    Fusion("EML4", "ALK", "INV", "2", 29446394, "2", 42522656, {"LUAD": 0.045}, 0.0005, False),
    Fusion("CD74", "ROS1", "BND", "5", 149784000, "6", 117645000, {"LUAD": 0.015}),
    Fusion("KIF5B", "RET", "INV", "10", 32317000, "10", 43610000, {"LUAD": 0.015}, 0.0002),
    Fusion("CCDC6", "RET", "INV", "10", 43610500, "10", 61600000,
           {"THPA": 0.12, "LUAD": 0.003}, 0.0002, False),
    Fusion("NCOA4", "RET", "INV", "10", 43611000, "10", 51580000, {"THPA": 0.05}, 0.0, False),
    Fusion("TMPRSS2", "ERG", "DEL", "21", 39850000, "21", 42870000, {"PRAD": 0.45}, 0.0,
           False),
    Fusion("FGFR3", "TACC3", "DUP", "4", 1740000, "4", 1808000,
           {"GB": 0.03, "BLCA": 0.03}, 0.0005, False),
)  # fmt: skip

#: Approximate GRCh37 (Ensembl 75) extents of the genes the demo's copy number covers:
#: gene → (chrom, 0-based start, end).
GENES: dict[str, tuple[str, int, int]] = {
    "AKT1": ("14", 105235686, 105262088), "APC": ("5", 112043195, 112181936),
    "ARID1A": ("1", 27022522, 27108601), "ATM": ("11", 108093559, 108239826),
    "BRAF": ("7", 140424943, 140624564), "BRCA1": ("17", 41196312, 41277500),
    "BRCA2": ("13", 32889611, 32973805), "CCNE1": ("19", 30302805, 30315215),
    "CDK4": ("12", 58141510, 58149796), "CDKN2A": ("9", 21967751, 21995300),
    "EGFR": ("7", 55086725, 55275031), "ERBB2": ("17", 37844167, 37884915),
    "FGFR1": ("8", 38268656, 38326352), "FGFR3": ("4", 1795039, 1810599),
    "IDH1": ("2", 209100951, 209119806), "KMT2D": ("12", 49412758, 49449107),
    "KRAS": ("12", 25357723, 25403870), "LRP1B": ("2", 140988996, 142889270),
    "MDM2": ("12", 69201956, 69239214), "MET": ("7", 116312459, 116438440),
    "MYC": ("8", 128748315, 128753680), "NF1": ("17", 29421945, 29709134),
    "NRAS": ("1", 115247085, 115259515), "PIK3CA": ("3", 178866311, 178952497),
    "PTEN": ("10", 89623195, 89728532), "RB1": ("13", 48877883, 49056026),
    "SMAD4": ("18", 48556583, 48611411), "TP53": ("17", 7565097, 7590856),
}  # fmt: skip

#: Focal events per gene: (call, frequency by tumour type, default).
CNV_EVENTS: tuple[tuple[str, str, Mapping[str, float], float], ...] = (
    ("ERBB2", "amplification",
     {"IDC": 0.17, "STAD": 0.15, "BLCA": 0.07, "COAD": 0.03, "UCEC": 0.03, "LUAD": 0.02},
     0.005),
    ("MET", "amplification", {"LUAD": 0.03, "STAD": 0.04, "GB": 0.02}, 0.004),
    ("EGFR", "amplification", {"GB": 0.40, "LUSC": 0.07, "BLCA": 0.03}, 0.005),
    ("MYC", "amplification", {"OVT": 0.25, "IDC": 0.10, "STAD": 0.08}, 0.02),
    ("CCNE1", "amplification", {"OVT": 0.20, "STAD": 0.08, "UCEC": 0.05}, 0.01),
    ("MDM2", "amplification", {"GB": 0.08, "BLCA": 0.05}, 0.01),
    ("CDK4", "amplification", {"GB": 0.12, "MEL": 0.03}, 0.01),
    ("FGFR1", "amplification", {"LUSC": 0.15, "IDC": 0.10}, 0.01),
    ("CDKN2A", "deep_deletion",
     {"GB": 0.55, "PAAD": 0.30, "MEL": 0.30, "BLCA": 0.25, "LUSC": 0.20, "LUAD": 0.15},
     0.03),
    ("PTEN", "deep_deletion", {"PRAD": 0.15, "GB": 0.08, "UCEC": 0.05}, 0.01),
    ("RB1", "deep_deletion", {"PRAD": 0.05, "BLCA": 0.04}, 0.01),
    ("SMAD4", "deep_deletion", {"PAAD": 0.15, "COAD": 0.03}, 0.005),
)  # fmt: skip

#: MSI-H frequency by tumour type (Bonneville 2017; see the module doc).
MSI_H: dict[str, float] = {
    "UCEC": 0.28, "COAD": 0.15, "STAD": 0.19, "READ": 0.03, "OVT": 0.02, "PRAD": 0.02,
}  # fmt: skip
MSI_DEFAULT = 0.01
#: Median TMB (mut/Mb) by tumour type (Chalmers 2017, rounded; see the module doc).
TMB_MEDIAN: dict[str, float] = {
    "MEL": 13.5, "LUSC": 9.0, "LUAD": 6.3, "BLCA": 7.2, "COAD": 3.6, "READ": 3.6,
    "STAD": 3.6, "UCEC": 3.6, "IDC": 2.7, "OVT": 2.7, "HCC": 2.7, "RCC": 1.8, "GB": 2.7,
    "PRAD": 1.8, "PAAD": 1.8, "THPA": 0.9, "AML": 0.9,
}  # fmt: skip
TMB_SIGMA = 0.9
MSI_TMB_MEDIAN = 35.0
WES_CALLABLE_MB = 35.2

HER2_CODE = "48676-1"
MSI_CODE = "81695-9"
POSITIVE = {"10828004", "LA26203-2"}


def patient_rng(seed: int, patient: str) -> np.random.Generator:
    """The patient's own generator (the network's draws are not disturbed)."""
    digest = hashlib.sha256(f"genomic|{patient}".encode()).digest()
    return np.random.default_rng([seed, int.from_bytes(digest[:8], "little")])


def reported_markers(resources: Iterable[Mapping[str, Any]]) -> dict[str, bool]:
    """The patient's FHIR-reported HER2 and MSI-H (True: positive / MSI-H)."""
    out: dict[str, bool] = {}
    for r in resources:
        if r.get("resourceType") != "Observation":
            continue
        code = ((r.get("code") or {}).get("coding") or [{}])[0].get("code")
        value = ((r.get("valueCodeableConcept") or {}).get("coding") or [{}])[0].get("code")
        if code == HER2_CODE:
            out["HER2"] = value in POSITIVE
        elif code == MSI_CODE:
            out["MSI-H"] = value in POSITIVE
    return out


@dataclass(frozen=True)
class PatientGenomics:
    """One patient's drawn results."""

    fusions: tuple[Fusion, ...]
    calls: Mapping[str, str]  # gene -> call (every gene of the assay)
    msi_high: bool
    tmb: float | None  # mut/Mb; None: not reported (panel)


def draw(
    rng: np.random.Generator,
    oncotree: str,
    reported: Mapping[str, bool],
    genes: Sequence[str] | None = None,
    tmb_msi: bool = True,
) -> PatientGenomics:
    """Draw a patient's fusions, gene-level calls, MSI status and TMB (``genes``: the
    assay's genes, None: all of :data:`GENES`)."""
    covered = set(genes) if genes is not None else set(GENES)
    fusions = tuple(
        f
        for f in FUSIONS
        if rng.random() < f.frequency.get(oncotree, f.default)
        and (genes is None or {f.five, f.three} <= covered)
    )
    calls = {g: "neutral" for g in GENES if g in covered}
    for gene, call, freq, default in CNV_EVENTS:
        p = freq.get(oncotree, default)
        if gene == "ERBB2" and "HER2" in reported:
            p = 0.9 if reported["HER2"] else 0.02
        if rng.random() < p and gene in calls:
            calls[gene] = call
    for gene in calls:  # broad arm-level noise: a gain or a loss now and then
        if calls[gene] == "neutral":
            u = rng.random()
            calls[gene] = "gain" if u < 0.06 else ("loss" if u < 0.12 else "neutral")
    p_msi = MSI_H.get(oncotree, MSI_DEFAULT)
    if "MSI-H" in reported:
        p_msi = 0.95 if reported["MSI-H"] else 0.02
    msi_high = bool(rng.random() < p_msi)
    tmb: float | None = None
    if tmb_msi:
        median = MSI_TMB_MEDIAN if msi_high else TMB_MEDIAN.get(oncotree, 2.7)
        sigma = 0.5 if msi_high else TMB_SIGMA
        tmb = round(float(rng.lognormal(np.log(median), sigma)), 1)
    return PatientGenomics(fusions, calls, msi_high, tmb)


# -- writing the pipeline's files -----------------------------------------------------------

SV_HEADER = """##fileformat=VCFv4.2
##FILTER=<ID=PASS,Description="All filters passed">
##FILTER=<ID=LowQual,Description="Poor quality and insufficient number of PEs and SRs.">
##reference=GRCh37
{contigs}##ALT=<ID=DEL,Description="Deletion">
##ALT=<ID=DUP,Description="Duplication">
##ALT=<ID=INV,Description="Inversion">
##INFO=<ID=CHR2,Number=1,Type=String,Description="Chromosome for POS2 coordinate">
##INFO=<ID=POS2,Number=1,Type=Integer,Description="Genomic position for CHR2">
##INFO=<ID=END,Number=1,Type=Integer,Description="End position of the structural variant">
##INFO=<ID=PE,Number=1,Type=Integer,Description="Paired-end support">
##INFO=<ID=SR,Number=1,Type=Integer,Description="Split-read support">
##INFO=<ID=CT,Number=1,Type=String,Description="Paired-end signature connection type">
##INFO=<ID=PRECISE,Number=0,Type=Flag,Description="Precise structural variation">
##INFO=<ID=SVTYPE,Number=1,Type=String,Description="Type of structural variant">
##INFO=<ID=SVMETHOD,Number=1,Type=String,Description="Type of approach used to detect SV">
##INFO=<ID=GENE_A,Number=1,Type=String,Description="Genes at the first breakpoint">
##INFO=<ID=GENE_B,Number=1,Type=String,Description="Genes at the second breakpoint">
##INFO=<ID=FUSION,Number=1,Type=String,Description="5PRIME::3PRIME gene fusion">
##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">
##FORMAT=<ID=DV,Number=1,Type=Integer,Description="High-quality variant pairs">
##oncolake_synthetic=This file is synthetic demo data, not a real patient
#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t{tumour}\t{normal}
"""
_CHROMS = [*(str(c) for c in range(1, 23)), "X", "Y"]


def _sv_lines(rng: np.random.Generator, g: PatientGenomics) -> list[str]:
    """The SV VCF's records, as delly + the pipeline's annotation write them, sorted."""
    records: list[tuple[int, int, str]] = []
    method = "SVMETHOD=EMBL.DELLYv1.1.6"
    for n, f in enumerate(g.fusions, start=1):
        pe, sr = int(rng.integers(6, 40)), int(rng.integers(3, 25))
        gene_a, gene_b = f.genes
        info = (
            f"PRECISE;SVTYPE={f.sv_type};{method};PE={pe};SR={sr};GENE_A={gene_a};"
            f"GENE_B={gene_b};FUSION={f.five}::{f.three}"
        )
        if f.sv_type == "BND":
            alt, ident = f"N[{f.chrom2}:{f.pos2}[", f"BND{n:08d}"
            info += f";CHR2={f.chrom2};POS2={f.pos2};CT=3to5"
        else:
            alt, ident = f"<{f.sv_type}>", f"{f.sv_type}{n:08d}"
            info += f";END={f.pos2};CT={'5to5' if f.sv_type == 'INV' else '3to5'}"
        text = f"{f.chrom}\t{f.pos}\t{ident}\tN\t{alt}\t.\tPASS\t{info}"
        records.append((_CHROMS.index(f.chrom), f.pos, text))
    for n in range(int(rng.poisson(1.5))):  # passenger deletions/duplications, no gene
        chrom = _CHROMS[int(rng.integers(22))]
        pos = int(rng.integers(1_000_000, BUILD_LENGTHS["GRCh37"][chrom] - 2_000_000))
        kind = "DEL" if rng.random() < 0.6 else "DUP"
        end = pos + int(rng.integers(500, 200_000))
        filt = "PASS" if rng.random() < 0.8 else "LowQual"
        info = (
            f"PRECISE;SVTYPE={kind};{method};END={end};PE={int(rng.integers(2, 30))};"
            f"SR={int(rng.integers(0, 15))};CT={'3to5' if kind == 'DEL' else '5to3'}"
        )
        text = f"{chrom}\t{pos}\t{kind}{100 + n:08d}\tN\t<{kind}>\t.\t{filt}\t{info}"
        records.append((_CHROMS.index(chrom), pos, text))
    records.sort()
    return [f"{text}\tGT:DV\t0/1:{int(rng.integers(5, 60))}\t0/0:0\n" for _, _, text in records]


def _cn_values(rng: np.random.Generator, call: str) -> tuple[float, float]:
    """(log2, copy number) of a gene-level call."""
    if call == "amplification":
        log2 = max(1.3, float(rng.normal(2.3, 0.5)))
    elif call == "gain":
        log2 = float(rng.uniform(0.35, 0.8))
    elif call == "loss":
        log2 = float(rng.uniform(-1.0, -0.45))
    elif call == "deep_deletion":
        log2 = float(rng.uniform(-5.0, -2.0))
    else:
        log2 = float(rng.normal(0.0, 0.08))
    cn = 0.0 if call == "deep_deletion" and log2 < -3 else 2.0 * 2.0**log2
    return round(log2, 3), round(cn, 2)


def write_patient_results(
    results: Path,
    patient: str,
    tumour: str,
    normal: str,
    g: PatientGenomics,
    rng: np.random.Generator,
) -> list[Path]:
    """Write ``patient``'s CONTRACT23 files under ``results``; return their paths."""
    out: list[Path] = []
    sv_dir = results / "annotated" / "sv"
    sv_dir.mkdir(parents=True, exist_ok=True)
    needed = sorted({c for f in FUSIONS for c in (f.chrom, f.chrom2)} | set(_CHROMS[:22]),
                    key=_CHROMS.index)  # fmt: skip
    contigs = "".join(
        f"##contig=<ID={c},length={BUILD_LENGTHS['GRCh37'][c]},assembly=GRCh37>\n" for c in needed
    )
    plain = sv_dir / f"{patient}.sv.annotated.vcf"
    plain.write_text(
        SV_HEADER.format(contigs=contigs, tumour=tumour, normal=normal) + "".join(_sv_lines(rng, g))
    )
    gz = Path(f"{plain}.gz")
    pysam.tabix_compress(str(plain), str(gz), force=True)
    plain.unlink()
    out.append(gz)
    cnv = results / "cnv"
    cnv.mkdir(parents=True, exist_ok=True)
    gene_lines = ["gene\tchrom\tstart\tend\tlog2\tcopy_number\tcall"]
    segments: list[tuple[int, int, int, str, float, float]] = []
    for gene, call in g.calls.items():
        chrom, start, end = GENES[gene]
        log2, cn = _cn_values(rng, call)
        gene_lines.append(f"{gene}\t{chrom}\t{start}\t{end}\t{log2}\t{cn}\t{call}")
        seg_start, seg_end = max(0, start - 50_000), end + 50_000
        segments.append((_CHROMS.index(chrom), seg_start, seg_end, chrom, log2, cn))
    seg_lines = ["chrom\tstart\tend\tlog2\tcopy_number\tprobes"]
    last: dict[str, int] = {}
    for _, start, end, chrom, log2, cn in sorted(segments):
        start = max(start, last.get(chrom, 0))
        if start >= end:
            continue
        seg_lines.append(f"{chrom}\t{start}\t{end}\t{log2}\t{cn}\t{max(3, (end - start) // 5000)}")
        last[chrom] = end
    (cnv / f"{patient}.genes.tsv").write_text("\n".join(gene_lines) + "\n")
    (cnv / f"{patient}.segments.tsv").write_text("\n".join(seg_lines) + "\n")
    out += [cnv / f"{patient}.genes.tsv", cnv / f"{patient}.segments.tsv"]
    if g.tmb is not None:
        out.append(_write_tmb_msi(results, patient, g, rng))
    return out


def _write_tmb_msi(
    results: Path, patient: str, g: PatientGenomics, rng: np.random.Generator
) -> Path:
    assert g.tmb is not None
    mutations = round(g.tmb * WES_CALLABLE_MB)
    evaluated = int(rng.integers(100, 141))
    score = float(rng.uniform(25, 55)) if g.msi_high else float(rng.uniform(0, 8))
    unstable = round(score * evaluated / 100)
    doc = {
        "schema": "oncolake.tmb_msi/1",
        "tmb": {
            "mutations_per_mb": round(mutations / WES_CALLABLE_MB, 2),
            "mutations": mutations,
            "callable_mb": WES_CALLABLE_MB,
            "counted": ["missense", "stop_gained", "frameshift", "inframe_indel", "splice"],
            "rule": "synthetic demo value (oncolake.demo.genomic), not computed from reads",
        },
        "msi": {
            "score_percent": round(100 * unstable / evaluated, 1),
            "status": "MSI-H" if 100 * unstable / evaluated >= 20.0 else "MSS",
            "loci_evaluated": evaluated,
            "loci_unstable": unstable,
            "threshold_percent": 20.0,
        },
        "purity": round(float(rng.uniform(0.3, 0.9)), 2),
    }
    folder = results / "biomarkers"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{patient}.tmb_msi.json"
    path.write_text(json.dumps(doc, indent=2) + "\n")
    return path


def write_centre_patient(
    results: Path,
    seed: int,
    patient: str,
    tumour: str,
    normal: str,
    oncotree: str,
    resources: Iterable[Mapping[str, Any]],
    panel_genes: Sequence[str] | None,
) -> list[Path]:
    """The hook of ``oncolake.demo.network.write_centre``: draw and write one patient's
    results (``panel_genes``: the panel's genes, None for WES)."""
    rng = patient_rng(seed, patient)
    g = draw(rng, oncotree, reported_markers(resources), panel_genes, panel_genes is None)
    return write_patient_results(results, patient, tumour, normal, g, rng)


# -- the demo's basket check: DuckDB SQL over the lake's Parquet ----------------------------

#: "NTRK fusion OR MSI-high OR TMB ≥ 10, any tumour type", counted per tumour type from the
#: lake tables (views ``conditions``, ``structural_variants``, ``biomarkers``). Pipeline
#: results only (PASS structural variants, ``source`` = pipeline biomarkers).
BASKET_SQL = """
WITH tumour AS (
    SELECT patient_id, min(oncotree_code) AS tumour_type
    FROM conditions WHERE kind = 'primary' GROUP BY patient_id
), ntrk AS (
    SELECT DISTINCT patient_id FROM structural_variants
    WHERE filter = 'PASS' AND fusion_genes IS NOT NULL
      AND (list_contains(fusion_genes, 'NTRK1') OR list_contains(fusion_genes, 'NTRK2')
           OR list_contains(fusion_genes, 'NTRK3'))
), msi AS (
    SELECT DISTINCT patient_id FROM biomarkers
    WHERE source = 'pipeline' AND marker = 'MSI' AND value_display = 'MSI-H'
), tmb AS (
    SELECT DISTINCT patient_id FROM biomarkers
    WHERE source = 'pipeline' AND marker = 'TMB' AND value_numeric >= 10
)
SELECT tumour_type,
       count(*) AS patients,
       count(ntrk.patient_id) AS ntrk_fusion,
       count(msi.patient_id) AS msi_high,
       count(tmb.patient_id) AS tmb_high,
       count(*) FILTER (WHERE ntrk.patient_id IS NOT NULL OR msi.patient_id IS NOT NULL
                        OR tmb.patient_id IS NOT NULL) AS basket
FROM tumour
LEFT JOIN ntrk USING (patient_id)
LEFT JOIN msi USING (patient_id)
LEFT JOIN tmb USING (patient_id)
GROUP BY tumour_type ORDER BY tumour_type
"""


def parquet_connection(lake: Any, tables: Sequence[str]) -> Any:
    """A DuckDB connection whose views read the current snapshot's Parquet data files
    directly (``read_parquet``; the files Iceberg's current snapshot lists), keeping only
    rows of submissions the ``datasets`` table records (the commit point)."""
    import duckdb

    con = duckdb.connect()
    visible = lake.visible_submissions().column("submission_id").to_pylist()
    ids = ", ".join("'" + s.replace("'", "''") + "'" for s in visible) or "''"
    for name in tables:
        files = [t.file.file_path for t in lake.table(name).scan().plan_files()]
        paths = [f.removeprefix("file://") for f in files]
        if not paths:
            con.execute(f"CREATE VIEW {name} AS SELECT * FROM ({_empty(lake, name)})")
            continue
        listed = ", ".join("'" + p.replace("'", "''") + "'" for p in paths)
        con.execute(
            f"CREATE VIEW {name} AS SELECT * FROM read_parquet([{listed}], union_by_name = true) "
            f"WHERE submission_id IN ({ids})"
        )
    return con


def _empty(lake: Any, name: str) -> str:
    cols = ", ".join(f"NULL AS {c}" for c in ("patient_id", "submission_id"))
    return f"SELECT {cols} WHERE false"


def basket_counts(con: Any) -> list[dict[str, Any]]:
    """:data:`BASKET_SQL` on ``con``: one dict per tumour type."""
    cur = con.execute(BASKET_SQL)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
