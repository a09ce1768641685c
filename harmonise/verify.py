"""Verify a committed submission: re-read its source files with an independent reader and
compare them field by field with the lake rows of that submission (bio2zarr's ``verify``
habit).

* small-variant VCFs: pysam record by record (not the text engine / Arrow path ingest used);
* structural VCFs (``structural/``): pysam, not :mod:`harmonise.structural`'s own reader:
  every record's breakpoints, type, ID, fusion, FILTER and read support, a BND pair
  linked by ``MATEID`` once (its first record), as the lake stores it;
* copy-number tables (``copy_number/``): Python's :mod:`csv`, not
  :mod:`harmonise.copy_number`: every gene's extent, log2, copy number and call, every
  segment's log2, copy number and probes;
* TMB/MSI records (``biomarkers/``): :mod:`json`: the TMB value and the MSI status and score
  of the ``source`` = pipeline rows.

A difference is named by file and record in the one-line :class:`VerifyError`."""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harmonise.errors import VerifyError
from harmonise.ingest import Prepared
from harmonise.lake import Lake

BASES = set("ACGTN")


@dataclass
class VerifyReport:
    """How many variant rows (``compared``) and result rows per lake table (``results``)
    were compared, and which differed."""

    compared: int = 0
    results: dict[str, int] = field(default_factory=dict)
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
    """Compare the lake's rows of ``prep``'s submission with its VCFs and result files."""
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
    _verify_results(lake, prep, report)
    if report.mismatches:
        raise VerifyError(
            f"verify failed for submission {prep.submission.submission_id[:12]}: "
            f"{len(report.mismatches)} difference(s): {'; '.join(report.mismatches[:5])}"
        )
    return report


# -- the somatic results beyond small variants (issue 23) ---------------------------------

_MATE_RE = re.compile(r"[\[\]]([^\[\]:]+):([0-9]+)[\[\]]")
#: Per result file ending: its lake table and the reader of its expected rows.
Expected = dict[tuple[Any, ...], tuple[Any, ...]]


def _sv_expected(path: Path) -> Expected:
    """A structural VCF re-read with pysam: (chrom, pos, chrom2, pos2, type) → (ID,
    fusion, FILTER, PE, SR); a MATEID pair once, as its first record."""
    import pysam

    out: Expected = {}
    seen: set[str] = set()
    quiet = pysam.set_verbosity(0)
    try:
        vf = pysam.VariantFile(str(path))
    finally:
        pysam.set_verbosity(quiet)
    with vf:
        for rec in vf:
            info = rec.info
            mate = info.get("MATEID") if "MATEID" in info else None
            mate = mate[0] if isinstance(mate, tuple) else mate
            if mate is not None and mate in seen:
                continue  # the second record of a pair: stored once
            if rec.id is not None:
                seen.add(rec.id)
            svtype = str(info["SVTYPE"])
            alt = (rec.alts or ("",))[0]
            m = _MATE_RE.search(alt)
            if svtype == "BND":
                chrom2 = m.group(1) if m else str(info.get("CHR2"))
                pos2 = int(m.group(2)) if m else int(info["POS2"])
            else:
                chrom2 = rec.chrom
                pos2 = int(info["POS2"]) if svtype == "INS" and "POS2" in info else rec.stop
            filt = ";".join(str(k) for k in rec.filter) or "."
            fusion = info.get("FUSION") if "FUSION" in info else None
            pe = info.get("PE") if "PE" in info else None
            sr = info.get("SR") if "SR" in info else None
            out[(rec.chrom, rec.pos, chrom2, pos2, svtype)] = (rec.id, fusion, filt, pe, sr)
    return out


def _tsv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


def _genes_expected(path: Path) -> Expected:
    """A gene table re-read with :mod:`csv`: gene → (chrom, start, end, log2, cn, call)."""
    return {
        (r["gene"],): (r["chrom"], int(r["start"]), int(r["end"]), float(r["log2"]),
                       float(r["copy_number"]), r["call"])
        for r in _tsv(path)
    }  # fmt: skip


def _segments_expected(path: Path) -> Expected:
    """A segment table re-read with :mod:`csv`: (chrom, start, end) → (log2, cn, probes)."""
    return {
        (r["chrom"], int(r["start"]), int(r["end"])): (
            float(r["log2"]), float(r["copy_number"]), int(r["probes"]))
        for r in _tsv(path)
    }  # fmt: skip


def _markers_expected(path: Path) -> Expected:
    """A TMB/MSI record re-read with :mod:`json`: marker → (display, value) of each
    measured result."""
    doc = json.loads(path.read_text(encoding="utf-8"))
    out: Expected = {}
    tmb, msi = doc.get("tmb") or {}, doc.get("msi") or {}
    if tmb.get("mutations_per_mb") is not None:
        out[("TMB",)] = (None, float(tmb["mutations_per_mb"]))
    if msi.get("status") is not None:
        out[("MSI",)] = (msi["status"], float(msi["score_percent"]))
    return out


#: File ending → (lake table, key columns, value columns, expected-rows reader).
RESULT_CHECKS: dict[str, tuple[str, tuple[str, ...], tuple[str, ...], Callable[[Path], Expected]]]
RESULT_CHECKS = {
    ".vcf.gz": (
        "structural_variants",
        ("chrom", "pos", "chrom2", "pos2", "sv_type"),
        ("sv_id", "fusion", "filter", "pe", "sr"),
        _sv_expected,
    ),
    ".genes.tsv": (
        "copy_number_genes",
        ("gene",),
        ("chrom", "start", "end", "log2", "copy_number", "call"),
        _genes_expected,
    ),
    ".segments.tsv": (
        "copy_number_segments",
        ("chrom", "start", "end"),
        ("log2", "copy_number", "probes"),
        _segments_expected,
    ),
    ".tmb_msi.json": ("biomarkers", ("marker",), ("value_display", "value_numeric"),
                      _markers_expected),
}  # fmt: skip


def _verify_results(lake: Lake, prep: Prepared, report: VerifyReport) -> None:
    """Compare every result file of the bundle with the lake rows of its specimen."""
    from pyiceberg.expressions import EqualTo

    from harmonise.ingest.somatic import result_files

    sub = prep.submission.submission_id
    lake_rows: dict[str, list[dict[str, Any]]] = {}
    for f in result_files(prep.manifest):
        ending = next((e for e in RESULT_CHECKS if f.path.endswith(e)), None)
        if ending is None:
            continue
        table, keys, values, read = RESULT_CHECKS[ending]
        if table not in lake_rows:
            cols = ["specimen_id", *keys, *values]
            if table == "biomarkers":
                cols.append("source")
            rows = lake.read(
                table, row_filter=EqualTo(term="submission_id", value=sub), columns=cols
            ).to_pylist()
            lake_rows[table] = [r for r in rows if r.get("source", "pipeline") == "pipeline"]
        got: Expected = {}
        for r in lake_rows[table]:
            if r["specimen_id"] == f.specimen_id:
                value = tuple(r[c] for c in values)
                if table == "biomarkers":  # TMB's display is the pipeline's text
                    value = (None if r["marker"] == "TMB" else value[0], value[1])
                got[tuple(r[c] for c in keys)] = value
        try:
            expected = read(prep.bundle / f.path)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            report.mismatches.append(f"{f.path}: cannot be re-read ({type(exc).__name__}: {exc})")
            continue
        report.results[table] = report.results.get(table, 0) + len(expected)
        for key in sorted(set(expected) ^ set(got), key=str)[:5]:
            side = "missing from the lake" if key in expected else "not in the file"
            report.mismatches.append(f"{f.path}: {':'.join(map(str, key))} {side}")
        for key in sorted(set(expected) & set(got), key=str):
            if expected[key] != got[key]:
                diff = [
                    f"{c} {g!r} in the lake, {e!r} in the file"
                    for c, g, e in zip(values, got[key], expected[key], strict=True)
                    if g != e
                ]
                report.mismatches.append(f"{f.path}: {':'.join(map(str, key))}: {', '.join(diff)}")
