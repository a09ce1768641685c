"""The byte-level Arrow helpers (harmonise.vcf.arrow) give what the plain kernels or plain
Python give, on generated values, sliced arrays and nulls included."""

from __future__ import annotations

import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from hypothesis import given, settings
from hypothesis import strategies as st

from harmonise.vcf.arrow import (
    _BASE_BYTES,
    _INT_BYTES,
    _drop_prefix,
    _ints,
    _may_contain,
    _only_bytes,
    _scatter,
    _split_fields,
)

TEXT = st.text(alphabet="ACGTN0123456789-.,:|xé", max_size=6)


def _sliced(values: list[str | None], cut: int) -> pa.Array:
    """``values`` as a string array that is a slice of a longer one (non-zero offset)."""
    arr = pa.array(["pad"] * cut + values + ["pad"], pa.string())
    return arr.slice(cut, len(values))


@settings(max_examples=200, deadline=None)
@given(st.lists(TEXT, max_size=20), st.integers(0, 3))
def test_only_bytes_is_the_byte_set_test(values: list[str], cut: int) -> None:
    col = _sliced(list(values), cut)
    for allowed in (_BASE_BYTES, _INT_BYTES):
        expected = all(v and set(v.encode()) <= set(allowed) for v in values)
        assert _only_bytes(col, allowed) == expected


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.none(), TEXT), max_size=20), st.integers(0, 3))
def test_may_contain_never_misses_a_byte(values: list[str | None], cut: int) -> None:
    col = _sliced(values, cut)
    for byte in (",", ":", "."):
        if any(v is not None and byte in v for v in values):
            assert _may_contain(col, byte)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.none(), TEXT), max_size=20))
def test_ints_reads_integers_and_nulls_the_rest(values: list[str | None]) -> None:
    got = _ints(pa.array(values, pa.string())).to_pylist()
    expected = [
        int(v) if v is not None and re.fullmatch(r"-?[0-9]+", v) and abs(int(v)) < 2**63 else None
        for v in values
    ]
    assert got == expected


@settings(max_examples=200, deadline=None)
@given(st.lists(TEXT, min_size=1, max_size=20), st.data())
def test_scatter_puts_values_at_their_rows(values: list[str], data: st.DataObject) -> None:
    n = data.draw(st.integers(len(values), len(values) + 10))
    rows = np.sort(np.random.default_rng(len(values)).choice(n, len(values), replace=False))
    got = _scatter(pa.array(values, pa.string()), rows, n).to_pylist()
    expected: list[str | None] = [None] * n
    for v, r in zip(values, rows, strict=True):
        expected[int(r)] = v
    assert got == expected


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.lists(st.text(alphabet="AC.0x", max_size=3), min_size=3, max_size=3).map(":".join),
        min_size=1,
        max_size=15,
    ),
    st.booleans(),
)
def test_split_fields_gives_the_split_of_every_field(values: list[str], empty_null: bool) -> None:
    got = _split_fields(pa.array(values, pa.string()), ":", 3, empty_null)
    assert got is not None
    for i, col in enumerate(got):
        assert col is not None
        parts = [v.split(":")[i] for v in values]
        assert col.to_pylist() == [None if empty_null and p == "" else p for p in parts]


def test_split_fields_declines_other_field_counts_and_nulls() -> None:
    assert _split_fields(pa.array(["a:b:c", "a:b"]), ":", 3, False) is None
    assert _split_fields(pa.array(["a:b:c", None]), ":", 3, False) is None
    assert _split_fields(pa.array(["1:2", "3:x"]), ":", 2, False, types=[pa.int64()] * 2) is None


def test_drop_prefix_keeps_the_rest_of_each_value() -> None:
    col = pa.array(["BCSQ=a", "BCSQ=é|b", "BCSQ="])
    assert _drop_prefix(col, "BCSQ=").to_pylist() == ["a", "é|b", ""]
    assert (
        pc.equal(_drop_prefix(col, "BCSQ="), pc.utf8_slice_codeunits(col, 5)).to_pylist()
        == [True] * 3
    )
