"""Verify a committed submission: re-read the source VCFs with an independent reader
(pysam record by record, not the text engine / Arrow path ingest used) and compare them
field by field with the lake rows of that submission (bio2zarr's ``verify`` habit)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from harmonise.errors import VerifyError
from harmonise.ingest import Prepared
from harmonise.lake import Lake

BASES = set("ACGTN")


@dataclass
class VerifyReport:
    """How many variant rows were compared and which differed."""

    compared: int = 0
    mismatches: list[str] = field(default_factory=list)


def _expected(path: str, tumour: str | None, normal: str | None) -> dict[tuple[Any, ...], Any]:
    import pysam

    out: dict[tuple[Any, ...], Any] = {}
    # htslib looks for a .tbi it does not need for a sequential read and says so on
    # stderr; silence it while opening
    quiet = pysam.set_verbosity(0)
    try:
        vf = pysam.VariantFile(path)
    finally:
        pysam.set_verbosity(quiet)
    with vf:
        for rec in vf:
            for k, alt in enumerate(rec.alts or (), start=1):
                a, ref = alt.upper(), (rec.ref or "").upper()
                if not set(a) <= BASES:
                    continue
                depth = alt_depth = None
                if tumour is not None:
                    smp = rec.samples[tumour]
                    ad = smp.get("AD") if "AD" in rec.format else None
                    dp = smp.get("DP") if "DP" in rec.format else None
                    alt_depth = ad[k] if ad is not None and len(ad) > k else None
                    if dp is not None:
                        depth = dp
                    elif ad is not None and all(x is not None for x in ad):
                        depth = sum(ad)
                out[(rec.chrom, rec.pos, ref, a)] = (depth, alt_depth)
    return out


def verify(lake: Lake, prep: Prepared) -> VerifyReport:
    """Compare the lake's variant rows of ``prep``'s submission with its VCFs."""
    from pyiceberg.expressions import EqualTo

    report = VerifyReport()
    rows = lake.read(
        "variants",
        row_filter=EqualTo(term="submission_id", value=prep.submission.submission_id),
        columns=["specimen_id", "source", "chrom", "pos", "ref", "alt", "depth", "alt_depth"],
    ).to_pylist()
    by_specimen: dict[str, dict[tuple[Any, ...], Any]] = {}
    for r in rows:
        if r["source"] != "pipeline":
            continue
        key = (r["chrom"], r["pos"], r["ref"], r["alt"])
        by_specimen.setdefault(r["specimen_id"], {})[key] = (r["depth"], r["alt_depth"])
    for rel, roles, consts in prep.vcf_files:
        expected = _expected(str(prep.bundle / rel), roles.tumour, roles.normal)
        got: Mapping[tuple[Any, ...], Any] = by_specimen.get(consts["specimen_id"], {})
        report.compared += len(expected)
        for key in sorted(set(expected) ^ set(got), key=str)[:5]:
            side = "missing from the lake" if key in expected else "not in the VCF"
            report.mismatches.append(f"{rel}: {':'.join(map(str, key))} {side}")
        for key in sorted(set(expected) & set(got), key=str):
            if expected[key] != got[key]:
                report.mismatches.append(
                    f"{rel}: {':'.join(map(str, key))}: depth/alt_depth {got[key]} in the "
                    f"lake, {expected[key]} in the VCF"
                )
                if len(report.mismatches) > 20:
                    break
    if report.mismatches:
        raise VerifyError(
            f"verify failed for submission {prep.submission.submission_id[:12]}: "
            f"{len(report.mismatches)} difference(s): {'; '.join(report.mismatches[:5])}"
        )
    return report
