"""The tumour's and the normal's FORMAT values (GT, DP, AD) of a batch of text VCF records,
as :data:`RAW_SCHEMA` wants them and as pysam renders them.

Three tiers, the first that applies: every value exactly ``GT:DP:AD`` with two AD values
(one CSV parse with ':' and ',' both delimiters, DP and AD parsed as integers there); every
value ``GT:DP:AD`` (one CSV parse into three string fields); any FORMAT (a split on ':' and
a gather per field). Each gives the same columns. What none reads exactly as htslib would
(an odd FORMAT, genotype or value) raises :class:`_Unsupported`: the file goes to htslib.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import cast

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from harmonise.vcf import arrow
from harmonise.vcf.arrow import _INT_BYTES, _idx, _list_parts, _only_bytes
from harmonise.vcf.header import VcfHeader
from harmonise.vcf.records import ad_from_pair, ad_from_text

_GT_RE = re.compile(r"^(\.|0|[1-9][0-9]*)((/(\.|0|[1-9][0-9]*))*|(\|(\.|0|[1-9][0-9]*))*)$")
_AD_BYTES = b"0123456789,."
#: What a GT:DP:AD sample value may hold for :func:`_typed_sample` (GT is checked after).
_SAMPLE_BYTES = b"0123456789,.:/|-"
_SAMPLE_TYPES = (pa.string(), pa.int64(), pa.int64(), pa.int64())
_GT_DP_AD = ("GT", "DP", "AD")


class _Unsupported(Exception):
    """Input the text engine leaves to htslib (pysam / bcftools)."""


def _format_positions(fmt: pa.Array, header: VcfHeader) -> dict[str, np.ndarray]:
    """Per row, the position of GT, DP and AD in its FORMAT (-1 where absent)."""
    enc = pc.dictionary_encode(fmt)
    assert isinstance(enc, pa.DictionaryArray)
    codes = np.asarray(pc.fill_null(enc.indices, -1).to_numpy(zero_copy_only=False), np.int64)
    keysets = [str(v).split(":") for v in enc.dictionary.to_pylist()]
    expect = {"GT": ("String", None), "DP": ("Integer", "1"), "AD": ("Integer", None)}
    out: dict[str, np.ndarray] = {}
    for keys in keysets:
        if len(set(keys)) != len(keys) or ("GT" in keys and keys[0] != "GT"):
            raise _Unsupported(f"FORMAT {':'.join(keys)!r}")
    for key, (typ, number) in expect.items():
        table = np.array([ks.index(key) if key in ks else -1 for ks in keysets] + [-1], np.int64)
        if (table >= 0).any():
            declared = header.formats.get(key)
            if declared is None or declared[1] != typ or (number and declared[0] != number):
                raise _Unsupported(f"FORMAT/{key} declared as {declared}")
        out[key] = table[codes]
    return out


def _check_genotypes(gt: pa.Array) -> None:
    """Leave to htslib any genotype other than allele indexes (or '.') joined by '/' or
    '|'; each distinct value is tested once."""
    for g in pc.unique(pc.drop_null(gt)).to_pylist():
        if not _GT_RE.match(g):
            raise _Unsupported(f"genotype {g!r}")


def _typed_sample(col: pa.Array) -> dict[str, pa.Array] | None:
    """The GT:DP:AD values of one sample column with exactly two AD values each, parsed in
    one CSV pass (':' and ',' both split): ``gt``, ``dp`` and ``ad``; None where any value
    is otherwise (:func:`_sample_values` then decides)."""
    got = arrow._split_fields(
        col, ":", 4, False, swap=(",", ":"), allowed=_SAMPLE_BYTES, types=_SAMPLE_TYPES
    )
    if got is None:
        return None
    gt, dp, ad_ref, ad_alt = cast("list[pa.Array]", got)
    if pc.any(pc.less(pc.min_element_wise(ad_ref, ad_alt), 0)).as_py():
        return None  # a negative AD: the text path refuses it
    _check_genotypes(gt)
    return {"gt": gt, "dp": dp, "ad": ad_from_pair(ad_ref, ad_alt)}


def _sample_values(col: pa.Array, at: Mapping[str, np.ndarray]) -> dict[str, pa.Array]:
    """``gt``, ``dp`` and ``ad`` of one sample column, as the pysam engine renders them."""
    null_s = pa.scalar(None, pa.string())
    n = len(col)
    # the usual case: every row's FORMAT is GT:DP:AD and every value has its 3 fields
    same = all(len(at[f]) == n and bool((at[f] == i).all()) for i, f in enumerate(_GT_DP_AD))
    fields = None
    if same and n:
        typed = _typed_sample(col)
        if typed is not None:
            return typed
        fields = cast(
            "list[pa.Array] | None", arrow._split_fields(col, ":", 3, empty_is_null=False)
        )
    if fields is None:
        parts, offsets = _list_parts(col, ":")
        lens = np.diff(offsets)

    def get(pos: np.ndarray) -> pa.Array:
        if fields is not None:  # every row has the field, at the same place
            return fields[int(pos[0])]
        ok = (pos >= 0) & (pos < lens)
        if not len(parts) or not ok.any():
            return pa.nulls(len(pos), pa.string())
        return pc.take(parts, _idx(np.where(ok, offsets[:-1] + pos, -1)))

    def present(v: pa.Array, pos: np.ndarray) -> pa.Array:
        """pysam's rendering: '.' where the field is in FORMAT but the value is missing,
        null where FORMAT lacks it."""
        if v.null_count == 0:
            return v
        if bool((pos >= 0).all()):
            return pc.coalesce(v, ".")
        return pc.if_else(pa.array(pos >= 0), pc.coalesce(v, "."), null_s)

    gt_v, dp_v, ad_v = get(at["GT"]), get(at["DP"]), get(at["AD"])
    _check_genotypes(gt_v)
    gt = present(gt_v, at["GT"])
    dp_s = dp_v
    if pc.any(pc.equal(dp_v, ".")).as_py():
        dp_s = pc.if_else(pc.equal(dp_v, "."), null_s, dp_v)
    if not _only_bytes(pc.drop_null(dp_s), _INT_BYTES):
        raise _Unsupported("a non-integer FORMAT/DP")
    try:
        dp = pc.cast(dp_s, pa.int64())
    except pa.ArrowInvalid:
        raise _Unsupported("a non-integer FORMAT/DP") from None
    if not _only_bytes(pc.drop_null(ad_v), _AD_BYTES):
        raise _Unsupported("a FORMAT/AD value other than integers")
    return {"gt": gt, "dp": dp, "ad": ad_from_text(present(ad_v, at["AD"]))}
