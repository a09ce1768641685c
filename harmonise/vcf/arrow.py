"""Byte-level Arrow helpers: string columns read through their buffers with numpy.

The reader's per-batch work is a few passes over the string data of a column. These
helpers make each pass one C loop over the buffers (no Python per value, no temporary as
large as the data) and fall back to Arrow's string kernels where a value is unusual; each
gives exactly what the plain kernel would (tests/harmonise/vcf/test_arrow.py). Figures:
docs/ingest.md, "Why the reader's kernels look as they do".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv


def _map(values: pa.Array, table: Mapping[str, Any], typ: pa.DataType = pa.string()) -> pa.Array:
    """Vectorised dictionary lookup (null where the key is unknown)."""
    keys = pa.array(list(table), pa.string())
    vals = pa.array(list(table.values()), typ)
    return pc.take(vals, pc.index_in(values, value_set=keys))


def _np(arr: pa.Array | pa.ChunkedArray, fill: int = 0) -> np.ndarray:
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    return np.asarray(pc.fill_null(arr, fill).to_numpy(zero_copy_only=False))


def _all_in(data: np.ndarray, allowed: bytes) -> bool:
    """True if every byte of ``data`` (uint8) is one of ``allowed``: ``bytes.translate``
    deleting the allowed bytes leaves nothing (one C pass, no bool array as large as the
    data as a numpy lookup table would make)."""
    return not data.tobytes().translate(None, allowed)


#: The bytes a value may hold, for :func:`_all_in` (and :func:`_only_bytes`): bases, and
#: an integer's.
_BASE_BYTES = b"ACGTNacgtn"
_INT_BYTES = b"0123456789-"


#: A byte position past the end of any value (Arrow string offsets are int32).
_PAST_END = (1 << 31) - 1


def _string_views(col: pa.Array) -> tuple[np.ndarray, np.ndarray] | None:
    """``col``'s value offsets and its data buffer's bytes as numpy views (no copy), for a
    string or large-string array; None for any other type."""
    width = {pa.string(): np.int32, pa.large_string(): np.int64}.get(col.type)
    if width is None:
        return None
    bufs = col.buffers()
    offsets = np.frombuffer(
        bufs[1], dtype=width, count=len(col) + 1, offset=col.offset * np.dtype(width).itemsize
    )
    data = np.frombuffer(bufs[2], dtype=np.uint8) if bufs[2] is not None else np.zeros(0, np.uint8)
    return offsets, data


def _only_bytes(col: pa.Array | pa.ChunkedArray, allowed: bytes) -> bool:
    """True if every value is non-null, non-empty and made only of ``allowed`` bytes: one
    pass over the string data buffer (:func:`_all_in`, no regex), for the common all-good
    case."""
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    if col.null_count or not len(col):
        return not len(col)
    views = _string_views(col)
    if views is None:
        return False
    offsets, data = views
    if bool((np.diff(offsets) <= 0).any()):
        return False
    return _all_in(data[offsets[0] : offsets[-1]], allowed)


def _may_contain(col: pa.Array, byte: str) -> bool:
    """False only if no value of the string array ``col`` contains ``byte``: one numpy pass
    over the data buffer instead of a substring kernel per value (a cheap test before an
    exact one that rarely finds anything)."""
    views = None if isinstance(col, pa.ChunkedArray) or not len(col) else _string_views(col)
    if views is None:
        return True
    offsets, data = views
    return bool((data[offsets[0] : offsets[-1]] == ord(byte)).any())


def _idx(where: np.ndarray) -> pa.Array:
    """int64 indices for ``take`` from numpy; negative entries become nulls."""
    where = np.ascontiguousarray(where, dtype=np.int64)
    neg = where < 0
    if neg.any():
        return pa.array(where, mask=neg)
    return pa.Array.from_buffers(pa.int64(), len(where), [None, pa.py_buffer(where)])


def _scatter(values: pa.Array, rows: np.ndarray, n: int) -> pa.Array:
    """A string array of length ``n`` with ``values[i]`` at ``rows[i]`` (ascending) and
    nulls elsewhere, built from the buffers (no gather: the values stay in order)."""
    if len(rows) == n:
        return values
    values = pa.concat_arrays([values]) if values.offset else values
    if values.type != pa.string() or values.null_count:
        where = np.full(n, -1, np.int64)
        where[rows] = np.arange(len(rows))
        return pc.take(values, _idx(where))
    bufs = values.buffers()
    voff = np.frombuffer(bufs[1], np.int32, len(values) + 1)
    lens = np.zeros(n, np.int32)
    lens[rows] = np.diff(voff)
    offsets = np.zeros(n + 1, np.int32)
    np.cumsum(lens, out=offsets[1:])
    offsets += voff[0]
    valid = np.zeros(n, bool)
    valid[rows] = True
    bitmap = pa.py_buffer(np.packbits(valid, bitorder="little"))
    return pa.StringArray.from_buffers(
        n, pa.py_buffer(offsets), bufs[2], bitmap, null_count=n - len(rows)
    )


def _list_parts(col: pa.Array | pa.ChunkedArray, sep: str) -> tuple[pa.Array, np.ndarray]:
    """Split strings on ``sep``: the flat parts and the offsets (numpy)."""
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    lists = pc.split_pattern(col, sep)
    assert isinstance(lists, pa.ListArray)
    offsets = np.asarray(lists.offsets.to_numpy(zero_copy_only=False), dtype=np.int64)
    flat = lists.values
    if lists.offset or len(flat) != offsets[-1] - offsets[0]:
        flat = lists.flatten()
        offsets = offsets - offsets[0]
    return flat, offsets


def _split_fields(
    col: pa.Array | pa.ChunkedArray,
    sep: str,
    k: int,
    empty_is_null: bool,
    *,
    swap: tuple[str, str] | None = None,
    allowed: bytes | None = None,
    types: Sequence[pa.DataType] | None = None,
    keep: Sequence[int] | None = None,
) -> list[pa.Array | None] | None:
    """The ``k`` ``sep``-separated fields of every value of ``col`` as ``k`` string columns,
    when every value has exactly ``k`` fields and none is null (else None: the caller
    splits with :func:`_list_parts`). One pass of Arrow's CSV parser over the values joined
    by newlines, instead of ``split_pattern`` and a gather per field.
    ``empty_is_null``: an empty field is null (else the empty string, as a split gives).

    - ``swap`` = (a, b): byte a is read as b (``(",", ":")``: AD's values are fields too);
    - ``allowed``: every byte must be one of these (else None);
    - ``types``: field ``i`` is parsed as ``types[i]`` ('.' is a null integer, an empty
      integer field is refused). Arrow's integer parser also takes spaces and ``0x``
      prefixes: ``allowed`` keeps them out, so an integer field parses here exactly when
      its text is an integer (or '.');
    - ``keep``: only these fields are converted (the others are None)."""
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    if col.null_count or not len(col) or col.type != pa.string():
        return None
    # each value + "\n": a replace of the empty slice past each value's end (one kernel
    # over the buffers, where a join builds a list per value)
    lines = pc.binary_replace_slice(col.view(pa.binary()), _PAST_END, _PAST_END, "\n")
    lines = lines.view(pa.string())
    views = _string_views(lines)
    assert views is not None  # the lines are strings
    offsets, chars = views
    first, stop = int(offsets[0]), int(offsets[-1])
    if allowed is not None and not _all_in(chars[first:stop], allowed + b"\n"):
        return None
    data = lines.buffers()[2].slice(first, stop - first)
    if swap is not None:
        assert "\n" not in swap  # a value is a row
        data = pa.py_buffer(chars[first:stop].tobytes().replace(swap[0].encode(), swap[1].encode()))
    names = [f"f{i}" for i in range(k)]
    include = names if keep is None else [names[i] for i in keep]
    try:
        t = pacsv.read_csv(
            pa.BufferReader(data),
            read_options=pacsv.ReadOptions(
                column_names=names,
                use_threads=False,
                block_size=max(1 << 20, data.size + 1),  # one block: one chunk per column
            ),
            parse_options=_parse_options(sep),
            convert_options=pacsv.ConvertOptions(
                column_types=dict(zip(names, types or [pa.string()] * k, strict=True)),
                include_columns=include,
                null_values=["."] if types else [""] if empty_is_null else [],
                strings_can_be_null=empty_is_null,
                quoted_strings_can_be_null=False,
                check_utf8=False,  # the values were checked when the line was parsed
            ),
        )
    except pa.ArrowInvalid:  # a value with another number of fields (or not an integer)
        return None
    if t.num_rows != len(col):
        return None
    return [t.column(f).combine_chunks() if f in include else None for f in names]


def _ints(flat: pa.Array) -> pa.Array:
    """Integer values of text parts; ``.`` or empty → null."""
    if len(flat) and flat.null_count == 0 and _only_bytes(flat, _INT_BYTES):
        try:  # the common case: nothing but integers
            return pc.cast(flat, pa.int64())
        except pa.ArrowInvalid:
            pass
    if len(flat):
        # fast path: digits (and '-') only after '.' → null, cast in one step
        nodot = pc.if_else(pc.equal(flat, "."), pa.scalar(None, pa.string()), flat)
        if _only_bytes(pc.drop_null(nodot), _INT_BYTES):
            try:
                return pc.cast(nodot, pa.int64())
            except pa.ArrowInvalid:
                pass  # e.g. '1-2': the exact rule below decides
    bad = pc.invert(pc.match_substring_regex(flat, r"^-?[0-9]+$"))
    return pc.cast(pc.if_else(bad, pa.scalar(None, pa.string()), flat), pa.int64())


def _first_bad(mask: pa.Array | pa.ChunkedArray) -> int | None:
    """Index of the first True of ``mask`` (nulls count as False), or None."""
    m = _np(pc.cast(mask, pa.int8()) if mask.type == pa.bool_() else mask)
    hits = np.flatnonzero(m)
    return int(hits[0]) if len(hits) else None


def _parse_options(delimiter: str) -> pacsv.ParseOptions:
    """VCF text as Arrow's CSV parser must see it: fields split on ``delimiter`` only (no
    quoting or escapes), one record a line, an empty line a record."""
    return pacsv.ParseOptions(
        delimiter=delimiter,
        quote_char=False,
        escape_char=False,
        double_quote=False,
        newlines_in_values=False,
        ignore_empty_lines=False,
    )


def _drop_prefix(values: pa.Array, prefix: str) -> pa.Array:
    """``values`` without their first ``len(prefix.encode())`` bytes: a byte slice (where
    ``utf8_slice_codeunits`` would walk the code points). What is left of a value that
    starts with ``prefix`` is valid UTF-8; the caller keeps only those."""
    cut = pc.binary_slice(values.view(pa.binary()), len(prefix.encode()), _PAST_END)
    return cut.view(pa.string())
