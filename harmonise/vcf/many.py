"""Many VCFs at once (a bundle): small text files of the same layout parsed and normalised
together, everything else file by file through :func:`~harmonise.vcf.read.read_variants`.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from harmonise.errors import VcfError
from harmonise.vcf import text
from harmonise.vcf.arrow import _np
from harmonise.vcf.header import VcfHeader, _parse_header_text, read_header
from harmonise.vcf.normalise import _normalise, normalise
from harmonise.vcf.read import _roles_for, read_variants
from harmonise.vcf.records import RAW_SCHEMA, Engine, ReadStats, SampleRoles, _merge
from harmonise.vcf.samples import _Unsupported
from harmonise.vcf.source import _split_small
from harmonise.vcf.text import _csv_options, _raw_from_text, _text_eligible, _text_layout

#: Files up to this size (bytes on disk) are parsed together by :func:`iter_many`.
MANY_FILE_BYTES = 4_000_000

#: Bytes of records per group: about :data:`~harmonise.vcf.text.NORMALISE_ROWS` records
#: of ~100 bytes.
_RECORD_BYTES = 100


@dataclass(frozen=True)
class VcfSource:
    """One VCF to read with :func:`read_many` (``header`` if it was read already;
    ``naming``, the manifest's contig naming, as for :func:`read_variants`)."""

    path: str
    roles: SampleRoles | None = None
    header: VcfHeader | None = None
    naming: str | None = None


def _small(src: VcfSource) -> tuple[VcfHeader, bytes | None]:
    """The header (given, parsed from the text, or by htslib) and the records of a file."""
    got = _split_small(src.path) if src.path.endswith((".vcf", ".vcf.gz")) else None
    header = src.header
    if header is None and got is not None:
        header = _parse_header_text(src.path, got[0], got[1])
    if header is None:
        header = read_header(src.path)
    if got is None or got[1] != header.header_lines or header.is_bcf:
        return header, None
    return header, got[2]


def _group_key(header: VcfHeader, roles: SampleRoles, naming: str | None) -> tuple[Any, ...]:
    """Files with equal keys are parsed and normalised together."""
    at = tuple(header.samples.index(r) if r else None for r in (roles.tumour, roles.normal))
    fmts = tuple(header.formats.get(k) for k in ("GT", "DP", "AD"))
    return (header.annotation, header.annotation_fields, tuple(header.contigs.items()), at,
            fmts, len(header.samples), naming)  # fmt: skip


def _read_group(
    members: Sequence[tuple[int, VcfHeader, SampleRoles, bytes]], build: str, naming: str | None
) -> tuple[pa.Table, np.ndarray, list[ReadStats]]:
    """Parse the bodies of several small VCFs at once and normalise them together: the
    rows (ordered by member), each row's member index, and each member's read counts."""
    header, roles = members[0][1], members[0][2]
    counts = np.array([m[3].count(b"\n") for m in members], np.int64)
    total = int(counts.sum())
    names, types = _text_layout(header, roles)
    if total:
        data = pa.py_buffer(b"".join(m[3] for m in members))
        t = pacsv.read_csv(data, **_csv_options(names, types, 0, 4 << 20, threads=False))
    else:
        t = pa.table({k: pa.array([], v) for k, v in types.items()})
    if t.num_rows != total:
        raise _Unsupported("the record count differs from the line count")
    file = np.repeat(np.arange(len(members)), counts)
    starts = np.r_[0, np.cumsum(counts)[:-1]]
    rec = np.arange(total) - np.repeat(starts, counts)
    raw = _raw_from_text(t, header, roles, rec)
    alleles = _np(pc.add(pc.count_substring(raw["alt"], ","), 1))
    has_alt = _np(pc.cast(pc.is_valid(raw["alt"]), pa.int8())).astype(bool)
    out, source = _normalise(raw, header, build, ReadStats(), naming)
    fcol = file[source]
    rows = np.bincount(fcol, minlength=len(members))
    ref_only = np.bincount(file[~has_alt], minlength=len(members))
    allele_n = np.bincount(file[has_alt], weights=alleles[has_alt], minlength=len(members))
    stats = [
        ReadStats(
            records=int(counts[j]),
            rows=int(rows[j]),
            skipped_symbolic=int(allele_n[j]) - int(rows[j]),
            skipped_reference_only=int(ref_only[j]),
        )
        for j in range(len(members))
    ]
    return out, fcol, stats


def _empty_variants() -> pa.Table:
    raw = pa.Table.from_arrays([pa.array([], f.type) for f in RAW_SCHEMA], schema=RAW_SCHEMA)
    header = VcfHeader("", (), {}, {}, {}, None, (), 0, None, False)
    return normalise(raw, header, "GRCh38", ReadStats())


#: A piece of :func:`iter_many`: rows, and the index (into the sources) of the file each
#: row came from: one ``int`` for rows of one file, an int64 array for a group's rows.
FilePiece = tuple[pa.Table, int | np.ndarray]


def iter_many(
    sources: Sequence[VcfSource],
    build: str = "GRCh38",
    engine: Engine = "auto",
    reference_fasta: str | None = None,
    stats: Sequence[ReadStats] | None = None,
) -> Iterator[FilePiece]:
    """Stream the normalised ``variants`` columns of many VCFs as :data:`FilePiece` s.

    Small text VCFs (up to :data:`MANY_FILE_BYTES`) with the same layout are not read one
    by one: their bodies are concatenated and parsed by one Arrow CSV read and one
    :func:`normalise` per ~:data:`~harmonise.vcf.text.NORMALISE_ROWS` rows, on worker
    threads while the next headers are read; the per-file cost is a header read and a
    decompression. Larger files, BCF, a reference check or anything the text engine
    leaves to htslib are streamed through :func:`read_variants`, batch by batch; so is
    every file of a group that fails, so that the error names the right file, line and
    field. Memory holds a few groups or batches, whatever the number and size of the
    files. ``stats`` (one per source) receive each file's read counts. Pieces come in no
    particular file order.
    """
    st = list(stats) if stats is not None else [ReadStats() for _ in sources]
    if len(st) != len(sources):
        raise ValueError("iter_many: one ReadStats per source")
    groups: dict[tuple[Any, ...], list[tuple[int, VcfHeader, SampleRoles, bytes]]] = {}
    sizes: dict[tuple[Any, ...], int] = {}
    workers = text._workers()

    def run(chunk: list[tuple[int, VcfHeader, SampleRoles, bytes]]) -> Any:
        try:
            return _read_group(chunk, build, sources[chunk[0][0]].naming)
        except (_Unsupported, VcfError, pa.ArrowException):
            return None  # each file alone: the text engine, then htslib, decides

    def one(i: int, header: VcfHeader, roles: SampleRoles) -> Iterator[FilePiece]:
        naming = sources[i].naming
        for t in read_variants(
            header.path, roles, build, engine, reference_fasta, st[i], header, naming
        ):
            yield t, i

    def finish(
        chunk: list[tuple[int, VcfHeader, SampleRoles, bytes]], job: Future[Any]
    ) -> Iterator[FilePiece]:
        got = job.result()
        if got is None:
            for m in chunk:
                yield from one(m[0], m[1], m[2])
            return
        out, fcol, parts = got
        for m, part in zip(chunk, parts, strict=True):
            _merge(st[m[0]], part)
        index = np.array([m[0] for m in chunk], np.int64)
        if out.num_rows:
            yield out, index[fcol]

    with ThreadPoolExecutor(workers, thread_name_prefix="vcf-many") as pool:
        jobs: deque[tuple[list[tuple[int, VcfHeader, SampleRoles, bytes]], Future[Any]]]
        jobs = deque()
        try:
            for i, src in enumerate(sources):
                small = engine == "auto" and not reference_fasta
                small = small and os.path.getsize(src.path) <= MANY_FILE_BYTES
                if small:
                    header, body = _small(src)
                else:
                    header, body = src.header or read_header(src.path), None
                roles = _roles_for(header, src.roles)
                if not _text_eligible(header, roles, engine, reference_fasta):
                    body = None
                if body is None:
                    yield from one(i, header, roles)
                    continue
                key = _group_key(header, roles, src.naming)
                groups.setdefault(key, []).append((i, header, roles, body))
                sizes[key] = sizes.get(key, 0) + len(body)
                if sizes[key] >= text.NORMALISE_ROWS * _RECORD_BYTES:
                    chunk = groups.pop(key)
                    sizes[key] = 0
                    jobs.append((chunk, pool.submit(run, chunk)))
                while len(jobs) > workers:  # bounded: at most workers+1 groups held
                    yield from finish(*jobs.popleft())
            jobs += [(chunk, pool.submit(run, chunk)) for chunk in groups.values()]
            while jobs:
                yield from finish(*jobs.popleft())
        finally:
            for _, job in jobs:
                job.cancel()


def read_many(
    sources: Sequence[VcfSource],
    build: str = "GRCh38",
    engine: Engine = "auto",
    reference_fasta: str | None = None,
) -> list[tuple[pa.Table, ReadStats]]:
    """Normalised ``variants`` columns (and read counts) of many VCFs, file by file, in
    the order of ``sources``: :func:`iter_many` gathered in memory."""
    stats = [ReadStats() for _ in sources]
    parts: list[list[pa.Table]] = [[] for _ in sources]
    for table, file in iter_many(sources, build, engine, reference_fasta, stats):
        if isinstance(file, int):
            parts[file].append(table)
            continue
        # a group's rows are ordered by file: one slice per file
        cut = np.flatnonzero(np.diff(file)) + 1
        for lo, hi in zip(np.r_[0, cut], np.r_[cut, len(file)], strict=True):
            parts[int(file[lo])].append(table.slice(int(lo), int(hi - lo)))
    return [
        (pa.concat_tables(p) if p else _empty_variants(), s)
        for p, s in zip(parts, stats, strict=True)
    ]
