"""Tumour mutational burden of one patient, and the patient's biomarker document
(CONTRACT23 item 4: TMB, MSI from scripts/msi.py, purity from scripts/cnv_genes.py).

TMB = counted somatic mutations / Mb of callable coding territory. The choices the
Friends of Cancer Research TMB Harmonization Project asks every assay to state (Merino
et al. 2020, J Immunother Cancer 8:e000147; Vega et al. 2021, Ann Oncol 32:1626):

* variant classes counted: somatic SNVs and indels (MNVs as bcftools norm splits them)
  whose bcftools csq consequence is non-synonymous coding or essential splice --
  ``tmb.counted`` in workflow/analysis.yaml: missense, stop_gained, stop_lost,
  start_lost, frameshift, inframe insertion/deletion/altering, splice acceptor/donor.
  Synonymous variants are NOT counted (the WES reference of the harmonisation counts
  non-synonymous coding mutations; panels that add synonymous ones do it to enlarge a
  small numerator, which this matched-normal WES/WGS-style pipeline does not need).
  Non-coding, UTR, intronic and splice-region (non-essential) variants are not counted;
* filters: the somatic caller's PASS calls only (scripts/call_somatic.py), at any VAF it
  calls (>= 0.02, tumour LOD >= 6.3); one count per ALT allele;
* germline: removed by the matched normal (the caller's normal LOD and ALT-in-normal
  tests); no population-database subtraction, which a tumour-only assay would need;
* hotspots / drivers: NOT excluded (some panels drop known cancer hotspots to avoid
  inflating TMB on a small panel; over the callable exome/genome their weight is small
  and excluding them would bias against the tumours basket trials look for);
* denominator: the callable territory (results/callable/{patient}.callable.bed: tumour
  depth >= 8 and normal depth >= 6, MAPQ >= 20) intersected with the GFF3 CDS, in Mb; a
  variant counts when its POS (1-based; 0-based POS - 1) lies in that territory.
"""

import json
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pysam

# intervals.py beside this script (Snakemake sets __file__ to the original script).
sys.path.insert(0, str(Path(__file__).resolve().parent))
from intervals import Intervals, intersect, merge, read_bed

__all__ = ["Intervals", "cds", "consequences", "inside", "intersect", "merge", "read_bed", "tmb"]


def cds(gff3: str | Path) -> Intervals:
    """Merged CDS intervals of the GFF3, 0-based half-open."""
    out: Intervals = {}
    for line in Path(gff3).read_text().splitlines():
        f = line.split("\t")
        if len(f) >= 9 and f[2] == "CDS":
            out.setdefault(f[0], []).append((int(f[3]) - 1, int(f[4])))
    return {c: merge(v) for c, v in out.items()}


def inside(intervals: Intervals, chrom: str, pos0: int) -> bool:
    return any(a <= pos0 < b for a, b in intervals.get(chrom, ()))


def consequences(bcsq: Iterable[str]) -> set[str]:
    """The consequence classes of a BCSQ value ('missense&inframe_altering' -> both;
    '@123' back-references and '*' markers skipped)."""
    out: set[str] = set()
    for entry in bcsq:
        if entry.startswith("@"):
            continue
        out.update(entry.split("|")[0].lstrip("*").split("&"))
    return out


def tmb(vcf: str | Path, territory: Intervals, p: Mapping[str, Any]) -> dict[str, Any]:
    counted = set(p["counted"])
    bp = sum(b - a for ivs in territory.values() for a, b in ivs)
    n = 0
    with pysam.VariantFile(str(vcf)) as fh:
        for rec in fh:
            if list(rec.filter) not in (["PASS"], []):
                continue
            bcsq = rec.info.get("BCSQ") if "BCSQ" in rec.header.info else None
            if not bcsq or not consequences(bcsq) & counted:
                continue
            if inside(territory, rec.chrom, rec.pos - 1):
                n += 1
    mb = bp / 1e6
    rate = round(n / mb, 3) if mb > float(p["min_callable_mb"]) and bp else None
    return {
        "mutations_per_mb": rate,
        "mutations": n,
        "callable_mb": round(mb, 6),
        "counted": list(p["counted"]),
        "rule": "PASS somatic SNVs/indels with a non-synonymous coding or essential-splice "
        "bcftools csq consequence, POS in callable x CDS, per Mb of callable x CDS; "
        "germline removed by the matched normal; synonymous not counted; hotspots kept",
    }


def main(smk: Any) -> None:
    territory = intersect(read_bed(smk.input.callable), cds(smk.input.gff))
    doc = {
        "schema": "oncolake.tmb_msi/1",
        "tmb": tmb(smk.input.vcf, territory, smk.params.tmb),
        "msi": {
            k: v
            for k, v in json.loads(Path(smk.input.msi).read_text()).items()
            if k != "loci_scanned"
        },
        "purity": json.loads(Path(smk.input.purity).read_text())["purity"],
    }
    Path(smk.output[0]).write_text(json.dumps(doc, indent=2) + "\n")
    with open(smk.log[0], "w") as log:
        log.write(f"tmb: {json.dumps(doc['tmb'])}\n")


if __name__ == "__main__":
    main(snakemake)  # type: ignore[name-defined]  # noqa: F821
