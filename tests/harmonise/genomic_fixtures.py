"""Pipeline result files written to CONTRACT23's formats, for the lake side's tests: a
delly-style somatic SV VCF with the pipeline's GENE_A/GENE_B/FUSION annotation, CNVkit-style
segment and gene tables, and a TMB/MSI record. GRCh37, Ensembl contig names, samples
``T-001``/``N-001`` (the small-variant fixtures' names)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pysam

SV_HEADER = """##fileformat=VCFv4.2
##FILTER=<ID=PASS,Description="All filters passed">
##FILTER=<ID=LowQual,Description="Poor quality and insufficient number of PEs and SRs.">
##reference=GRCh37
##contig=<ID=2,length=243199373>
##contig=<ID=7,length=159138663>
##contig=<ID=9,length=141213431>
##contig=<ID=12,length=133851895>
##contig=<ID=15,length=102531392>
##ALT=<ID=DEL,Description="Deletion">
##ALT=<ID=DUP,Description="Duplication">
##ALT=<ID=INV,Description="Inversion">
##ALT=<ID=INS,Description="Insertion">
##INFO=<ID=CHR2,Number=1,Type=String,Description="Chromosome for POS2">
##INFO=<ID=POS2,Number=1,Type=Integer,Description="Position for CHR2">
##INFO=<ID=END,Number=1,Type=Integer,Description="End position of the structural variant">
##INFO=<ID=PE,Number=1,Type=Integer,Description="Paired-end support of the structural variant">
##INFO=<ID=SR,Number=1,Type=Integer,Description="Split-read support">
##INFO=<ID=CT,Number=1,Type=String,Description="Paired-end signature induced connection type">
##INFO=<ID=SVLEN,Number=1,Type=Integer,Description="Insertion length for SVTYPE=INS.">
##INFO=<ID=PRECISE,Number=0,Type=Flag,Description="Precise structural variation">
##INFO=<ID=SVTYPE,Number=1,Type=String,Description="Type of structural variant">
##INFO=<ID=SVMETHOD,Number=1,Type=String,Description="Type of approach used to detect SV">
##INFO=<ID=MATEID,Number=.,Type=String,Description="ID of mate breakends">
##INFO=<ID=GENE_A,Number=1,Type=String,Description="Genes at breakpoint 1">
##INFO=<ID=GENE_B,Number=1,Type=String,Description="Genes at breakpoint 2">
##INFO=<ID=FUSION,Number=1,Type=String,Description="5PRIME::3PRIME fusion">
##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">
##FORMAT=<ID=DV,Number=1,Type=Integer,Description="# high-quality variant pairs">
#CHROM	POS	ID	REF	ALT	QUAL	FILTER	INFO	FORMAT	{samples}
"""

M = "SVMETHOD=EMBL.DELLYv1.1.6"
#: (CHROM, POS, ID, REF, ALT, FILTER, INFO): an ETV6::NTRK3 fusion as a BND (chr12 →
#: chr15, delly's CHR2/POS2), a CDKN2A deletion, an EGFR tandem duplication, an inversion
#: joining EML4 and ALK (chr2, EML4::ALK), an insertion, and a low-quality deletion.
SV_RECORDS: list[tuple[str, ...]] = [
    ("2", "29446394", "INV00000001", "A", "<INV>", "PASS",
     f"PRECISE;SVTYPE=INV;{M};END=42522656;PE=12;SR=8;CT=5to5;GENE_A=ALK;GENE_B=EML4;"
     "FUSION=EML4::ALK"),
    ("7", "55210000", "DUP00000001", "C", "<DUP:TANDEM>", "PASS",
     f"PRECISE;SVTYPE=DUP;{M};END=55230000;PE=9;SR=4;CT=5to3;GENE_A=EGFR;GENE_B=EGFR"),
    ("9", "21960000", "DEL00000001", "G", "<DEL>", "PASS",
     f"PRECISE;SVTYPE=DEL;{M};END=21999000;PE=15;SR=10;CT=3to5;GENE_A=CDKN2A;GENE_B=CDKN2B"),
    ("9", "30000000", "INS00000001", "T", "<INS>", "PASS",
     f"PRECISE;SVTYPE=INS;{M};END=30000001;SVLEN=320;PE=0;SR=6;CT=NtoN"),
    ("12", "12022903", "BND00000001", "T", "T]15:88576000]", "PASS",
     f"PRECISE;SVTYPE=BND;{M};CHR2=15;POS2=88576000;PE=20;SR=11;CT=3to3;GENE_A=ETV6;"
     "GENE_B=NTRK3;FUSION=ETV6::NTRK3"),
    ("12", "50000000", "DEL00000002", "A", "<DEL>", "LowQual",
     f"IMPRECISE;SVTYPE=DEL;{M};END=50001000;PE=2;CT=3to5".replace("IMPRECISE;", "")),
]  # fmt: skip


def sv_vcf_text(
    records: Sequence[tuple[str, ...]] | None = None,
    samples: tuple[str, ...] = ("T-001", "N-001"),
    header: str = SV_HEADER,
) -> str:
    """A structural VCF's text (records as (CHROM, POS, ID, REF, ALT, FILTER, INFO))."""
    rows = SV_RECORDS if records is None else records
    body = [header.format(samples="\t".join(samples))]
    for chrom, pos, ident, ref, alt, filt, info in rows:
        gts = "\t".join(["0/1:12", "0/0:0"][: len(samples)])
        body.append(f"{chrom}\t{pos}\t{ident}\t{ref}\t{alt}\t.\t{filt}\t{info}\tGT:DV\t{gts}\n")
    return "".join(body)


def write_sv_vcf(path: Path, text: str | None = None) -> Path:
    """Write (bgzip + tabix) a structural VCF; return the ``.vcf.gz`` path."""
    plain = path.with_suffix("")  # x.vcf.gz -> x.vcf
    plain.write_text(sv_vcf_text() if text is None else text)
    pysam.tabix_compress(str(plain), str(path), force=True)
    plain.unlink()
    return path


SEGMENTS = """chrom\tstart\tend\tlog2\tcopy_number\tprobes
7\t0\t55000000\t0.02\t2.03\t812
7\t55000000\t55300000\t2.61\t13.4\t40
9\t21900000\t22020000\t-4.2\t0.0\t22
17\t37800000\t37900000\t2.2\t9.1\t18
"""
GENES = """gene\tchrom\tstart\tend\tlog2\tcopy_number\tcall
EGFR\t7\t55086724\t55279321\t2.61\t13.4\tamplification
CDKN2A\t9\t21967751\t21995300\t-4.2\t0.0\tdeep_deletion
ERBB2\t17\t37844167\t37884915\t2.2\t9.1\tamplification
TP53\t17\t7565097\t7590856\t-0.4\t1.5\tloss
BRAF\t7\t140424943\t140624564\t0.02\t2.03\tneutral
"""


def tmb_msi_doc(**over: Any) -> dict[str, Any]:
    """A TMB/MSI record (MSI-H, TMB 12.3 mut/Mb)."""
    doc: dict[str, Any] = {
        "schema": "oncolake.tmb_msi/1",
        "tmb": {
            "mutations_per_mb": 12.3,
            "mutations": 45,
            "callable_mb": 3.66,
            "counted": ["missense", "stop_gained", "frameshift", "inframe_indel"],
            "rule": "somatic coding SNV/indel, VAF >= 0.05, no germline, hotspots counted",
        },
        "msi": {
            "score_percent": 31.0,
            "status": "MSI-H",
            "loci_evaluated": 120,
            "loci_unstable": 37,
            "threshold_percent": 20.0,
        },
        "purity": 0.62,
    }
    for k, v in over.items():
        doc[k] = v
    return doc


def write_results(root: Path, patient: str, *, sv: bool = True, cnv: bool = True,
                  tmb: bool = True) -> Path:  # fmt: skip
    """A pipeline results folder with ``patient``'s CONTRACT23 outputs; returns ``root``."""
    if sv:
        (root / "annotated" / "sv").mkdir(parents=True, exist_ok=True)
        write_sv_vcf(root / "annotated" / "sv" / f"{patient}.sv.annotated.vcf.gz")
    if cnv:
        (root / "cnv").mkdir(parents=True, exist_ok=True)
        (root / "cnv" / f"{patient}.segments.tsv").write_text(SEGMENTS)
        (root / "cnv" / f"{patient}.genes.tsv").write_text(GENES)
    if tmb:
        (root / "biomarkers").mkdir(parents=True, exist_ok=True)
        (root / "biomarkers" / f"{patient}.tmb_msi.json").write_text(
            json.dumps(tmb_msi_doc(), indent=2)
        )
    return root
