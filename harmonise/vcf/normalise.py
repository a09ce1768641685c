"""Normalisation: raw record rows (:data:`RAW_SCHEMA`, from any engine) → ``variants`` rows.

One vectorised pass per batch (pyarrow compute + numpy, no per-record Python): CHROM, POS,
REF and ALT checked (errors name file, line, record and field), reference-only records
and symbolic alleles skipped and counted, multi-allelic records split with genotypes
recoded, tumour and normal depth / allele depth / VAF, one consequence annotation chosen
(:mod:`harmonise.vcf.annotate`) and the variant class from the alleles.
"""

from __future__ import annotations

import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from harmonise.errors import ContigError, VcfFormatError
from harmonise.model import VARIANT_CLASSES
from harmonise.vcf.annotate import _annotations, _protein_sparse
from harmonise.vcf.arrow import (
    _BASE_BYTES,
    _first_bad,
    _idx,
    _list_parts,
    _map,
    _np,
    _only_bytes,
    _string_views,
)
from harmonise.vcf.header import VcfHeader
from harmonise.vcf.records import ReadStats, _where
from harmonise.vcf.reference import ContigRules, contig_problem, contig_rules

_BASES = "^[ACGTNacgtn]+$"
_SYMBOLIC = r"^(\*|<.+>|\.|.*[\[\]].*|\.[ACGTNacgtn]+|[ACGTNacgtn]+\.)$"


def _ad_depths(col: pa.Array | pa.ChunkedArray, k: np.ndarray) -> tuple[pa.Array, pa.Array]:
    """Of each row's allele depths (:data:`~harmonise.vcf.records.AD_TYPE`): the sum
    (missing values count 0; null if the row is null or empty) and element ``k[i]``
    (0-based; null if absent)."""
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    flat = pc.list_flatten(col)  # the values of the non-null rows, in order
    if len(flat) == 0:
        return pa.nulls(len(k), pa.int64()), pa.nulls(len(k), pa.int64())
    lens = _np(pc.list_value_length(col)).astype(np.int64)
    offsets = np.zeros(len(lens) + 1, np.int64)
    np.cumsum(lens, out=offsets[1:])
    vals = _np(flat)
    sums = np.add.reduceat(np.append(vals, 0), offsets[:-1]) if len(lens) else np.array([])
    total = pa.array(sums.astype(np.int64), mask=lens == 0)
    got = pc.take(flat, _idx(np.where(lens > k, offsets[:-1] + k, -1)))
    return total, got


def _refuse(header: VcfHeader, raw: pa.Table, i: int, fld: str, hint: str) -> VcfFormatError:
    row = raw.slice(i, 1).to_pylist()[0]
    value = row.get(fld.lower())
    where = _where(header, row["rec"], row["chrom"], row["pos"])
    return VcfFormatError(f"{where}, field {fld}: {value!r}: {hint}")


def _check_contigs(raw: pa.Table, header: VcfHeader, rules: ContigRules) -> None:
    """Refuse the first record whose CHROM or POS breaks ``rules``."""
    if rules.empty or not raw.num_rows:
        return
    bad: list[int] = []
    if rules.wrong_names:
        hit = pc.is_in(raw["chrom"], value_set=pa.array(sorted(rules.wrong_names), pa.string()))
        bad += [i for i in [_first_bad(hit)] if i is not None]
    if rules.wrong_pattern is not None:
        hit = pc.fill_null(pc.match_substring_regex(raw["chrom"], rules.wrong_pattern), False)
        bad += [i for i in [_first_bad(hit)] if i is not None]
    if rules.lengths:
        limit = _map(raw["chrom"], {k: v + 1 for k, v in rules.lengths.items()}, pa.int64())
        over = pc.fill_null(pc.greater(raw["pos"], limit), False)
        bad += [i for i in [_first_bad(over)] if i is not None]
    if bad:
        row = raw.slice(min(bad), 1).to_pylist()[0]
        problem = contig_problem(rules, row["chrom"], row["pos"])
        raise ContigError(f"{_where(header, row['rec'], row['chrom'], row['pos'])}, {problem}")


def _validate(
    raw: pa.Table, header: VcfHeader, stats: ReadStats, rules: ContigRules
) -> tuple[pa.Table, np.ndarray]:
    """Refuse bad CHROM/POS/REF/ALT; drop reference-only records (ALT '.'). The rows kept,
    and their indexes in ``raw``."""
    if not _only_bytes(raw["ref"], _BASE_BYTES):
        ref_ok = pc.fill_null(pc.match_substring_regex(raw["ref"], _BASES), False)
        bad = _first_bad(pc.invert(ref_ok))
        if bad is not None:
            raise _refuse(header, raw, bad, "REF", "REF must be bases A, C, G, T or N")
    bad = _first_bad(pc.fill_null(pc.less(raw["pos"], 1), True))
    if bad is not None:
        raise _refuse(header, raw, bad, "POS", "POS is 1-based, at least 1")
    if header.contigs:
        known = pc.is_in(raw["chrom"], value_set=pa.array(list(header.contigs), pa.string()))
        bad = _first_bad(pc.invert(known))
        if bad is not None:
            row = raw.slice(bad, 1).to_pylist()[0]
            raise ContigError(
                f"{_where(header, row['rec'], row['chrom'], row['pos'])}, field CHROM: contig "
                f"{row['chrom']!r} is not declared in the header (##contig); declare it or "
                "remove the record"
            )
    _check_contigs(raw, header, rules)
    has_alt = pc.is_valid(raw["alt"])
    n_ref_only = raw.num_rows - int(pc.sum(pc.cast(has_alt, pa.int64())).as_py() or 0)
    stats.skipped_reference_only += n_ref_only
    if not n_ref_only:
        return raw, np.arange(raw.num_rows)
    return raw.filter(has_alt), np.flatnonzero(_np(pc.cast(has_alt, pa.int8())))


def _split_alleles(raw: pa.Table) -> tuple[pa.Table, np.ndarray, np.ndarray, np.ndarray | None]:
    """One row per ALT allele: the table, ``k`` (1-based allele index), ``n_alt`` and each
    row's index in ``raw`` (None: the rows of ``raw``, one allele each)."""
    alt = raw["alt"]
    if not pc.any(pc.match_substring(alt, ",")).as_py():
        n = raw.num_rows
        return raw, np.ones(n, np.int64), np.ones(n, np.int64), None
    flat, offsets = _list_parts(alt, ",")
    lens = np.diff(offsets)
    parent = np.repeat(np.arange(raw.num_rows), lens)
    k = np.arange(len(flat)) - offsets[:-1][parent] + 1
    out = raw.take(pa.array(parent))
    out = out.set_column(out.schema.get_field_index("alt"), "alt", flat)
    return out, k, lens[parent], parent


def _recode_gt(gt: pa.Array | pa.ChunkedArray, k: np.ndarray, n_alt: np.ndarray) -> pa.Array:
    """Genotypes of split multi-allelic rows: allele ``k`` → 1, other ALTs → 0."""
    values = gt.to_pylist()
    for i in np.flatnonzero(n_alt > 1):
        g = values[i]
        if g is None:
            continue
        sep = "|" if "|" in g else "/"
        parts = re.split(r"[/|]", g)
        ks = str(int(k[i]))
        values[i] = sep.join(p if p in (".", "0") else ("1" if p == ks else "0") for p in parts)
    return pa.array(values, pa.string())


_CLASSES = pa.array(VARIANT_CLASSES)


def _variant_class(ref: pa.Array | pa.ChunkedArray, alt: pa.Array | pa.ChunkedArray) -> pa.Array:
    """SNV, MNV, insertion, deletion or indel, from the alleles' lengths and whether they
    share their first base. The alleles are bases (ASCII), each at least one: lengths and
    first bytes are read from the buffers with numpy (no string kernel per test)."""
    ref = ref.combine_chunks() if isinstance(ref, pa.ChunkedArray) else ref
    alt = alt.combine_chunks() if isinstance(alt, pa.ChunkedArray) else alt
    rv, av = _string_views(ref), _string_views(alt)
    assert rv is not None and av is not None and not ref.null_count and not alt.null_count
    (ro, rd), (ao, ad) = rv, av
    rl, al = np.diff(ro), np.diff(ao)
    assert bool((rl > 0).all() and (al > 0).all())  # checked by _validate and normalise
    anchor = rd[ro[:-1]] == ad[ao[:-1]]
    code = np.select(
        [
            (rl == 1) & (al == 1),
            rl == al,
            (rl == 1) & (al > 1) & anchor,
            (al == 1) & (rl > 1) & anchor,
        ],
        [0, 1, 2, 3],
        4,
    )
    return pc.take(_CLASSES, pa.array(code.astype(np.int8)))


def _empty_to_null(a: pa.Array) -> pa.Array:
    return pc.if_else(pc.equal(a, ""), pa.scalar(None, pa.string()), a)


def normalise(
    raw: pa.Table, header: VcfHeader, build: str, stats: ReadStats, naming: str | None = None
) -> pa.Table:
    """Raw rows → ``variants`` columns (split, checked, depths, VAF, annotation).

    Raises :class:`VcfFormatError` naming the file, line/record and field of the first bad
    value, :class:`ContigError` for a record off the reference (see
    :func:`~harmonise.vcf.reference.contig_rules`; ``naming`` is the manifest's contig
    naming, None if not stated). Symbolic alleles (``<DEL>``, breakends, ``*``) and
    reference-only records (ALT ``.``) are skipped and counted in ``stats``.
    """
    return _normalise(raw, header, build, stats, naming)[0]


def _normalise(
    raw: pa.Table, header: VcfHeader, build: str, stats: ReadStats, naming: str | None = None
) -> tuple[pa.Table, np.ndarray]:
    """:func:`normalise`, and the index in ``raw`` of the record each row came from."""
    raw, source = _validate(raw, header, stats, contig_rules(header, build, naming))
    t, k, n_alt, parent = _split_alleles(raw)
    if parent is not None:
        source = source[parent]
    alt_up = pc.ascii_upper(t["alt"])
    if _only_bytes(alt_up, _BASE_BYTES):
        n_ok = t.num_rows
    else:
        ok = pc.fill_null(pc.match_substring_regex(alt_up, _BASES), False)
        n_ok = int(pc.sum(pc.cast(ok, pa.int64())).as_py() or 0)
    if n_ok < t.num_rows:
        symbolic = pc.fill_null(pc.match_substring_regex(t["alt"], _SYMBOLIC), False)
        bad = _first_bad(pc.invert(pc.or_(ok, symbolic)))
        if bad is not None:
            raise _refuse(
                header, t, bad, "ALT",
                "ALT must be bases A, C, G, T, N, '*', '.' or a <symbolic> allele",
            )  # fmt: skip
        stats.skipped_symbolic += t.num_rows - n_ok
        keep = np.flatnonzero(_np(pc.cast(ok, pa.int8())))
        t, k, n_alt = t.take(pa.array(keep)), k[keep], n_alt[keep]
        source = source[keep]
        alt_up = pc.take(alt_up, pa.array(keep))
    t = t.set_column(t.schema.get_field_index("alt"), "alt", alt_up)
    ref = pc.ascii_upper(t["ref"])
    t = t.set_column(t.schema.get_field_index("ref"), "ref", ref)
    multi = bool((n_alt > 1).any())
    genotype = _recode_gt(t["t_gt"], k, n_alt) if multi else t["t_gt"]
    ad_sum, alt_depth = _ad_depths(t["t_ad"], k)
    depth = pc.coalesce(t["t_dp"], ad_sum)
    nad_sum, nalt_depth = _ad_depths(t["n_ad"], k)
    ndepth = pc.coalesce(t["n_dp"], nad_sum)
    ann = _annotations(t, header)
    hgvs_p, short = _protein_sparse(ann["hgvs_p"], ann["aa"])
    vclass = _variant_class(ref, t["alt"])
    key = pc.binary_join_element_wise(
        build, t["chrom"], pc.cast(t["pos"], pa.string()), ref, t["alt"], ":"
    )

    def vaf(a: pa.Array, d: pa.Array) -> pa.Array:
        v = pc.divide(pc.cast(a, pa.float64()), pc.cast(d, pa.float64()))
        good = pc.and_kleene(pc.is_finite(v), pc.less_equal(v, 1.0))
        return pc.if_else(good, v, pa.scalar(None, pa.float64()))

    has_ann = pc.or_(pc.is_valid(ann["gene"]), pc.is_valid(ann["consequence"]))
    out = pa.table(
        {
            "chrom": t["chrom"],
            "pos": t["pos"],
            "ref": ref,
            "alt": t["alt"],
            "variant_key": key,
            "filter": t["filter"],
            "qual": t["qual"],
            "genotype": genotype,
            "depth": pc.cast(depth, pa.int32()),
            "alt_depth": pc.cast(alt_depth, pa.int32()),
            "vaf": vaf(alt_depth, depth),
            "normal_depth": pc.cast(ndepth, pa.int32()),
            "normal_alt_depth": pc.cast(nalt_depth, pa.int32()),
            "normal_vaf": vaf(nalt_depth, ndepth),
            "gene": ann["gene"],
            "transcript": ann["transcript"],
            "consequence": _empty_to_null(ann["consequence"]),
            "variant_class": vclass,
            "hgvs_c": ann["hgvs_c"],
            "hgvs_p": hgvs_p,
            "protein_change": short,
            "annotation_source": pc.if_else(
                has_ann,
                pa.scalar(header.annotation or "", pa.string()),
                pa.scalar(None, pa.string()),
            ),
        }
    )
    stats.rows += out.num_rows
    return out, source
