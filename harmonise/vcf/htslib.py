"""The htslib record engines: pysam in-process, and ``bcftools query`` streamed into Arrow.

They read what the text engine leaves to htslib (BCF, a reference check, other sample
layouts, anything the text engine does not read exactly as htslib would) and refuse
what htslib refuses, with its message. Both yield :data:`RAW_SCHEMA`.

* pysam (:func:`_raw_pysam`, small files): in-process, no process spawn; a Python loop
  over a few hundred records costs less than starting ``bcftools``. pysam rather than
  cyvcf2: cyvcf2 crashes (segfault) on some malformed records of the hts-specs
  conformance suite (empty FORMAT sub-fields) where pysam raises an error.
* ``bcftools query`` (:func:`_iter_raw_bcftools`, large files, ``--reference``): htslib
  decodes, tab-separated text goes through a pipe into pyarrow's multi-threaded CSV
  reader batch by batch; no per-record Python, memory bounded by the batch size.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from collections.abc import Iterator, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
from isal import igzip

from harmonise.errors import ReferenceMismatchError, VcfError, VcfFormatError
from harmonise.vcf.header import VcfHeader
from harmonise.vcf.records import (
    RAW_SCHEMA,
    Engine,
    ReadStats,
    SampleRoles,
    _where,
    ad_from_text,
)
from harmonise.vcf.source import _check_bgzf_eof, _is_gzip

#: Files up to this size (bytes on disk) are read in-process (pysam); larger ones by
#: ``bcftools query`` streamed into Arrow.
SMALL_FILE_BYTES = 2_000_000

#: Bytes per Arrow batch on the ``bcftools query`` path (bounds memory).
BATCH_BYTES = 16 << 20

_AD_COLUMNS = ("t_ad", "n_ad")

#: The raw columns as VCF text gives them (AD as text, converted by :func:`ad_from_text`).
_TEXT_SCHEMA = pa.schema(
    [pa.field(f.name, pa.string()) if f.name in _AD_COLUMNS else f for f in RAW_SCHEMA]
)


def _to_contract(t: pa.Table) -> pa.Table:
    """Raw rows with AD as text → :data:`RAW_SCHEMA`."""
    arrays = [ad_from_text(t[f.name]) if f.name in _AD_COLUMNS else t[f.name] for f in RAW_SCHEMA]
    return pa.Table.from_arrays(arrays, schema=RAW_SCHEMA)


def _line_problem(line: bytes) -> str | None:
    """What is wrong with a record line that htslib cannot parse, where it is one of the
    things htslib reports as a truncated file: too few columns, or a POS that is not a
    position."""
    cols = line.rstrip(b"\r\n").split(b"\t")
    if len(cols) < 8:
        return (
            f"{len(cols)} tab-separated column{'s' if len(cols) != 1 else ''}; a VCF record "
            "has at least 8 (CHROM POS ID REF ALT QUAL FILTER INFO)"
        )
    pos = cols[1].decode(errors="replace")
    if not pos.isascii() or not pos.isdigit() or not 1 <= int(pos) < 1 << 63:
        shown = pos if len(pos) <= 40 else pos[:40] + "…"
        return f"field POS: {shown!r}: POS is a 1-based position, a whole number from 1"
    return None


def _diagnose(header: VcfHeader, start: int, limit: int | None) -> tuple[int, str] | None:
    """The first record from ``start`` (0-based; at most ``limit`` of them) whose line has
    a :func:`_line_problem`, read from the text (None for BCF, or if none has)."""
    if header.is_bcf:
        return None
    opener: Any = igzip.open if _is_gzip(header.path) else open
    try:
        with opener(header.path, "rb") as stream:
            rec = -header.header_lines
            while limit is None or rec < start + limit:
                line = stream.readline()
                if not line:
                    return None
                if rec >= start:
                    problem = _line_problem(line)
                    if problem is not None:
                        return rec, problem
                rec += 1
    except (OSError, EOFError):
        return None
    return None


def _gt_string(alleles: Sequence[int], phased: bool) -> str:
    sep = "|" if phased else "/"
    return sep.join("." if a < 0 else str(a) for a in alleles)


def _raw_pysam(header: VcfHeader, roles: SampleRoles, stats: ReadStats) -> pa.Table:
    """All records of a (small) file as raw columns, in-process, through pysam."""
    import pysam

    pysam.set_verbosity(0)
    try:
        vcf = pysam.VariantFile(header.path)
    except (OSError, ValueError) as exc:
        raise VcfFormatError(f"{header.path}, header: cannot open ({exc})") from None
    ti = roles.tumour if roles.tumour in header.samples else None
    ni = roles.normal if roles.normal in header.samples else None
    ann_key = header.annotation
    cols: dict[str, list[Any]] = {n: [] for n in RAW_SCHEMA.names}
    rec = -1
    try:
        it = iter(vcf)
        while True:
            try:
                v = next(it)
            except StopIteration:
                break
            rec += 1
            cols["rec"].append(rec)
            cols["chrom"].append(v.chrom)
            cols["pos"].append(v.pos)
            cols["ref"].append(v.ref)
            cols["alt"].append(",".join(v.alts) if v.alts else None)
            cols["qual"].append(v.qual)
            filters = [str(f) for f in v.filter]
            cols["filter"].append(";".join(filters) if filters else None)
            ann = v.info.get(ann_key) if ann_key and ann_key in v.info else None
            if isinstance(ann, tuple):
                ann = ",".join(str(a) for a in ann if a is not None)
            cols["ann"].append(None if ann is None or isinstance(ann, bool) else str(ann))
            fmt = v.format
            for prefix, name in (("t_", ti), ("n_", ni)):
                # a record of 8 columns in a file with samples has no sample values (bcftools
                # reads them as missing); pysam's samples[name] raises IndexError on it
                if name is None or not fmt:
                    cols[prefix + "gt"].append(None)
                    cols[prefix + "dp"].append(None)
                    cols[prefix + "ad"].append(None)
                    continue
                smp = v.samples[name]
                gt = smp.get("GT") if "GT" in fmt else None
                cols[prefix + "gt"].append(
                    _gt_string([-1 if a is None else a for a in gt], smp.phased) if gt else None
                )
                dp = smp.get("DP") if "DP" in fmt else None
                cols[prefix + "dp"].append(dp if isinstance(dp, int) else None)
                ad = smp.get("AD") if "AD" in fmt else None
                if isinstance(ad, int):
                    ad = (ad,)
                # as VCF text: the contract's integers are read from it as from a file's
                cols[prefix + "ad"].append(
                    ",".join("." if x is None else str(x) for x in ad) if ad else None
                )
    except (OSError, ValueError, TypeError, KeyError) as exc:
        found = _diagnose(header, rec + 1, 1)
        if found is not None:
            raise VcfFormatError(f"{_where(header, found[0])}, {found[1]}") from None
        raise VcfFormatError(
            f"{_where(header, rec + 1)}: cannot parse the record after "
            f"{'the header' if rec < 0 else 'the previous one'} ({exc}); check it has 8+ "
            "tab-separated columns, a numeric POS and FORMAT values matching the header"
        ) from None
    finally:
        vcf.close()
    stats.records += len(cols["rec"])
    return _to_contract(pa.table(cols, schema=_TEXT_SCHEMA))


def _query_format(header: VcfHeader, roles: SampleRoles) -> tuple[str, list[str]]:
    ann = f"%INFO/{header.annotation}" if header.annotation else "."
    fmt = f"%CHROM\t%POS\t%REF\t%ALT\t%QUAL\t%FILTER\t{ann}"
    names = ["chrom", "pos", "ref", "alt", "qual", "filter", "ann"]
    samples = [s for s in (roles.tumour, roles.normal) if s]
    if samples:
        dp = "%DP" if "DP" in header.formats else "."
        ad = "%AD" if "AD" in header.formats else "."
        gt = "%GT" if "GT" in header.formats else "."
        fmt += f"[\t{gt}\t{dp}\t{ad}]"
        for prefix in ("t_", "n_")[: len(samples)]:
            names += [prefix + "gt", prefix + "dp", prefix + "ad"]
    return fmt + "\n", names


def bcftools_path() -> str | None:
    """The ``bcftools`` on PATH, or None."""
    return shutil.which("bcftools")


def _iter_raw_bcftools(
    header: VcfHeader,
    roles: SampleRoles,
    stats: ReadStats,
    reference_fasta: str | None = None,
) -> Iterator[pa.Table]:
    """Stream ``bcftools query`` output into Arrow batches of raw rows."""
    exe = bcftools_path()
    if exe is None:
        raise VcfError("bcftools is not on PATH (install it: `make tools`), or use engine=pysam")
    fmt, names = _query_format(header, roles)
    samples = [s for s in (roles.tumour, roles.normal) if s]
    query = [exe, "query", "-f", fmt]
    if samples:
        query += ["-s", ",".join(samples)]
    procs: list[subprocess.Popen[bytes]] = []
    if reference_fasta:
        # REF checked against the reference (error on mismatch), multi-allelics split and
        # indels left-aligned by bcftools norm, streamed as uncompressed BCF.
        norm = subprocess.Popen(
            [exe, "norm", "-f", reference_fasta, "-c", "e", "-m", "-any", "-Ou", header.path],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        procs.append(norm)
        proc = subprocess.Popen(
            [*query, "-"], stdin=norm.stdout, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        assert norm.stdout is not None
        norm.stdout.close()
    else:
        proc = subprocess.Popen(
            [*query, header.path], stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
    procs.append(proc)
    errs: dict[int, bytes] = {}

    def drain(p: subprocess.Popen[bytes]) -> None:
        assert p.stderr is not None
        errs[p.pid] = p.stderr.read()

    drains = [threading.Thread(target=drain, args=(p,), daemon=True) for p in procs]
    for t in drains:
        t.start()
    types = {f.name: f.type for f in _TEXT_SCHEMA}
    assert proc.stdout is not None
    offset = 0
    failed: Exception | None = None
    try:
        try:
            reader = pacsv.open_csv(
                proc.stdout,
                read_options=pacsv.ReadOptions(column_names=names, block_size=BATCH_BYTES),
                parse_options=pacsv.ParseOptions(
                    delimiter="\t", quote_char=False, escape_char=False
                ),
                convert_options=pacsv.ConvertOptions(
                    column_types={n: types[n] for n in names},
                    null_values=["."],
                    strings_can_be_null=True,
                    quoted_strings_can_be_null=False,
                ),
            )
        except pa.ArrowInvalid as exc:  # no output at all: no records, or bcftools failed
            if "Empty CSV file" not in str(exc):
                failed = exc
            reader = None
        while reader is not None:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                break
            except pa.ArrowInvalid as exc:
                failed = exc
                break
            n = batch.num_rows
            cols = {f.name: batch.column(f.name) for f in batch.schema}
            cols["rec"] = pa.array(range(offset, offset + n), pa.int64())
            arrays = [cols[f.name] if f.name in cols else pa.nulls(n, f.type) for f in _TEXT_SCHEMA]
            offset += n
            yield _to_contract(pa.Table.from_arrays(arrays, schema=_TEXT_SCHEMA))
    finally:
        if failed is not None:
            for p in procs:
                p.kill()
        for p in procs:
            p.wait()
        for t in drains:
            t.join()
        proc.stdout.close()
    stderr = b"".join(errs.get(p.pid, b"") for p in procs).decode(errors="replace")
    error_lines = [ln for ln in stderr.splitlines() if ln.startswith(("[E::", "Error", "[bcf"))]
    if any(p.returncode != 0 for p in procs) or error_lines or failed is not None:
        detail = "; ".join(error_lines[:3]) or (str(failed) if failed else stderr.strip()[:300])
        if reference_fasta and "does not match" in stderr:
            raise ReferenceMismatchError(
                f"{header.path}: REF does not match the reference {reference_fasta}: {detail}"
            )
        found = _diagnose(header, 0, None)  # bcftools does not say which record
        if found is not None:
            raise VcfFormatError(f"{_where(header, found[0])}, {found[1]}")
        raise VcfFormatError(
            f"{header.path}, record {offset + 1}: bcftools cannot read it ({detail}); "
            "the file is malformed or truncated (re-export it with bgzip/bcftools)"
        )
    stats.records += offset
    stats.warnings += [ln for ln in stderr.splitlines() if ln.startswith("[W::")][:5]


def iter_raw(
    header: VcfHeader,
    roles: SampleRoles,
    stats: ReadStats,
    engine: Engine = "auto",
    reference_fasta: str | None = None,
) -> Iterator[pa.Table]:
    """Raw rows of a VCF in batches, through htslib: pysam for small files, ``bcftools
    query`` for large ones and for a reference check (``engine`` forces one)."""
    if engine == "auto":
        big = os.path.getsize(header.path) > SMALL_FILE_BYTES
        engine = "bcftools" if (big or reference_fasta) and bcftools_path() else "pysam"
    _check_bgzf_eof(header.path)
    if engine == "bcftools":
        yield from _iter_raw_bcftools(header, roles, stats, reference_fasta)
    else:
        yield _raw_pysam(header, roles, stats)
