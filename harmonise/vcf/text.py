"""The text engine: text VCF (plain or bgzipped) straight into Arrow's CSV reader.

A text VCF is tab-separated text: it is inflated (ISA-L) and Arrow's CSV reader splits it
into columns in parallel; the INFO annotation and the tumour/normal FORMAT values are then
pulled out with a handful of vectorised kernels per batch (:mod:`harmonise.vcf.samples`),
and batches are normalised on worker threads while Arrow reads on. Anything this engine
does not read exactly as htslib would (BCF, undeclared or odd FORMAT fields, unusual
genotypes, a parse error, a bad value) is handed to the htslib engines from the first
record not yet handed out, which read or refuse it: the text engine never decides that a
file is bad. The corpus test compares the engines row by row.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from harmonise.errors import VcfError, VcfFormatError
from harmonise.vcf.arrow import (
    _drop_prefix,
    _idx,
    _list_parts,
    _may_contain,
    _np,
    _parse_options,
    _scatter,
)
from harmonise.vcf.header import VcfHeader
from harmonise.vcf.htslib import iter_raw
from harmonise.vcf.normalise import normalise
from harmonise.vcf.records import (
    AD_TYPE,
    RAW_SCHEMA,
    Engine,
    ReadStats,
    SampleRoles,
    _merge,
)
from harmonise.vcf.samples import _format_positions, _sample_values, _Unsupported
from harmonise.vcf.source import _READ_ERRORS, _check_bgzf_eof, _open_text, _sniff

#: Bytes of VCF text per Arrow CSV block on the streaming text path.
TEXT_BLOCK_BYTES = 1 << 20

#: Rows normalised together (memory stays bounded by this times the workers + 1).
NORMALISE_ROWS = 65_536

_TEXT_TYPES = {
    "chrom": pa.string(),
    "pos": pa.int64(),
    "ref": pa.string(),
    "alt": pa.string(),
    "qual": pa.float64(),
    "filter": pa.string(),
    "info": pa.string(),
}


def _workers() -> int:
    return max(1, min(4, os.cpu_count() or 1))


def _text_layout(header: VcfHeader, roles: SampleRoles) -> tuple[list[str], dict[str, Any]]:
    """CSV column names of the file and the types of the columns read."""
    names = ["chrom", "pos", "id", "ref", "alt", "qual", "filter", "info"]
    types: dict[str, Any] = dict(_TEXT_TYPES)
    if header.samples:
        names += ["format"] + [f"s{i}" for i in range(len(header.samples))]
        types["format"] = pa.string()
        for name in (roles.tumour, roles.normal):
            if name is not None:
                types[f"s{header.samples.index(name)}"] = pa.string()
    return names, types


def _csv_options(
    names: list[str], types: Mapping[str, Any], skip: int, block: int, threads: bool = True
) -> dict[str, Any]:
    return {
        "read_options": pacsv.ReadOptions(
            column_names=names, skip_rows=skip, block_size=block, use_threads=threads
        ),
        "parse_options": _parse_options("\t"),
        "convert_options": pacsv.ConvertOptions(
            column_types=dict(types),
            include_columns=list(types),
            null_values=["."],
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,
            check_utf8=True,
        ),
    }


def _info_value(info: pa.Array, key: str) -> pa.Array:
    """The value of INFO ``key=`` in each row (its first occurrence), null where absent: one
    split on ``;`` and a prefix test, no regex."""
    n = len(info)
    prefix = key + "="
    if not pc.any(pc.match_substring(info, prefix)).as_py():
        return pa.nulls(n, pa.string())
    if not _may_contain(info, ";"):  # one key each (annotation-only INFO): no split
        null = pa.scalar(None, pa.string())
        return pc.if_else(pc.starts_with(info, prefix), _drop_prefix(info, prefix), null)
    items, offsets = _list_parts(info, ";")  # null rows split to nothing
    hit = np.flatnonzero(_np(pc.cast(pc.starts_with(items, prefix), pa.int8())))
    if not len(hit):
        return pa.nulls(n, pa.string())
    parent = np.searchsorted(offsets, hit, side="right") - 1
    first = np.r_[True, parent[1:] != parent[:-1]]
    hit, parent = hit[first], parent[first]
    values = _drop_prefix(pc.take(items, _idx(hit)), prefix)
    return _scatter(values, parent, n)


def _raw_from_text(t: pa.Table, header: VcfHeader, roles: SampleRoles, rec: np.ndarray) -> pa.Table:
    """Columns read by the CSV reader → raw rows (:data:`RAW_SCHEMA`)."""
    n = t.num_rows
    cols: dict[str, Any] = {"rec": pa.array(rec, pa.int64())}
    for c in ("chrom", "pos", "ref", "alt", "qual", "filter"):
        cols[c] = t[c].combine_chunks()
    if cols["chrom"].null_count or cols["pos"].null_count:
        raise _Unsupported("a missing CHROM or POS")
    for c in [*(k for k, v in _TEXT_TYPES.items() if v == pa.string()), *t.column_names[7:]]:
        if pc.any(pc.equal(t[c], "")).as_py():
            raise _Unsupported(f"an empty {c} field")
    if header.annotation:
        ann = _info_value(t["info"].combine_chunks(), header.annotation)
        ann = pc.if_else(pc.equal(ann, "."), pa.scalar(None, pa.string()), ann)
        if _may_contain(ann, ".") and (  # no '.' at all: no missing entry
            pc.any(pc.match_substring(ann, ",.,")).as_py()
            or pc.any(pc.starts_with(ann, ".,")).as_py()
            or pc.any(pc.ends_with(ann, ",.")).as_py()
        ):
            raise _Unsupported(f"a missing INFO/{header.annotation} entry")
        cols["ann"] = ann
    else:
        cols["ann"] = pa.nulls(n, pa.string())
    at: dict[str, np.ndarray] | None = None
    for prefix, name in (("t_", roles.tumour), ("n_", roles.normal)):
        if name is None:
            values = {"gt": pa.nulls(n, pa.string()), "dp": pa.nulls(n, pa.int64()),
                      "ad": pa.nulls(n, AD_TYPE)}  # fmt: skip
        else:
            if at is None:
                at = _format_positions(t["format"].combine_chunks(), header)
            col = t[f"s{header.samples.index(name)}"].combine_chunks()
            values = _sample_values(col, at)
        for key, v in values.items():
            cols[prefix + key] = v
    return pa.Table.from_arrays([cols[f.name] for f in RAW_SCHEMA], schema=RAW_SCHEMA)


def _iter_text_tables(header: VcfHeader, roles: SampleRoles) -> Iterator[pa.Table]:
    """The columns of a text VCF, read by Arrow, in tables of about :data:`NORMALISE_ROWS`."""
    names, types = _text_layout(header, roles)
    # Arrow skips the header lines within its first block: make the block hold them
    block = max(TEXT_BLOCK_BYTES, 2 * len(_sniff(header.path)[2]) + 4096)
    opts = _csv_options(names, types, header.header_lines, block)
    stream = _open_text(header.path)
    try:
        try:
            reader = pacsv.open_csv(stream, **opts)
        except pa.ArrowInvalid as exc:
            if "Empty CSV file" in str(exc):
                return
            raise _Unsupported(str(exc)) from None
        except _READ_ERRORS as exc:
            raise _Unsupported(str(exc)) from None
        pending: list[pa.RecordBatch] = []
        rows = 0
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                break
            except _READ_ERRORS as exc:
                raise _Unsupported(str(exc)) from None
            pending.append(batch)
            rows += batch.num_rows
            if rows >= NORMALISE_ROWS:
                yield pa.Table.from_batches(pending)
                pending, rows = [], 0
        if rows:
            yield pa.Table.from_batches(pending)
    finally:
        stream.close()


def _text_batch(
    t: pa.Table, rec0: int, header: VcfHeader, roles: SampleRoles, build: str, naming: str | None
) -> tuple[pa.Table, ReadStats]:
    """One table of VCF columns → normalised rows (run on a worker thread: Arrow and numpy
    kernels release the GIL, so batches are normalised on all cores while Arrow reads)."""
    raw = _raw_from_text(t, header, roles, np.arange(rec0, rec0 + t.num_rows))
    part = ReadStats(records=t.num_rows)
    return normalise(raw, header, build, part, naming), part


def _text_eligible(
    header: VcfHeader, roles: SampleRoles, engine: Engine, reference_fasta: str | None
) -> bool:
    if engine == "text":
        return True
    # every sample column is the tumour's or the normal's (others are not read, so their
    # validity is left to htslib)
    mapped = {roles.tumour, roles.normal} - {None}
    return (
        engine == "auto"
        and not reference_fasta
        and not header.is_bcf
        and set(header.samples) <= mapped
    )


def _variants_text(
    header: VcfHeader,
    roles: SampleRoles,
    build: str,
    stats: ReadStats,
    strict: bool,
    naming: str | None = None,
) -> Iterator[pa.Table]:
    """Normalised rows through the text engine; from the first record it does not handle
    on, the htslib engines read the rest (and refuse what is bad, with their message)."""
    _check_bgzf_eof(header.path)
    done = 0
    workers = _workers()
    with ThreadPoolExecutor(workers, thread_name_prefix="vcf-text") as pool:
        queue: deque[Future[tuple[pa.Table, ReadStats]]] = deque()
        try:
            rec = 0
            for t in _iter_text_tables(header, roles):
                queue.append(pool.submit(_text_batch, t, rec, header, roles, build, naming))
                rec += t.num_rows
                while len(queue) > workers:  # in order; at most workers+1 batches in flight
                    out, part = queue.popleft().result()
                    _merge(stats, part)
                    done += part.records
                    yield out
            while queue:
                out, part = queue.popleft().result()
                _merge(stats, part)
                done += part.records
                yield out
            return
        except (_Unsupported, VcfError, pa.ArrowException) as exc:
            if strict:
                if isinstance(exc, VcfError):
                    raise
                raise VcfFormatError(
                    f"{header.path}: the text engine cannot read it ({exc})"
                ) from None
        finally:
            for f in queue:
                f.cancel()
    rest = ReadStats()
    for raw in iter_raw(header, roles, rest, "auto"):
        if done:
            raw = raw.filter(pc.greater_equal(raw["rec"], done))
        if raw.num_rows:
            yield normalise(raw, header, build, rest, naming)
    rest.records -= done
    _merge(stats, rest)
