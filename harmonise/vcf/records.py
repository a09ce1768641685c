"""The raw record contract: what every record engine yields, and the read counts.

Every engine (the Arrow text engine, pysam, ``bcftools query``) turns VCF records into
tables of exactly :data:`RAW_SCHEMA`, one row per record, in file order, so that one
:func:`harmonise.vcf.normalise.normalise` serves them all. ``t_`` is the tumour (or the
only) sample, ``n_`` the normal; a sample column the roles do not name is all null.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from harmonise.vcf.arrow import _ints, _list_parts

if TYPE_CHECKING:
    from harmonise.vcf.header import VcfHeader

Engine = Literal["auto", "text", "pysam", "bcftools", "cyvcf2"]

#: Allele depths: one integer per allele (REF first), an element null where the VCF has
#: '.' or a value that is not an integer; the list is null where FORMAT has no AD.
AD_TYPE = pa.list_(pa.int64())

#: The raw columns, as every engine fills them. ``rec`` is the 0-based record number in
#: the file (every error names the line and record from it); ``pos`` is VCF's 1-based POS;
#: REF, ALT (comma-joined), FILTER (';'-joined) and the annotation (the INFO value of
#: ``VcfHeader.annotation``, null where absent) as the file has them; GT as text
#: ('/'- or '|'-joined allele indexes, '.' for a missing allele), DP as an integer.
RAW_SCHEMA = pa.schema(
    [
        ("rec", pa.int64()),
        ("chrom", pa.string()),
        ("pos", pa.int64()),
        ("ref", pa.string()),
        ("alt", pa.string()),
        ("qual", pa.float64()),
        ("filter", pa.string()),
        ("ann", pa.string()),
        ("t_gt", pa.string()),
        ("t_dp", pa.int64()),
        ("t_ad", AD_TYPE),
        ("n_gt", pa.string()),
        ("n_dp", pa.int64()),
        ("n_ad", AD_TYPE),
    ]
)


@dataclass(frozen=True)
class SampleRoles:
    """Which VCF sample columns are the tumour and the normal (either may be absent)."""

    tumour: str | None
    normal: str | None = None


@dataclass
class ReadStats:
    """Counts collected while reading (for the ingest summary)."""

    records: int = 0
    rows: int = 0
    skipped_symbolic: int = 0
    skipped_reference_only: int = 0
    warnings: list[str] = field(default_factory=list)


def _where(header: VcfHeader, rec: int, chrom: Any = None, pos: Any = None) -> str:
    loc = f"record {rec + 1}"
    if not header.is_bcf:
        loc = f"line {header.header_lines + rec + 1} (record {rec + 1}"
        loc += f", {chrom}:{pos})" if chrom is not None else ")"
    elif chrom is not None:
        loc += f" ({chrom}:{pos})"
    return f"{header.path}, {loc}"


def _merge(into: ReadStats, part: ReadStats) -> None:
    into.records += part.records
    into.rows += part.rows
    into.skipped_symbolic += part.skipped_symbolic
    into.skipped_reference_only += part.skipped_reference_only
    into.warnings += part.warnings


def ad_from_text(col: pa.Array | pa.ChunkedArray) -> pa.Array:
    """AD as VCF text ('20,10', '.', '20,.') → :data:`AD_TYPE` (null stays null)."""
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    if col.null_count == len(col):
        return pa.nulls(len(col), AD_TYPE)
    flat, offsets = _list_parts(col, ",")
    ints = _ints(flat) if len(flat) else pa.array([], pa.int64())
    mask = pc.is_null(col) if col.null_count else None
    return pa.ListArray.from_arrays(pa.array(offsets.astype(np.int32)), ints, mask=mask)


def ad_from_pair(ref: pa.Array, alt: pa.Array) -> pa.Array:
    """AD of two values per row, from their integer columns → :data:`AD_TYPE`."""
    n = len(ref)
    values = np.empty(2 * n, np.int64)
    values[0::2] = np.asarray(pc.fill_null(ref, 0).to_numpy(zero_copy_only=False))
    values[1::2] = np.asarray(pc.fill_null(alt, 0).to_numpy(zero_copy_only=False))
    mask = None
    if ref.null_count or alt.null_count:
        mask = np.empty(2 * n, bool)
        mask[0::2] = np.asarray(pc.is_null(ref).to_numpy(zero_copy_only=False))
        mask[1::2] = np.asarray(pc.is_null(alt).to_numpy(zero_copy_only=False))
    offsets = pa.array(np.arange(0, 2 * n + 1, 2, dtype=np.int32))
    return pa.ListArray.from_arrays(offsets, pa.array(values, mask=mask))
