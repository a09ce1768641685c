"""A seeded synthetic network of cancer centres, written straight into a lake.

Benchmark scale (issue 6): 1,000,000 patients, about 50 somatic variants each, from 200
centres by default (443 s here), or from 2,000 centres (2,314 s, 1.0–1.3 s a commit,
partly alongside the test suite). One commit per centre; every 100 commits the history
is expired (``Lake.expire_history``), as a hub's maintenance would over the months such
a network takes to build: pyiceberg copies a table's whole metadata, snapshots
included, several times per commit.
Tumour-type frequencies follow the order of magnitude of AACR GENIE's cohort; hotspot
frequencies per tumour type follow the literature (BRAF V600E in ~45% of melanoma and ~60%
of papillary thyroid cancer, KRAS G12 in ~90% of pancreatic cancer …); the actionable
alterations' vocabulary comes from the Molecular Oncology Almanac (2022-11) tables in
``../shared/data/ontologies``. Passenger variants are drawn from a bounded per-gene
vocabulary so that protein changes repeat as they do in real cohorts.

Treatment journeys (issue 22) are drawn per patient by ``oncolake.demo.journeys`` (the
standard-of-care sequences and trial medians cited there, with deaths and censoring at
the data cut-off), expressed as day offsets from the diagnosis (the anchor), and their
regimens and lines of therapy derived by ``harmonise.journeys`` exactly as ingest does;
the time the derivation takes is printed at the end (``derivation: …``).

Somatic results beyond small variants (issue 23; ``--genomic``, on by default; off with
``--no-genomic``): ``structural_variants`` (recurrent fusions and passenger deletions or
duplications), ``copy_number_genes`` (the focal events) and ``biomarkers`` rows of TMB and
MSI with ``source`` = pipeline, beside the FHIR-reported ones. The frequencies and their
citations are ``oncolake.demo.genomic``'s (NTRK fusions ~0.3 % of solid tumours with
papillary thyroid enriched, EML4::ALK ~4.5 % of lung adenocarcinoma, MSI-H ~28 % of
endometrial and ~15 % of colorectal, ERBB2 amplification in ~17 % of breast and ~15 % of
gastric cancer …), used here by reference, not copied (:func:`genomic_tables`); the
pipeline's MSI and ERBB2 agree with the FHIR-reported MSI and HER2 as there. The draws come
from a generator of their own (seeded by the seed, the centre and 23), so the other tables'
rows are the same with and without ``--genomic``: the biomarkers table only gains rows.

Everything else is generated column-wise with numpy; one submission per centre (a
submission has exactly one centre), many patients each.

    .venv/bin/python bench/synthetic_network.py --home /tmp/bench-lake --centres 200 \
        --patients 1000000
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import hashlib
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from harmonise.drugs import drug_class
from harmonise.journeys import PatientFacts, default_rules, journey_rows
from harmonise.lake import Lake, LakeConfig, Submission
from oncolake.demo import genomic as demo_genomic
from oncolake.demo.journeys import centre_preference, draw_journey, pathway_for, subgroup

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "ontologies"
if not SHARED.exists():  # the repo lives at /work/main, shared data at /work/shared
    SHARED = Path("/work/shared/data/ontologies")
MOA = SHARED / "moalmanac-db-2022-11" / "content"

#: Tumour types (OncoTree code, tissue code, relative frequency).
TUMOUR_TYPES: list[tuple[str, str, float]] = [
    ("LUAD", "LUNG", 12.0),
    ("LUSC", "LUNG", 3.0),
    ("SCLC", "LUNG", 1.0),
    ("IDC", "BREAST", 11.0),
    ("ILC", "BREAST", 2.0),
    ("COAD", "BOWEL", 7.0),
    ("READ", "BOWEL", 2.0),
    ("PRAD", "PROSTATE", 6.0),
    ("SKCM", "SKIN", 4.0),
    ("PAAD", "PANCREAS", 4.0),
    ("GB", "BRAIN", 3.0),
    ("ODG", "BRAIN", 1.0),
    ("HGSOC", "OVARY", 3.5),
    ("UEC", "UTERUS", 3.0),
    ("BLCA", "BLADDER", 3.0),
    ("CCRCC", "KIDNEY", 2.5),
    ("STAD", "STOMACH", 2.0),
    ("ESCA", "STOMACH", 1.0),
    ("HNSC", "HEAD_NECK", 2.0),
    ("THPA", "THYROID", 1.5),
    ("HCC", "LIVER", 1.5),
    ("CHOL", "BILIARY_TRACT", 1.0),
    ("GIST", "SOFT_TISSUE", 0.8),
    ("AML", "MYELOID", 2.0),
    ("CML", "MYELOID", 0.5),
    ("MDS", "MYELOID", 1.0),
    ("DLBCLNOS", "LYMPH", 1.0),
]

#: Hotspots: (gene, protein change, {tumour type: frequency}, default frequency).
HOTSPOTS: list[tuple[str, str, dict[str, float], float]] = [
    ("BRAF", "V600E", {"SKCM": 0.45, "THPA": 0.60, "COAD": 0.10, "LUAD": 0.02, "HCL": 0.9}, 0.005),
    ("BRAF", "V600K", {"SKCM": 0.06}, 0.0005),
    ("KRAS", "G12D", {"PAAD": 0.40, "COAD": 0.12, "LUAD": 0.04, "UEC": 0.05}, 0.003),
    ("KRAS", "G12V", {"PAAD": 0.30, "COAD": 0.09, "LUAD": 0.06}, 0.002),
    ("KRAS", "G12C", {"LUAD": 0.13, "COAD": 0.03, "PAAD": 0.02}, 0.002),
    ("KRAS", "G13D", {"COAD": 0.07}, 0.001),
    ("NRAS", "Q61K", {"SKCM": 0.10, "THPA": 0.02, "AML": 0.05}, 0.001),
    ("NRAS", "Q61L", {"SKCM": 0.05}, 0.0005),
    ("EGFR", "L858R", {"LUAD": 0.10}, 0.0005),
    ("EGFR", "T790M", {"LUAD": 0.03}, 0.0002),
    ("PIK3CA", "H1047R", {"IDC": 0.14, "ILC": 0.15, "UEC": 0.08, "COAD": 0.04}, 0.005),
    ("PIK3CA", "E545K", {"IDC": 0.07, "ILC": 0.08, "BLCA": 0.08, "HNSC": 0.06}, 0.004),
    ("IDH1", "R132H", {"ODG": 0.80, "GB": 0.06, "AML": 0.04, "CHOL": 0.02}, 0.0005),
    ("IDH1", "R132C", {"CHOL": 0.08, "AML": 0.02}, 0.0003),
    ("IDH2", "R140Q", {"AML": 0.08}, 0.0002),
    ("TP53", "R175H", {}, 0.025),
    ("TP53", "R248Q", {}, 0.02),
    ("TP53", "R273H", {}, 0.02),
    ("KIT", "D816V", {"GIST": 0.05, "AML": 0.02}, 0.0002),
    ("PDGFRA", "D842V", {"GIST": 0.06}, 0.0001),
    ("ABL1", "T315I", {"CML": 0.05}, 0.0),
    ("AKT1", "E17K", {"IDC": 0.03}, 0.0005),
    ("ERBB2", "S310F", {"BLCA": 0.03, "IDC": 0.01}, 0.0005),
    ("FGFR3", "S249C", {"BLCA": 0.12}, 0.0002),
    ("JAK2", "V617F", {"MDS": 0.05, "AML": 0.02}, 0.0002),
    ("SF3B1", "K700E", {"MDS": 0.15}, 0.0005),
    ("CTNNB1", "S45F", {"HCC": 0.05}, 0.0005),
    ("MAP2K1", "Q56P", {"SKCM": 0.01}, 0.0002),
    ("ALK", "F1174L", {}, 0.0002),
]

#: Germline predisposition variants (gene, protein change, frequency over all patients).
GERMLINE: list[tuple[str, str, float]] = [
    ("BRCA1", "C61G", 0.004),
    ("BRCA1", "E1250*", 0.003),
    ("BRCA2", "E1953*", 0.004),
    ("CHEK2", "T367Mfs*15", 0.005),
    ("ATM", "V2424G", 0.002),
    ("TP53", "R337H", 0.001),
]

CONSEQUENCES = [
    ("missense_variant", "SNV", 0.68),
    ("synonymous_variant", "SNV", 0.16),
    ("stop_gained", "SNV", 0.05),
    ("frameshift_variant", "deletion", 0.04),
    ("frameshift_variant", "insertion", 0.02),
    ("splice_acceptor_variant", "SNV", 0.02),
    ("inframe_deletion", "deletion", 0.02),
    ("missense_variant", "MNV", 0.01),
]
AA = "ACDEFGHIKLMNPQRSTVWY"
STAGES = ["I", "IA", "IB", "II", "IIA", "IIB", "III", "IIIA", "IIIB", "IIIC", "IV", "IVA", "IVB"]
DRUGS: dict[str, list[str]] = {
    "LUNG": ["osimertinib", "pembrolizumab", "carboplatin", "sotorasib", "pemetrexed"],
    "BREAST": ["trastuzumab", "tamoxifen", "letrozole", "alpelisib", "paclitaxel"],
    "BOWEL": ["fluorouracil", "oxaliplatin", "cetuximab", "bevacizumab", "encorafenib"],
    "SKIN": ["dabrafenib", "trametinib", "nivolumab", "ipilimumab", "pembrolizumab"],
    "OTHER": ["carboplatin", "cisplatin", "pembrolizumab", "gemcitabine", "imatinib"],
}
CONSENT_PROFILES: list[tuple[list[str], list[str], bool, float]] = [
    # (permissions, modifiers, disease-specific to the patient's tissue, weight)
    (["DUO:0000042"], [], False, 0.55),
    (["DUO:0000006"], [], False, 0.18),
    (["DUO:0000042"], ["DUO:0000018"], False, 0.10),
    (["DUO:0000007"], [], True, 0.12),
    (["DUO:0000006"], ["DUO:0000018", "DUO:0000028"], False, 0.05),
]
PIPELINE = "sha256:" + hashlib.sha256(b"oncolake/dna_seq 1.0.0").hexdigest()
OLD_PIPELINE = "sha256:" + hashlib.sha256(b"oncolake/dna_seq 0.9.0").hexdigest()


def moa_genes() -> list[str]:
    """Gene symbols of the MOAlmanac somatic, germline and copy-number tables."""
    genes: set[str] = set()
    for name in ("somatic_variant.tsv", "germline_variant.tsv", "copy_number.tsv"):
        path = MOA / name
        if not path.exists():
            continue
        with path.open(encoding="mac_roman") as fh:
            genes |= {r["gene"] for r in csv.DictReader(fh, delimiter="\t") if r.get("gene")}
    genes |= {g for g, _, _, _ in HOTSPOTS} | {g for g, _, _ in GERMLINE}
    return sorted(genes)


@dataclass
class Vocabulary:
    """The variant vocabulary every patient draws from (column arrays, one row each)."""

    gene: np.ndarray
    protein_change: np.ndarray
    consequence: np.ndarray
    variant_class: np.ndarray
    chrom: np.ndarray
    pos: np.ndarray
    ref: np.ndarray
    alt: np.ndarray
    passenger_weight: np.ndarray


def build_vocabulary(rng: np.random.Generator, per_gene: int = 120) -> Vocabulary:
    """Hotspots, germline variants and ``per_gene`` passenger variants per gene."""
    genes = moa_genes()
    rows: list[tuple[str, str, str, str, str, int, str, str, float]] = []
    cons_p = np.array([c[2] for c in CONSEQUENCES])
    cons_p /= cons_p.sum()
    for gi, gene in enumerate(genes):
        chrom = str(1 + gi % 22)
        base = 1_000_000 + gi * 250_000
        gene_weight = float(rng.lognormal(0.0, 0.6))
        positions = rng.choice(np.arange(1, 1200), size=per_gene, replace=False)
        for p in positions:
            ci = int(rng.choice(len(CONSEQUENCES), p=cons_p))
            cons, vclass, _ = CONSEQUENCES[ci]
            a, b = AA[int(rng.integers(20))], AA[int(rng.integers(20))]
            if cons == "synonymous_variant":
                pc = f"{a}{p}="
            elif cons == "stop_gained":
                pc = f"{a}{p}*"
            elif cons == "frameshift_variant":
                pc = f"{a}{p}{b}fs*{int(rng.integers(2, 40))}"
            elif cons == "inframe_deletion":
                pc = f"{a}{p}del"
            elif cons == "splice_acceptor_variant":
                pc = f"X{p}_splice"
            else:
                pc = f"{a}{p}{b if b != a else 'W'}"
            ref, alt = (
                ("AC", "A")
                if vclass == "deletion"
                else ("A", "AT")
                if vclass == "insertion"
                else ("C", "T")
            )
            rows.append((gene, pc, cons, vclass, chrom, base + 3 * int(p), ref, alt, gene_weight))
    hot = {(g, pc) for g, pc, _, _ in HOTSPOTS} | {(g, pc) for g, pc, _ in GERMLINE}
    rows = [r for r in rows if (r[0], r[1]) not in hot]
    for g, pc, *_ in HOTSPOTS:
        gi = genes.index(g)
        cons = "missense_variant"
        rows.append((g, pc, cons, "SNV", str(1 + gi % 22), 7_000_000 + gi, "A", "T", 0.0))
    for g, pc, _ in GERMLINE:
        gi = genes.index(g)
        cons = (
            "stop_gained"
            if pc.endswith("*")
            else "frameshift_variant"
            if "fs" in pc
            else "missense_variant"
        )
        rows.append((g, pc, cons, "SNV", str(1 + gi % 22), 8_000_000 + gi, "G", "A", 0.0))
    cols = list(zip(*rows, strict=True))
    w = np.array(cols[8], dtype=float)
    return Vocabulary(
        gene=np.array(cols[0], dtype=object),
        protein_change=np.array(cols[1], dtype=object),
        consequence=np.array(cols[2], dtype=object),
        variant_class=np.array(cols[3], dtype=object),
        chrom=np.array(cols[4], dtype=object),
        pos=np.array(cols[5], dtype=np.int64),
        ref=np.array(cols[6], dtype=object),
        alt=np.array(cols[7], dtype=object),
        passenger_weight=w / w.sum(),
    )


def _index_of(vocab: Vocabulary) -> dict[tuple[str, str], int]:
    return {
        (g, p): i for i, (g, p) in enumerate(zip(vocab.gene, vocab.protein_change, strict=True))
    }


def centre_submission(
    centre_no: int,
    n_patients: int,
    vocab: Vocabulary,
    seed: int,
    variants_per_patient: int = 50,
    genomic: bool = True,
) -> Submission:
    """One centre's submission: its patients, their clinical rows, variants and consents."""
    rng = np.random.default_rng([seed, centre_no])
    centre = f"C{centre_no:04d}"
    dataset = f"{centre}-DS1"
    n = n_patients
    pids = np.array(
        [
            f"{centre}-{hashlib.sha1(f'{seed}/{centre}/{i}'.encode()).hexdigest()[:16]}"
            for i in range(n)
        ],
        dtype=object,
    )
    tt_p = np.array([t[2] for t in TUMOUR_TYPES])
    tt_idx = rng.choice(len(TUMOUR_TYPES), size=n, p=tt_p / tt_p.sum())
    codes = np.array([t[0] for t in TUMOUR_TYPES], dtype=object)[tt_idx]
    tissues = np.array([t[1] for t in TUMOUR_TYPES], dtype=object)[tt_idx]
    sex = np.where(
        np.isin(codes, ["PRAD"]),
        "male",
        np.where(
            np.isin(codes, ["IDC", "ILC", "HGSOC", "UEC"]),
            "female",
            rng.choice(["female", "male"], size=n),
        ),
    )
    age = np.clip(rng.normal(63, 12, size=n).astype(int), 18, 95)
    dx_year = rng.integers(2010, 2025, size=n)
    stage = np.array(STAGES, dtype=object)[rng.integers(len(STAGES), size=n)]
    panel = centre_no % 4 == 0  # a quarter of the centres sequence with a gene panel
    genes_all = sorted(set(vocab.gene))
    covered = (
        genes_all[::2] + [g for g, *_ in HOTSPOTS if g not in genes_all[::2]] if panel else None
    )
    fingerprint = OLD_PIPELINE if centre_no % 10 == 9 else PIPELINE
    # variants: hotspots by tumour type, germline, passengers
    vi = _index_of(vocab)
    pat_rows: list[np.ndarray] = []
    var_rows: list[np.ndarray] = []
    origin_rows: list[np.ndarray] = []
    hot_genes: dict[int, set[str]] = {}
    for g, pc, per_tt, default in HOTSPOTS:
        freq = np.array([per_tt.get(str(c), default) for c in codes])
        hit = np.nonzero(rng.random(n) < freq)[0]
        for i in hit.tolist():
            hot_genes.setdefault(i, set()).add(f"{g} {pc}")
        pat_rows.append(hit)
        var_rows.append(np.full(len(hit), vi[(g, pc)]))
        origin_rows.append(np.zeros(len(hit), dtype=bool))
    for g, pc, freq in GERMLINE:
        hit = np.nonzero(rng.random(n) < freq)[0]
        pat_rows.append(hit)
        var_rows.append(np.full(len(hit), vi[(g, pc)]))
        origin_rows.append(np.ones(len(hit), dtype=bool))
    k = rng.poisson(variants_per_patient - 2, size=n)
    owner = np.repeat(np.arange(n), k)
    passengers = rng.choice(len(vocab.gene), size=int(k.sum()), p=vocab.passenger_weight)
    pat_rows.append(owner)
    var_rows.append(passengers)
    origin_rows.append(np.zeros(len(owner), dtype=bool))
    vp = np.concatenate(pat_rows)
    vv = np.concatenate(var_rows)
    germ = np.concatenate(origin_rows)
    if covered is not None:
        keep = np.isin(vocab.gene[vv], covered)
        vp, vv, germ = vp[keep], vv[keep], germ[keep]
    # one row per (patient, variant)
    key = np.unique(vp.astype(np.int64) * 1_000_000 + vv, return_index=True)[1]
    vp, vv, germ = vp[key], vv[key], germ[key]
    vaf = np.round(rng.beta(2, 5, size=len(vp)), 3)
    variants = pa.table(
        {
            "patient_id": pa.array(pids[vp], pa.string()),
            "specimen_id": pa.array(pids[vp] + "-T", pa.string()),
            "genome_build": pa.array(np.full(len(vp), "GRCh37", dtype=object), pa.string()),
            "chrom": pa.array(vocab.chrom[vv], pa.string()),
            "pos": pa.array(vocab.pos[vv], pa.int64()),
            "ref": pa.array(vocab.ref[vv], pa.string()),
            "alt": pa.array(vocab.alt[vv], pa.string()),
            "origin": pa.array(np.where(germ, "germline", "somatic").astype(object), pa.string()),
            "source": pa.array(np.full(len(vp), "pipeline", dtype=object), pa.string()),
            "filter": pa.array(np.full(len(vp), "PASS", dtype=object), pa.string()),
            "vaf": pa.array(np.where(germ, 0.5, vaf)),
            "gene": pa.array(vocab.gene[vv], pa.string()),
            "consequence": pa.array(vocab.consequence[vv], pa.string()),
            "variant_class": pa.array(vocab.variant_class[vv], pa.string()),
            "protein_change": pa.array(vocab.protein_change[vv], pa.string()),
            "pipeline_fingerprint": pa.array(
                np.full(len(vp), fingerprint, dtype=object), pa.string()
            ),
        }
    )
    conditions = pa.table(
        {
            "patient_id": pa.array(pids, pa.string()),
            "condition_id": pa.array(pids + "-c1", pa.string()),
            "kind": pa.array(np.full(n, "primary", dtype=object), pa.string()),
            "oncotree_code": pa.array(codes, pa.string()),
            "oncotree_tissue": pa.array(tissues, pa.string()),
            "diagnosis_year": pa.array(dx_year.astype(np.int32)),
            "diagnosis_day": pa.array(np.zeros(n, np.int32)),
            "age_at_diagnosis": pa.array(age.astype(np.int32)),
            "stage_group": pa.array(stage, pa.string()),
            "stage_group_display": pa.array(
                np.char.add("Stage ", stage.astype(str)).astype(object), pa.string()
            ),
        }
    )
    assay_type, assay_name = ("panel", "ONCOPANEL:2.0") if panel else ("WES", "WES-EXOME:1.0")
    specimens = pa.table(
        {
            "patient_id": pa.array(pids, pa.string()),
            "specimen_id": pa.array(pids + "-T", pa.string()),
            "role": pa.array(np.full(n, "tumour", dtype=object), pa.string()),
            "sample_type": pa.array(np.full(n, "FFPE", dtype=object), pa.string()),
            "assay_type": pa.array(np.full(n, assay_type, dtype=object), pa.string()),
            "assay_name": pa.array(np.full(n, assay_name, dtype=object), pa.string()),
            "covered_genes": pa.array([covered] * n, pa.list_(pa.string())),
        }
    )
    # biomarkers
    b_pid: list[np.ndarray] = []
    b_marker: list[np.ndarray] = []
    b_interp: list[np.ndarray] = []
    b_value: list[np.ndarray] = []
    her2_tt = np.isin(codes, ["IDC", "ILC", "STAD", "ESCA"])
    idx = np.nonzero(her2_tt)[0]
    pos_ = rng.random(len(idx)) < 0.18
    b_pid.append(idx)
    b_marker.append(np.full(len(idx), "HER2", dtype=object))
    b_interp.append(np.where(pos_, "positive", "negative").astype(object))
    b_value.append(np.full(len(idx), np.nan))
    idx = np.arange(n)
    msi_p = np.where(np.isin(codes, ["COAD", "READ"]), 0.15, np.where(codes == "UEC", 0.3, 0.02))
    high = rng.random(n) < msi_p
    b_pid.append(idx)
    b_marker.append(np.full(n, "MSI", dtype=object))
    b_interp.append(np.where(high, "high", "low").astype(object))
    b_value.append(np.full(n, np.nan))
    tmb = np.round(rng.lognormal(1.2, 0.9, size=n) + np.where(high, 30, 0), 1)
    b_pid.append(idx)
    b_marker.append(np.full(n, "TMB", dtype=object))
    b_interp.append(np.where(tmb >= 10, "high", "low").astype(object))
    b_value.append(tmb)
    bp = np.concatenate(b_pid)
    bval = np.concatenate(b_value)
    biomarkers = pa.table(
        {
            "patient_id": pa.array(pids[bp], pa.string()),
            "marker": pa.array(np.concatenate(b_marker), pa.string()),
            "interpretation": pa.array(np.concatenate(b_interp), pa.string()),
            "value_numeric": pa.array(bval, mask=np.isnan(bval)),
            "unit": pa.array(np.where(np.isnan(bval), None, "/[Mb]"), pa.string()),
        }
    )
    her2_pos = dict(zip(np.nonzero(her2_tt)[0].tolist(), pos_.tolist(), strict=True))
    markers = {
        i: {"MSI-H": bool(high[i]), **({"HER2": her2_pos[i]} if i in her2_pos else {})}
        for i in range(n)
    }
    jcols, jtables = _journey_tables(
        rng, centre, pids, codes, tissues, stage, dx_year, hot_genes, markers
    )
    deceased = jcols["deceased"]
    patients = pa.table(
        {
            "patient_id": pa.array(pids, pa.string()),
            "sex": pa.array(sex.astype(object), pa.string()),
            "birth_year": pa.array((dx_year - age).astype(np.int32)),
            "deceased": pa.array(deceased),
            "death_year": pa.array(jcols["death_year"].astype(np.int32), mask=~deceased),
            "anchor": pa.array(np.full(n, "primary_diagnosis", dtype=object), pa.string()),
            "anchor_year": pa.array(dx_year.astype(np.int32)),
            "death_day": pa.array(jcols["death_day"].astype(np.int32), mask=~deceased),
            "last_known_alive_day": pa.array(jcols["last_known_alive_day"].astype(np.int32)),
        }
    )
    cw = np.array([c[3] for c in CONSENT_PROFILES])
    ci = rng.choice(len(CONSENT_PROFILES), size=n, p=cw / cw.sum())
    perms = [CONSENT_PROFILES[i][0] for i in ci]
    mods = [CONSENT_PROFILES[i][1] for i in ci]
    dis = [[str(tissues[j])] if CONSENT_PROFILES[i][2] else [] for j, i in enumerate(ci)]
    consents = pa.table(
        {
            "patient_id": pa.array(pids, pa.string()),
            "consent_id": pa.array(pids + "-consent", pa.string()),
            "status": pa.array(np.full(n, "active", dtype=object), pa.string()),
            "scope": pa.array([["genomic", "clinical"]] * n, pa.list_(pa.string())),
            "permissions": pa.array(perms, pa.list_(pa.string())),
            "modifiers": pa.array(mods, pa.list_(pa.string())),
            "disease_codes": pa.array(dis, pa.list_(pa.string())),
        }
    )
    tables = {
        "patients": patients,
        "conditions": conditions,
        "specimens": specimens,
        "variants": variants,
        "biomarkers": biomarkers,
        "consents": consents,
        **{k: v for k, v in jtables.items() if v.num_rows},
    }
    if genomic:
        extra = genomic_tables(
            np.random.default_rng([seed, centre_no, 23]), pids, codes, covered, fingerprint,
            msi_high=high, her2=her2_pos,
        )  # fmt: skip
        more = extra.pop("biomarkers")
        tables["biomarkers"] = pa.concat_tables([biomarkers, more], promote_options="default")
        tables.update({k: v for k, v in extra.items() if v.num_rows})
    sid = hashlib.sha256(f"synthetic/{seed}/{centre}/{n}".encode()).hexdigest()
    return Submission(
        submission_id=sid,
        dataset_id=dataset,
        centre_id=centre,
        dataset={
            "centre_name": f"Synthetic Cancer Centre {centre_no}",
            "country": "NL",
            "title": f"{centre} tumour/normal sequencing",
            "data_types": ["variants", "clinical", "consent"],
            "genome_build": "GRCh37",
            "assays": [f"{assay_type}:{assay_name}"],
            "pipeline_id": "oncolake/dna_seq",
            "pipeline_version": "1.0.0" if fingerprint == PIPELINE else "0.9.0",
            "pipeline_fingerprint": fingerprint,
            "harmonised": fingerprint == PIPELINE,
            "duo_codes": ["DUO:0000042"],
            "consent_form_version": "1",
            "journey_rules": default_rules().to_json(),
        },
        tables=tables,
        tags={"metadata_digest": sid, "duo_codes": ["DUO:0000042"], "consent_version": "1"},
    )


#: Bench OncoTree codes that ``oncolake.demo.genomic``'s frequencies key under another code.
GENOMIC_CODE = {"SKCM": "MEL", "HGSOC": "OVT", "CCRCC": "RCC", "UEC": "UCEC"}
_CALLS = ("amplification", "gain", "neutral", "loss", "deep_deletion")


def _by_type(codes: np.ndarray, table: Mapping[str, float], default: float) -> np.ndarray:
    """Per patient, the frequency of its (demo-coded) tumour type in ``table``."""
    demo = [GENOMIC_CODE.get(str(c), str(c)) for c in codes]
    return np.array([table.get(c, default) for c in demo], dtype=float)


def genomic_tables(
    rng: np.random.Generator,
    pids: np.ndarray,
    codes: np.ndarray,
    covered: list[str] | None,
    fingerprint: str,
    *,
    msi_high: np.ndarray,
    her2: dict[int, bool],
) -> dict[str, pa.Table]:
    """One centre's ``structural_variants``, ``copy_number_genes`` and pipeline TMB/MSI
    ``biomarkers`` rows, drawn column-wise with ``oncolake.demo.genomic``'s frequencies
    (:data:`~oncolake.demo.genomic.FUSIONS`, :data:`~oncolake.demo.genomic.CNV_EVENTS`,
    :data:`~oncolake.demo.genomic.TMB_MEDIAN` …, cited there) as its ``draw`` uses them:
    a panel centre (``covered`` genes) calls only fusions and copy number of covered genes
    and reports no TMB/MSI; ERBB2 is amplified in 90 % of FHIR HER2-positive and 2 % of
    HER2-negative tumours, MSI-H in 95 % of FHIR MSI-high and 2 % of the others. Every
    gene of the assay gets a copy-number row (neutral rows say it was assessed)."""
    g = demo_genomic
    n = len(pids)
    cover = set(covered) if covered is not None else None
    # -- fusions, and passenger deletions/duplications (no gene), as write_patient_results
    keys = ("i", "sv_type", "chrom", "pos", "chrom2", "pos2", "gene_a", "gene_b", "fusion")
    sv: dict[str, list[np.ndarray]] = {k: [] for k in keys}
    for f in g.FUSIONS:
        if cover is not None and not {f.five, f.three} <= cover:
            continue
        hit = np.flatnonzero(rng.random(n) < _by_type(codes, f.frequency, f.default))
        a, b = f.genes
        for key, value in (("sv_type", f.sv_type), ("chrom", f.chrom), ("pos", f.pos),
                           ("chrom2", f.chrom2), ("pos2", f.pos2), ("gene_a", a),
                           ("gene_b", b), ("fusion", f"{f.five}::{f.three}")):  # fmt: skip
            sv[key].append(np.full(len(hit), value, dtype=object))
        sv["i"].append(hit)
    k = rng.poisson(1.5, size=n)
    owner = np.repeat(np.arange(n), k)
    m = len(owner)
    chrom = rng.integers(1, 23, size=m)
    pos = rng.integers(1_000_000, 40_000_000, size=m)
    kind = np.where(rng.random(m) < 0.6, "DEL", "DUP").astype(object)
    sv["i"].append(owner)
    sv["sv_type"].append(kind)
    sv["chrom"].append(chrom.astype(str).astype(object))
    sv["pos"].append(pos.astype(object))
    sv["chrom2"].append(chrom.astype(str).astype(object))
    sv["pos2"].append((pos + rng.integers(500, 200_000, size=m)).astype(object))
    for key in ("gene_a", "gene_b", "fusion"):
        sv[key].append(np.full(m, None, dtype=object))
    cols = {key: np.concatenate(v) for key, v in sv.items()}
    who = cols.pop("i").astype(np.int64)
    fused = cols["fusion"] != None  # noqa: E711 (object array)
    filt = np.where(fused | (rng.random(len(who)) < 0.8), "PASS", "LowQual").astype(object)
    pos1, pos2 = cols["pos"].astype(np.int64), cols["pos2"].astype(np.int64)
    same = cols["sv_type"] != "BND"

    def genes(col: np.ndarray) -> pa.Array:
        return pa.array([[x] if x is not None else None for x in col], pa.list_(pa.string()))

    consts = {
        "patient_id": pa.array(pids[who], pa.string()),
        "specimen_id": pa.array(pids[who] + "-T", pa.string()),
        "genome_build": pa.array(np.full(len(who), "GRCh37", dtype=object), pa.string()),
        "pipeline_fingerprint": pa.array(np.full(len(who), fingerprint, dtype=object)),
    }
    structural = pa.table(
        {
            **consts,
            "sv_type": pa.array(cols["sv_type"], pa.string()),
            "chrom": pa.array(cols["chrom"], pa.string()),
            "pos": pa.array(pos1, pa.int64()),
            "chrom2": pa.array(cols["chrom2"], pa.string()),
            "pos2": pa.array(pos2, pa.int64()),
            "sv_length": pa.array(np.where(same, pos2 - pos1, 0), pa.int64(), mask=~same),
            "gene_a": genes(cols["gene_a"]),
            "gene_b": genes(cols["gene_b"]),
            "fusion": pa.array(cols["fusion"], pa.string()),
            "fusion_genes": pa.array(
                [f.split("::") if f is not None else None for f in cols["fusion"]],
                pa.list_(pa.string()),
            ),
            "filter": pa.array(filt, pa.string()),
            "pe": pa.array(rng.integers(2, 40, size=len(who)).astype(np.int32)),
            "sr": pa.array(rng.integers(0, 25, size=len(who)).astype(np.int32)),
            "caller": pa.array(np.full(len(who), "EMBL.DELLYv1.1.6", dtype=object), pa.string()),
        }
    )
    # -- gene-level copy number: the focal events, broad gains/losses now and then
    gene_names = [x for x in g.GENES if cover is None or x in cover]
    call = np.full((n, len(gene_names)), 2, dtype=np.int8)  # index into _CALLS: neutral
    her2_known = np.array([i in her2 for i in range(n)])
    her2_pos = np.array([her2.get(i, False) for i in range(n)])
    for gene, what, freq, default in g.CNV_EVENTS:
        if gene not in gene_names:
            continue
        p = _by_type(codes, freq, default)
        if gene == "ERBB2":
            p = np.where(her2_known, np.where(her2_pos, 0.9, 0.02), p)
        j = gene_names.index(gene)
        call[rng.random(n) < p, j] = _CALLS.index(what)
    u = rng.random(call.shape)
    neutral = call == 2
    call[neutral & (u < 0.06)] = 1
    call[neutral & (u >= 0.06) & (u < 0.12)] = 3
    flat = call.ravel()
    log2 = np.select(
        [flat == 0, flat == 1, flat == 3, flat == 4],
        [np.maximum(1.3, rng.normal(2.3, 0.5, flat.size)), rng.uniform(0.35, 0.8, flat.size),
         rng.uniform(-1.0, -0.45, flat.size), rng.uniform(-5.0, -2.0, flat.size)],
        rng.normal(0.0, 0.08, flat.size),
    ).round(3)  # fmt: skip
    owner = np.repeat(np.arange(n), len(gene_names))
    gi = np.tile(np.arange(len(gene_names)), n)
    extent = [g.GENES[x] for x in gene_names]
    copy_number = pa.table(
        {
            "patient_id": pa.array(pids[owner], pa.string()),
            "specimen_id": pa.array(pids[owner] + "-T", pa.string()),
            "genome_build": pa.array(np.full(flat.size, "GRCh37", dtype=object), pa.string()),
            "gene": pa.array(np.array(gene_names, dtype=object)[gi], pa.string()),
            "chrom": pa.array(np.array([e[0] for e in extent], dtype=object)[gi], pa.string()),
            "start": pa.array(np.array([e[1] for e in extent], np.int64)[gi]),
            "end": pa.array(np.array([e[2] for e in extent], np.int64)[gi]),
            "log2": pa.array(log2),
            "copy_number": pa.array(np.where(flat == 4, 0.0, 2.0 * 2.0**log2).round(2)),
            "call": pa.array(np.array(_CALLS, dtype=object)[flat], pa.string()),
            "pipeline_fingerprint": pa.array(np.full(flat.size, fingerprint, dtype=object)),
        }
    )
    # -- TMB and MSI (WES only: a panel is far below the ~1 Mb TMB needs)
    if covered is not None:
        return {"structural_variants": structural, "copy_number_genes": copy_number,
                "biomarkers": pa.table({"patient_id": pa.array([], pa.string())})}  # fmt: skip
    msi = rng.random(n) < np.where(msi_high, 0.95, 0.02)
    median = np.where(msi, g.MSI_TMB_MEDIAN, _by_type(codes, g.TMB_MEDIAN, 2.7))
    tmb = np.round(rng.lognormal(np.log(median), np.where(msi, 0.5, g.TMB_SIGMA)), 1)
    score = np.round(np.where(msi, rng.uniform(25, 55, n), rng.uniform(0, 8, n)), 1)
    both = np.concatenate([np.arange(n), np.arange(n)])
    status = np.where(msi, "MSI-H", "MSS").astype(object)
    biomarkers = pa.table(
        {
            "patient_id": pa.array(pids[both], pa.string()),
            "marker": pa.array(["TMB"] * n + ["MSI"] * n, pa.string()),
            "code": pa.array(["94076-7"] * n + ["81695-9"] * n, pa.string()),
            "code_system": pa.array(["http://loinc.org"] * (2 * n), pa.string()),
            "value_code": pa.array(
                [None] * n + ["LA26203-2" if x else "LA26204-0" for x in msi],
                pa.string(),
            ),
            "value_display": pa.array(
                [f"{x:g} mutations/Mb" for x in tmb] + list(status), pa.string()
            ),
            "value_numeric": pa.array(np.concatenate([tmb, score])),
            "unit": pa.array(["1/1000000"] * n + ["%"] * n, pa.string()),
            "interpretation": pa.array(
                list(np.where(tmb >= g.TMB_HIGH, "high", "low"))
                + list(np.where(msi, "high", "negative")),
                pa.string(),
            ),
            "source": pa.array(["pipeline"] * (2 * n), pa.string()),
            "specimen_id": pa.array(pids[both] + "-T", pa.string()),
        }
    )
    return {"structural_variants": structural, "copy_number_genes": copy_number,
            "biomarkers": biomarkers}  # fmt: skip


#: Bench OncoTree codes whose pathways the demo keys under another code.
PATHWAY_CODE = {"SKCM": "MEL", "HGSOC": "OVT", "CCRCC": "RCC"}
#: Seconds spent deriving regimens and lines (harmonise.journeys), over all centres.
DERIVATION = {"seconds": 0.0, "patients": 0}


def _journey_tables(
    rng: np.random.Generator,
    centre: str,
    pids: np.ndarray,
    codes: np.ndarray,
    tissues: np.ndarray,
    stage: np.ndarray,
    dx_year: np.ndarray,
    genes: dict[int, set[str]],
    markers: dict[int, dict[str, bool]],
) -> tuple[dict[str, np.ndarray], dict[str, pa.Table]]:
    """Per-patient journeys: patient columns (anchor, death, last alive) and the
    treatments, outcomes, regimens and lines_of_therapy tables."""
    n = len(pids)
    doy = rng.integers(0, 365, size=n)
    death_day = np.full(n, -1, np.int64)
    alive_day = np.zeros(n, np.int64)
    treat: list[dict[str, object]] = []
    outcome: list[dict[str, object]] = []
    facts: dict[str, PatientFacts] = {}
    for i in range(n):
        code = PATHWAY_CODE.get(str(codes[i]), str(codes[i]))
        group = subgroup(code, genes.get(i, set()), markers.get(i, {}))
        fallback = DRUGS.get(str(tissues[i]), DRUGS["OTHER"])[:2]
        path = pathway_for(code, group, fallback, centre_preference(rng, centre, f"{code}|{group}"))
        dx = dt.date(int(dx_year[i]), 1, 1) + dt.timedelta(days=int(doy[i]))
        j = draw_journey(rng, dx, str(stage[i]).rstrip("ABC"), path)
        pid = str(pids[i])
        for r in j.records:
            treat.append(
                {
                    "patient_id": pid, "kind": "medication", "drug": r.drug,
                    "drug_class": drug_class(r.drug), "drug_mapped": True,
                    "start_year": r.start.year, "start_day": (r.start - dx).days,
                    "end_year": r.end.year if r.end else None,
                    "end_day": (r.end - dx).days if r.end else None,
                    "status": "active" if r.active else "completed",
                }
            )  # fmt: skip
        prog = [(p - dx).days for p in j.progressions]
        for d in prog:
            outcome.append(
                {"patient_id": pid, "kind": "disease_status", "code": "271299001",
                 "status": "progression", "days_from_diagnosis": d, "year": dx.year + d // 365}
            )  # fmt: skip
        alive_day[i] = (j.last_contact - dx).days
        if j.death is not None:
            death_day[i] = (j.death - dx).days
            outcome.append(
                {"patient_id": pid, "kind": "death", "code": "419099009", "status": "death",
                 "days_from_diagnosis": int(death_day[i]), "year": j.death.year}
            )  # fmt: skip
        # the metastatic index as harmonise.journeys.patient_facts reads it from the lake
        index = 0 if str(stage[i]).startswith("IV") else (min(prog) if prog else None)
        facts[pid] = PatientFacts(
            prog, j.death and int(death_day[i]), int(alive_day[i]), index, str(codes[i])
        )
    t0 = time.perf_counter()
    lines, regimens = journey_rows(treat, facts)
    DERIVATION["seconds"] += time.perf_counter() - t0
    DERIVATION["patients"] += n
    dead = death_day >= 0
    cols = {
        "deceased": dead,
        "death_day": death_day,
        "last_known_alive_day": alive_day,
        "death_year": np.where(dead, dx_year + np.maximum(death_day, 0) // 365, 0),
    }
    return cols, {
        "treatments": _table("treatments", treat),
        "outcomes": _table("outcomes", outcome),
        "lines_of_therapy": _table("lines_of_therapy", lines),
        "regimens": _table("regimens", regimens),
    }


def _table(name: str, rows: list[dict[str, object]]) -> pa.Table:
    from harmonise.lake import arrow_schema

    schema = arrow_schema(name)
    names = [c for c in schema.names if rows and c in rows[0]] or ["patient_id"]
    return pa.Table.from_pylist(rows, schema=pa.schema([schema.field(c) for c in names]))


def centre_sizes(centres: int, patients: int, seed: int) -> np.ndarray:
    """Patients per centre: skewed (a few large centres, many small), summing to ``patients``."""
    rng = np.random.default_rng(seed)
    w = rng.pareto(1.5, size=centres) + 1.0
    sizes = np.maximum(1, np.floor(w / w.sum() * patients)).astype(int)
    sizes[np.argmax(sizes)] += patients - int(sizes.sum())
    return sizes


def submissions(
    centres: int, patients: int, seed: int, genomic: bool = True
) -> Iterator[Submission]:
    """Every centre's submission, in centre order."""
    vocab = build_vocabulary(np.random.default_rng(seed))
    for c, n in enumerate(centre_sizes(centres, patients, seed)):
        yield centre_submission(c, int(n), vocab, seed, genomic=genomic)


def open_bench_lake(home: Path) -> Lake:
    """A local lake under ``home`` (SQLite catalog) with a fixed benchmark tag key."""
    home.mkdir(parents=True, exist_ok=True)
    cfg = LakeConfig(
        catalog_uri=f"sqlite:///{home / 'catalog.db'}", warehouse=f"file://{home / 'warehouse'}"
    )
    lake = Lake(cfg, b"bench-tag-key")
    lake.init()
    return lake


def main(argv: list[str] | None = None) -> int:
    """Generate the network into the lake under ``--home``."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--home", type=Path, required=True)
    ap.add_argument("--centres", type=int, default=200)
    ap.add_argument("--patients", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=6)
    ap.add_argument(
        "--genomic",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="structural variants, copy number and pipeline TMB/MSI rows (issue 23)",
    )
    args = ap.parse_args(argv)
    lake = open_bench_lake(args.home)
    t0 = time.perf_counter()
    total = 0
    for i, sub in enumerate(submissions(args.centres, args.patients, args.seed, args.genomic)):
        lake.commit(sub)
        if i % 100 == 99:
            # A hub's maintenance expires old history (`lake maintain`, 7 days by default);
            # 2,000 commits made in minutes are expired here instead: pyiceberg copies a
            # table's whole metadata, snapshots included, several times per commit.
            lake.expire_history(dt.timedelta(0))
        total += sub.tables["patients"].num_rows
        if i % 50 == 0:
            el = time.perf_counter() - t0
            print(f"{i + 1}/{args.centres} centres, {total} patients, {el:.0f}s", flush=True)
    print(f"done: {total} patients in {time.perf_counter() - t0:.0f}s")
    print(
        f"derivation: regimens and lines of {DERIVATION['patients']} patients in "
        f"{DERIVATION['seconds']:.1f}s (harmonise.journeys.journey_rows)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
