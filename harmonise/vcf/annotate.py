"""Annotation: one consequence per variant row from bcftools ``BCSQ``, VEP ``CSQ`` or
snpEff ``ANN`` (gene, transcript, SO term, HGVS c./p.), and the protein change in
three-letter HGVS and short (``V600E``) form. All vectorised over a batch.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from harmonise.model import BCSQ_SO, CONSEQUENCE_SEVERITY
from harmonise.vcf import arrow
from harmonise.vcf.arrow import _idx, _ints, _list_parts, _map, _may_contain, _np, _scatter
from harmonise.vcf.header import VcfHeader

AA3 = {
    "A": "Ala", "R": "Arg", "N": "Asn", "D": "Asp", "C": "Cys", "Q": "Gln", "E": "Glu",
    "G": "Gly", "H": "His", "I": "Ile", "L": "Leu", "K": "Lys", "M": "Met", "F": "Phe",
    "P": "Pro", "S": "Ser", "T": "Thr", "W": "Trp", "Y": "Tyr", "V": "Val", "*": "Ter",
    "U": "Sec", "X": "Xaa",
}  # fmt: skip
AA1 = {v: k for k, v in AA3.items()}


@functools.cache
def canonical_transcripts() -> dict[str, str]:
    """Gene → canonical transcript (``harmonise/data/canonical_transcripts.tsv``)."""
    out: dict[str, str] = {}
    text = (Path(__file__).parents[1] / "data" / "canonical_transcripts.tsv").read_text()
    for line in text.splitlines():
        if line and not line.startswith(("#", "gene\t")):
            gene, transcript = line.split("\t")[:2]
            out[gene] = transcript
    return out


def _annotations(t: pa.Table, header: VcfHeader) -> dict[str, pa.Array]:
    """One consequence per row from BCSQ/CSQ/ANN, chosen by allele, canonical transcript,
    protein change, severity and (BCSQ) protein length; all vectorised."""
    n = t.num_rows
    names = ["gene", "transcript", "consequence", "hgvs_c", "hgvs_p", "aa"]
    empty = {c: pa.nulls(n, pa.string()) for c in names}
    if header.annotation is None:
        return empty
    ann = t["ann"].combine_chunks()
    if ann.null_count == len(ann):
        return empty
    if pc.any(pc.equal(ann, "")).as_py():
        ann = pc.if_else(pc.equal(ann, ""), pa.scalar(None, pa.string()), ann)
    # split in place (rows without annotation split to nothing: no gather of the rest)
    entries, offsets = _list_parts(ann, ",")
    lens = np.diff(offsets)
    rows = np.flatnonzero(lens > 0)
    if len(rows) == 0:
        return empty
    parent = np.repeat(np.arange(len(rows)), lens[rows])
    if header.annotation == "BCSQ" and pc.any(pc.starts_with(entries, "*")).as_py():
        entries = pc.utf8_ltrim(entries, "*")
    fnames = list(header.annotation_fields)
    wanted = [
        "Consequence", "Annotation", "gene", "SYMBOL", "Gene_Name", "transcript", "Feature",
        "Feature_ID", "amino_acid_change", "dna_change", "Allele", "HGVSc", "HGVS.c",
        "HGVSp", "HGVS.p", "CANONICAL", "PICK",
    ]  # fmt: skip
    index = {fnames.index(w): w for w in wanted if w in fnames}
    last = max(index) if index else 0
    # the sub-fields of every entry: when each entry has exactly the declared fields, one
    # CSV parse (an empty field is null); else one split on '|', where an entry with
    # fewer than last+1 sub-fields is unreadable (all its fields null)
    split = None
    if fnames:
        split = arrow._split_fields(entries, "|", len(fnames), True, keep=sorted(index))
    if split is None:
        sub, sub_off = _list_parts(entries, "|")
        valid = np.diff(sub_off) > last

    def field(*cands: str) -> pa.Array:
        for c in cands:
            if c in fnames and fnames.index(c) in index:
                if split is not None:
                    got = split[fnames.index(c)]
                    assert got is not None  # kept: it is in index
                    return got
                at = np.where(valid, sub_off[:-1] + fnames.index(c), 0)
                v = pc.take(sub, pa.array(at)) if len(sub) else pa.nulls(len(at), pa.string())
                keep = pc.and_(pa.array(valid), pc.not_equal(v, ""))
                return pc.if_else(keep, v, pa.scalar(None, pa.string()))
        return pa.nulls(len(entries), pa.string())

    alt = pc.take(t["alt"], pa.array(rows[parent]))
    ref = pc.take(t["ref"], pa.array(rows[parent]))
    canon = canonical_transcripts()
    if header.annotation == "BCSQ":
        raw_csq = field("Consequence")
        first = _first_term(raw_csq)
        consequence = pc.coalesce(_map(first, BCSQ_SO), first)
        gene, transcript = field("gene"), field("transcript")
        aa = field("amino_acid_change")
        pos = pc.cast(pc.take(t["pos"], pa.array(rows[parent])), pa.string())
        allele_ok = pc.equal(
            field("dna_change"), pc.binary_join_element_wise(pos, ref, ">", alt, "")
        )
        hgvs_c = pa.nulls(len(entries), pa.string())
        hgvs_p = pa.nulls(len(entries), pa.string())
        skip = pc.starts_with(entries, "@")
    else:
        raw_csq = field("Consequence", "Annotation")
        consequence = _first_term(raw_csq)
        gene = field("SYMBOL", "Gene_Name")
        transcript = field("Feature", "Feature_ID")
        allele = field("Allele")
        trimmed = pc.utf8_slice_codeunits(alt, 1)
        allele_ok = pc.or_(
            pc.equal(allele, alt),
            pc.or_(
                pc.and_(
                    pc.equal(allele, "-"), pc.greater(pc.utf8_length(ref), pc.utf8_length(alt))
                ),
                pc.equal(allele, trimmed),
            ),
        )
        hgvs_c = pc.replace_substring_regex(field("HGVSc", "HGVS.c"), r"^[^:]*:", "")
        hgvs_p = pc.replace_substring(
            pc.replace_substring_regex(field("HGVSp", "HGVS.p"), r"^[^:]*:", ""), "%3D", "="
        )
        aa = pa.nulls(len(entries), pa.string())
        skip = pa.array(np.zeros(len(entries), bool))
        vep_canon = pc.or_(
            pc.equal(pc.fill_null(field("CANONICAL"), ""), "YES"),
            pc.equal(pc.fill_null(field("PICK"), ""), "1"),
        )
    is_canon = pc.equal(transcript, _map(gene, canon))
    if header.annotation != "BCSQ":
        is_canon = pc.or_(pc.fill_null(is_canon, False), vep_canon)
    sev = _np(pc.index_in(consequence, value_set=pa.array(CONSEQUENCE_SEVERITY)), 99)
    no_p = _np(pc.cast(pc.and_(pc.is_null(hgvs_p), pc.is_null(aa)), pa.int64()), 1)
    rank = (
        (1 - _np(pc.cast(pc.fill_null(allele_ok, False), pa.int64()))) * 10**9
        + _np(pc.cast(pc.fill_null(skip, False), pa.int64())) * 10**10
        + (1 - _np(pc.cast(pc.fill_null(is_canon, False), pa.int64()))) * 10**8
        + no_p * 10**7
        + sev * 10**5
    )
    # per row (``parent`` is non-decreasing), the first entry of the lowest rank: O(n)
    starts = np.flatnonzero(np.r_[True, parent[1:] != parent[:-1]])
    sizes = np.diff(np.r_[starts, len(rank)])
    best = rank == np.repeat(np.minimum.reduceat(rank, starts), sizes)
    if header.annotation == "BCSQ":
        # a tie (ranks differ by multiples of 10**5) goes to the longest protein: the
        # leading digits of amino_acid_change, read for the tied entries only
        tied_rows = np.add.reduceat(best.astype(np.int64), starts) > 1
        tied = np.flatnonzero(best & np.repeat(tied_rows, sizes))
        if len(tied):
            aa_tied = pc.fill_null(pc.take(aa, _idx(tied)), "")
            digits = pc.struct_field(pc.extract_regex(aa_tied, r"^(?P<p>[0-9]*)"), "p")
            rank[tied] -= np.minimum(_np(_ints(pc.cast(digits, pa.string()))), 99999)
            best = rank == np.repeat(np.minimum.reduceat(rank, starts), sizes)
    cand = np.flatnonzero(best)
    first_of = cand[np.r_[True, parent[cand][1:] != parent[cand][:-1]]]
    # the chosen entry of each annotated row, scattered back to all rows (others null)
    pick = _idx(first_of)
    at_rows = rows[parent[first_of]]
    fields = {
        "gene": gene, "transcript": transcript, "consequence": consequence,
        "hgvs_c": hgvs_c, "hgvs_p": hgvs_p, "aa": aa,
    }  # fmt: skip
    out = {}
    for c in names:  # a field null in every entry (BCSQ has no HGVS) needs no gather
        v = fields[c]
        out[c] = (
            pa.nulls(n, pa.string())
            if v.null_count == len(v)
            else _scatter(pc.take(v, pick), at_rows, n)
        )
    return out


def _first_term(terms: pa.Array) -> pa.Array:
    """The first of each ``&``-joined list of consequence terms ('' where null)."""
    terms = pc.fill_null(terms, "")
    if not _may_contain(terms, "&"):  # one term each (the split is most of the cost)
        return terms
    return pc.list_element(pc.split_pattern(terms, "&"), 0)


def _protein(hgvs_p: pa.Array, aa: pa.Array) -> tuple[pa.Array, pa.Array]:
    """(hgvs_p three-letter, short one-letter form) from HGVS p. or BCSQ ``600V>600E``."""
    n = len(aa)
    none = pa.nulls(n, pa.string())
    three = short_b = short_h = short_fs = none

    def f(s: pa.Array, name: str) -> pa.Array:
        return pc.struct_field(s, name)

    if aa.null_count < n:  # BCSQ amino_acid_change: 600V>600E, or 600V (synonymous)
        bm = pc.extract_regex(
            pc.fill_null(aa, ""), r"^(?P<p>[0-9]+)(?P<r>[A-Z*])(?:>[0-9]+(?P<v>[A-Z*]))?$"
        )
        r, p, v = f(bm, "r"), f(bm, "p"), f(bm, "v")
        syn = pc.equal(v, "")  # the optional part absent (null where nothing matched)
        three = pc.binary_join_element_wise(
            "p.", _map(r, AA3), p, pc.if_else(syn, "=", _map(v, AA3)), ""
        )
        short_b = pc.binary_join_element_wise(r, p, pc.if_else(syn, "=", v), "")
    if hgvs_p.null_count < n:  # VEP/snpEff HGVS p.
        hm = pc.extract_regex(
            pc.fill_null(hgvs_p, ""),
            r"^p\.\(?(?P<r>[A-Z][a-z]{2})(?P<p>[0-9]+)(?P<v>[A-Z][a-z]{2}|=|\*)\)?$",
        )
        hf = pc.extract_regex(
            pc.fill_null(hgvs_p, ""),
            r"^p\.\(?(?P<r>[A-Z][a-z]{2})(?P<p>[0-9]+)[A-Z][a-z]{2}fs",
        )
        hm_v = f(hm, "v")
        hm_alt = pc.if_else(pc.is_in(hm_v, value_set=pa.array(["=", "*"])), hm_v, _map(hm_v, AA1))
        short_h = pc.binary_join_element_wise(_map(f(hm, "r"), AA1), f(hm, "p"), hm_alt, "")
        short_fs = pc.binary_join_element_wise(_map(f(hf, "r"), AA1), f(hf, "p"), "fs", "")
    out_p = pc.coalesce(hgvs_p, three)
    short = pc.coalesce(short_b, short_h, short_fs)
    return out_p, short


def _protein_sparse(hgvs_p: pa.Array, aa: pa.Array) -> tuple[pa.Array, pa.Array]:
    """:func:`_protein` over the rows that have a protein change only (most have none)."""
    has = pc.or_(pc.is_valid(hgvs_p), pc.is_valid(aa))
    rows = np.flatnonzero(_np(pc.cast(has, pa.int8())))
    n = len(hgvs_p)
    if len(rows) == n:
        return _protein(hgvs_p, aa)
    if len(rows) == 0:
        return pa.nulls(n, pa.string()), pa.nulls(n, pa.string())
    idx = pa.array(rows)
    p, short = _protein(pc.take(hgvs_p, idx), pc.take(aa, idx))
    return _scatter(p, rows, n), _scatter(short, rows, n)
