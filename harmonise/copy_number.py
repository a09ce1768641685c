"""Copy number: the pipeline's segment and gene-level TSVs → ``copy_number_segments`` and
``copy_number_genes`` rows.

The files are CONTRACT23's (written by the pipeline's CNVkit step):

* ``results/cnv/{patient}.segments.tsv``: header ``chrom start end log2 copy_number probes``;
* ``results/cnv/{patient}.genes.tsv``: header ``gene chrom start end log2 copy_number call``,
  ``call`` one of :data:`CALLS` (thresholds in the workflow's ``analysis.yaml``).

``start``/``end`` are 0-based half-open (BED-like), ``log2`` the tumour/normal ratio,
``copy_number`` the absolute copy number after purity adjustment. Every line is checked
(columns, numbers finite, ``start < end`` within the contig of the declared reference,
segments sorted and not overlapping per contig, one row per gene); the first problem is
raised naming the file, line and column, and nothing is returned for a refused file.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from harmonise.errors import ResultFileError
from harmonise.vcf.reference import BUILD_LENGTHS, contig_naming

SEGMENT_COLUMNS: tuple[str, ...] = ("chrom", "start", "end", "log2", "copy_number", "probes")
GENE_COLUMNS: tuple[str, ...] = ("gene", "chrom", "start", "end", "log2", "copy_number", "call")
#: Gene-level calls (``copy_number_genes.call``), from most gained to most lost.
CALLS: tuple[str, ...] = ("amplification", "gain", "neutral", "loss", "deep_deletion")
#: HGNC symbol, or the GFF3's gene name (``RP11-34P13.7``): see harmonise.structural.
GENE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
#: A whole number ≥ 0 of at most 18 digits (64-bit coordinates; refused before Python's
#: limit on converting long digit strings).
_INT_RE = re.compile(r"^[0-9]{1,18}$")
#: The largest ``probes`` (a 32-bit lake column).
MAX_PROBES = (1 << 31) - 1
_CONTIG_RE = re.compile(r"^[0-9A-Za-z!#$%&+./:;?@^_|~-][0-9A-Za-z!#$%&*+./:;=?@^_|~-]*$")
#: The largest file read (a genome-wide gene table is a few MB).
MAX_BYTES = 256 << 20


def _ensembl(name: str) -> str:
    name = name[3:] if name.startswith("chr") else name
    return "MT" if name == "M" else name


class _Checker:
    """Checks one TSV's lines, raising :class:`ResultFileError` naming file and line."""

    def __init__(
        self, path: str, build: str, naming: str | None, contigs: list[str] | None
    ) -> None:
        self.path = path
        self.lengths = BUILD_LENGTHS.get(build, {})
        self.naming = naming
        self.contigs = set(contigs) if contigs else None

    def fail(self, line: int, msg: str) -> ResultFileError:
        return ResultFileError(f"{self.path}, line {line}: {msg}")

    def chrom(self, line: int, value: str) -> str:
        if not _CONTIG_RE.match(value):
            raise self.fail(line, f"column chrom: {value[:40]!r} is not a contig name")
        wrong = self.naming is not None and contig_naming(value) != self.naming
        if wrong and _ensembl(value) in self.lengths:
            raise self.fail(
                line,
                f"column chrom: {value!r} is a {contig_naming(value)} name but the "
                f"manifest declares {self.naming} contig names (reference.contig_naming)",
            )
        if self.contigs is not None and value not in self.contigs:
            raise self.fail(
                line, f"column chrom: {value[:40]!r} is not a contig of the declared reference"
            )
        return value

    def interval(self, line: int, chrom: str, start_s: str, end_s: str) -> tuple[int, int]:
        for name, v in (("start", start_s), ("end", end_s)):
            if not _INT_RE.match(v):
                raise self.fail(
                    line, f"column {name}: {v[:40]!r} is not a whole number ≥ 0 (at most 18 digits)"
                )
        start, end = int(start_s), int(end_s)
        if start >= end:
            raise self.fail(
                line, f"columns start/end: {start} ≥ {end}; 0-based half-open, start < end"
            )
        length = self.lengths.get(_ensembl(chrom))
        if length is not None and end > length:
            raise self.fail(line, f"column end: {end} is past the end of {chrom} ({length:,} bp)")
        return start, end

    def number(self, line: int, name: str, value: str, minimum: float | None = None) -> float:
        try:
            x = float(value)
        except ValueError:
            raise self.fail(line, f"column {name}: {value[:40]!r} is not a number") from None
        if not math.isfinite(x):
            raise self.fail(line, f"column {name}: {value[:40]!r} is not a finite number")
        if minimum is not None and x < minimum:
            raise self.fail(line, f"column {name}: {x} is below {minimum}")
        return x


def _read_tsv(
    path: str, columns: tuple[str, ...], row: Callable[[int, list[str]], dict[str, Any]]
) -> list[dict[str, Any]]:
    p = Path(path)
    try:
        size = p.stat().st_size
    except OSError as exc:
        raise ResultFileError(f"{path}: cannot be read ({exc.strerror})") from None
    if size > MAX_BYTES:
        raise ResultFileError(f"{path}: {size} bytes, more than a copy-number table holds")
    raw = p.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ResultFileError(f"{path}, line {line}: not UTF-8 text") from None
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if not lines:
        raise ResultFileError(
            f"{path}: the file is empty; expected the header line {chr(9).join(columns)!r}"
        )
    if lines[0].rstrip("\r") != "\t".join(columns):
        raise ResultFileError(
            f"{path}, line 1: the header is {lines[0][:120]!r}; expected the tab-separated "
            f"columns {' '.join(columns)} (CONTRACT23)"
        )
    out: list[dict[str, Any]] = []
    for i, text_line in enumerate(lines[1:], start=2):
        if text_line.endswith("\r"):
            raise ResultFileError(f"{path}, line {i}: the line ends with CR; use LF line ends")
        cols = text_line.split("\t")
        if len(cols) != len(columns):
            raise ResultFileError(
                f"{path}, line {i}: {len(cols)} tab-separated columns, expected "
                f"{len(columns)} ({' '.join(columns)})"
            )
        out.append(row(i, cols))
    return out


def read_segments(
    path: str | Path, build: str, naming: str | None, contigs: list[str] | None = None
) -> list[dict[str, Any]]:
    """The rows of a ``segments.tsv`` (``copy_number_segments`` columns), all checked."""
    spath = str(path)
    ck = _Checker(spath, build, naming, contigs)
    last: dict[str, tuple[int, int]] = {}

    def row(line: int, c: list[str]) -> dict[str, Any]:
        chrom = ck.chrom(line, c[0])
        start, end = ck.interval(line, chrom, c[1], c[2])
        prev = last.get(chrom)
        if prev is not None and start < prev[0]:
            raise ck.fail(
                line, f"segments of {chrom} are not sorted by start ({start} after {prev[0]})"
            )
        if prev is not None and start < prev[1]:
            raise ck.fail(
                line,
                f"the segment {chrom}:{start}-{end} overlaps the one before ({prev[0]}-{prev[1]})",
            )
        last[chrom] = (start, end)
        if not _INT_RE.match(c[5]) or int(c[5]) > MAX_PROBES:
            raise ck.fail(
                line, f"column probes: {c[5][:40]!r} is not a whole number from 0 to {MAX_PROBES}"
            )
        return {
            "chrom": chrom,
            "start": start,
            "end": end,
            "log2": ck.number(line, "log2", c[3]),
            "copy_number": ck.number(line, "copy_number", c[4], 0.0),
            "probes": int(c[5]),
        }

    return _read_tsv(spath, SEGMENT_COLUMNS, row)


def read_genes(
    path: str | Path, build: str, naming: str | None, contigs: list[str] | None = None
) -> list[dict[str, Any]]:
    """The rows of a ``genes.tsv`` (``copy_number_genes`` columns), all checked."""
    spath = str(path)
    ck = _Checker(spath, build, naming, contigs)
    seen: dict[str, int] = {}

    def row(line: int, c: list[str]) -> dict[str, Any]:
        gene = c[0]
        if not GENE_RE.match(gene):
            raise ck.fail(
                line, f"column gene: {gene[:70]!r} is not a gene name (HGNC symbol or GFF3 name)"
            )
        if gene in seen:
            raise ck.fail(
                line, f"column gene: {gene} is also on line {seen[gene]}; one row per gene"
            )
        seen[gene] = line
        chrom = ck.chrom(line, c[1])
        start, end = ck.interval(line, chrom, c[2], c[3])
        if c[6] not in CALLS:
            raise ck.fail(line, f"column call: {c[6][:40]!r} is not one of {', '.join(CALLS)}")
        return {
            "gene": gene,
            "chrom": chrom,
            "start": start,
            "end": end,
            "log2": ck.number(line, "log2", c[4]),
            "copy_number": ck.number(line, "copy_number", c[5], 0.0),
            "call": c[6],
        }

    return _read_tsv(spath, GENE_COLUMNS, row)


def calls_by_gene(rows: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """``{gene: call}`` of a gene table (for reports and tests)."""
    return {str(r["gene"]): str(r["call"]) for r in rows}
