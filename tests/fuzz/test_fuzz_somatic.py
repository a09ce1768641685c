"""Fuzzing the readers of the pipeline's somatic results beyond small variants (issue 23):
the structural VCF (harmonise.structural) and the copy-number tables (harmonise.copy_number).

Generated from CONTRACT23's valid records with hostile parts mixed in (the issue 19
standard): malformed breakend ALTs, symbolic alleles without END/SVLEN, END before POS,
contigs of the other naming or past the end of the build's contig, unknown and malformed
gene names, overlapping and unsorted segments, non-numeric and non-finite numbers, huge
lines. Each file either reads, and then its rows keep the readers' invariants, or is
refused with the project's own one-line error naming the file; nothing else is raised and
no example hangs (:func:`tests.fuzz.conftest.within`).
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from harmonise.copy_number import CALLS, read_genes, read_segments
from harmonise.ingest.tables import rows_to_table
from harmonise.structural import MAX_LINE, read_structural
from harmonise.vcf.reference import BUILD_LENGTHS
from tests.fuzz.conftest import FUZZ, within
from tests.fuzz.test_fuzz_vcf import OWN_ERRORS, one_line
from tests.harmonise.genomic_fixtures import SV_HEADER, SV_RECORDS, sv_vcf_text, write_sv_vcf

CHROM = st.sampled_from(["7", "12", "15", "2", "9", "chr7", "chr15", "X", "GL000192.1", "", "7 "])
POS = st.one_of(
    st.integers(-2, 250_000_000).map(str),
    st.sampled_from(["0", "1e5", "", "x", "9" * 30, "9" * 5000, "159138663", "159138664"]),
)
#: Breakend ALTs (VCF 4.3 §5.4) and near misses: wrong brackets, missing parts, other naming.
BND_ALT = st.sampled_from(
    [
        "T]15:88576000]", "T[15:88576000[", "]15:88576000]T", "[15:88576000[T", "N[chr15:100[",
        "T]15:abc]", "T[15:100]", "]15:100]T]", "T]]", "T]15:88576000]X", "T]15:-5]",
        "T]15:999999999999]", "T]:100]", "]15:]T", "T[15:100[[", "t]15:1]", "T]15:88576000",
        "[15:100[", "T]7:159138664]", "T]GL000192.1:5]", "<BND>", "T]15:0]",
        "T]15:" + "9" * 5000 + "]",
    ]
)  # fmt: skip
SYMBOLIC = st.sampled_from(["<DEL>", "<DUP>", "<INV>", "<INS>", "<DUP:TANDEM>", "<CNV>", "<>",
                            "<DEL", "DEL>", "<del>", "A", "AT", ".", "<DEL>,<DUP>"])  # fmt: skip
SVTYPE = st.sampled_from(["DEL", "DUP", "INV", "INS", "BND", "CNV", "", None])
INFO_PART = st.sampled_from(
    [
        "END=200", "END=50", "END=", "END=x", "END=999999999999", "SVLEN=320", "SVLEN=-320",
        "SVLEN=x", "CHR2=15", "CHR2=chr15", "CHR2=9", "POS2=88576000", "POS2=-1", "POS2=1e3",
        "PE=3", "PE=x", "SR=", "CT=3to5", "PRECISE", "MATEID=bnd_2", "MATEID=bnd_1",
        "GENE_A=ETV6", "GENE_B=NTRK3", "GENE_A=NOTAREALGENE1", "GENE_A=egfr x", "GENE_A=,",
        "GENE_B=A;B", "FUSION=ETV6::NTRK3", "FUSION=ETV6-NTRK3", "FUSION=ETV6::ETV6",
        "FUSION=::", "FUSION=NOTAREALGENE1::NTRK3", "XX=1", "=1", "END=200;END=300",
        "PE=99999999999", "SR=" + "9" * 5000, "SVLEN=" + "9" * 25, "END=" + "9" * 5000,
        "POS2=" + "9" * 30,
    ]
)  # fmt: skip
#: Three fifths of the profile's examples per target (60 in ``ci``: these two targets add
#: 2.6 s to ``make test`` at load 9 on 2 cores; the long profile runs 3,000 each).
SOMATIC = settings(FUZZ, max_examples=max(1, FUZZ.max_examples * 3 // 5))
HUGE = "GENE_A=" + ",".join(["G"] * (MAX_LINE // 2 + 10))


@st.composite
def sv_record(draw: st.DrawFn) -> tuple[str, ...]:
    if draw(st.integers(0, 3)) == 0:  # a valid record of the fixture, as is
        return draw(st.sampled_from(SV_RECORDS))
    alt = draw(st.one_of(BND_ALT, SYMBOLIC))
    parts = [f"SVTYPE={t}" for t in [draw(SVTYPE)] if t is not None]
    parts += draw(st.lists(INFO_PART, max_size=5))
    if draw(st.integers(0, 40)) == 0:
        parts.append(HUGE)  # a runaway line, over MAX_LINE
    ident = draw(st.sampled_from([".", "bnd_1", "bnd_2", "DEL00000001", ""]))
    filt = draw(st.sampled_from(["PASS", "LowQual", ".", ""]))
    ref = draw(st.sampled_from(["A", "N", "", "X", "AC"]))
    return (draw(CHROM), draw(POS), ident, ref, alt, filt, ";".join(parts) or ".")


def _check_rows(path: Path) -> None:
    """An accepted structural VCF's rows keep the reader's invariants."""
    sv = read_structural(path, "GRCh37", "ensembl")
    lengths = BUILD_LENGTHS["GRCh37"]
    for r in sv.records:
        for chrom, pos in ((r.chrom, r.pos), (r.chrom2, r.pos2)):
            assert chrom in lengths and 1 <= pos <= lengths[chrom], r
        if r.sv_type in ("DEL", "DUP", "INV"):
            assert r.chrom2 == r.chrom and r.pos2 >= r.pos and r.sv_length == r.pos2 - r.pos
        if r.fusion is not None:
            a, b = r.fusion.split("::")
            assert a != b and {a, b} <= set(r.gene_a) | set(r.gene_b), r
    # what ingest commits: the rows fit the lake's columns (no overflow past the reader)
    rows_to_table("structural_variants", [r.row() for r in sv.records])


@SOMATIC
@given(records=st.lists(sv_record(), max_size=5), cut=st.integers(0, 20))
def test_any_structural_vcf_reads_or_is_refused_in_one_line(
    records: list[tuple[str, ...]], cut: int
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        text = sv_vcf_text(records, header=SV_HEADER)
        if cut == 0:  # a file cut short mid-record
            text = text[: len(text) - 7]
        path = write_sv_vcf(Path(tmp) / "sv.vcf.gz", text)
        try:
            with within():
                _check_rows(path)
        except OWN_ERRORS as exc:
            one_line(exc)
            assert str(path) in str(exc), str(exc)


def _mostly(
    valid: st.SearchStrategy[str], hostile: st.SearchStrategy[str]
) -> st.SearchStrategy[str]:
    """A field valid 9 times in 10 (so that whole tables are accepted too), else hostile."""
    return st.integers(0, 9).flatmap(lambda k: hostile if k == 0 else valid)


NUMBER = _mostly(
    st.floats(-8, 8, allow_nan=False).map(lambda x: f"{x:.3f}"),
    st.sampled_from(["nan", "inf", "-inf", "1e400", "abc", "", "2,5", "0x10", "1_000", "-0"]),
)
COPIES = _mostly(st.floats(0, 40, allow_nan=False).map(lambda x: f"{x:.2f}"), NUMBER)
INT = st.one_of(
    st.integers(-5, 250_000_000).map(str),
    st.sampled_from(["", "1.5", "1e6", "x", "9" * 30, "9" * 5000, "2147483648"]),
)
PROBES = _mostly(st.integers(0, 5000).map(str), INT)
CN_CHROM = _mostly(
    st.sampled_from(["7", "9", "17"]),
    st.sampled_from(["chr7", "X", "MT", "GL000192.1", "", "7 ", "Z", "chrUn_gl000220"]),
)
GENE = _mostly(
    st.sampled_from(["ERBB2", "EGFR", "CDKN2A", "NOTAREALGENE1", "RP11-34P13.7", "MET"]),
    st.sampled_from(["egfr x", "", "A" * 70, "ERBB2;", "ERBB2\r", "é"]),
)
CALL = _mostly(st.sampled_from(CALLS), st.sampled_from(["homdel", "", "AMP", "Amplification"]))


@st.composite
def cn_table(draw: st.DrawFn, genes: bool) -> str:
    if genes:
        lines = ["gene\tchrom\tstart\tend\tlog2\tcopy_number\tcall"]
    else:
        lines = ["chrom\tstart\tend\tlog2\tcopy_number\tprobes"]
    if draw(st.integers(0, 20)) == 0:
        lines[0] = lines[0].replace("\t", " ")
    start = 0
    for _ in range(draw(st.integers(0, 6))):
        # mostly sorted, non-overlapping segments; now and then overlapping, unsorted,
        # empty or not numbers at all
        if draw(st.integers(0, 5)):
            s = start + draw(st.integers(-2000, 5000))
            e = s + draw(st.integers(-10, 100_000))
            start = max(start, e)
            s_txt, e_txt = str(s), str(e)
        else:
            s_txt, e_txt = draw(INT), draw(INT)
        chrom = draw(CN_CHROM)
        if genes:
            row = [draw(GENE), chrom, s_txt, e_txt, draw(NUMBER), draw(COPIES), draw(CALL)]
        else:
            row = [chrom, s_txt, e_txt, draw(NUMBER), draw(COPIES), draw(PROBES)]
        if draw(st.integers(0, 30)) == 0:
            row.append("extra")
        if draw(st.integers(0, 60)) == 0:
            row[-1] += "9" * (1 << 20)  # a huge line
        lines.append("\t".join(row))
    return "\n".join(lines) + ("\n" if draw(st.booleans()) else "")


def _check_cn(path: Path, genes: bool) -> None:
    lengths = BUILD_LENGTHS["GRCh37"]
    if genes:
        rows = read_genes(path, "GRCh37", "ensembl")
        assert len({r["gene"] for r in rows}) == len(rows)
        assert all(r["call"] in CALLS for r in rows)
    else:
        rows = read_segments(path, "GRCh37", "ensembl")
        last: dict[str, int] = {}
        for r in rows:
            assert r["start"] >= last.get(r["chrom"], 0), rows
            last[r["chrom"]] = r["end"]
    for r in rows:
        assert 0 <= r["start"] < r["end"] <= lengths.get(r["chrom"], r["end"])
        assert math.isfinite(r["log2"]) and math.isfinite(r["copy_number"])
        assert r["copy_number"] >= 0
    rows_to_table("copy_number_genes" if genes else "copy_number_segments", rows)


@SOMATIC
@given(data=st.data(), genes=st.booleans())
def test_any_copy_number_table_reads_or_is_refused_in_one_line(
    data: st.DataObject, genes: bool
) -> None:
    text = data.draw(cn_table(genes))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / ("x.genes.tsv" if genes else "x.segments.tsv")
        path.write_text(text)
        try:
            with within():
                _check_cn(path, genes)
        except OWN_ERRORS as exc:
            one_line(exc)
            assert str(path) in str(exc), str(exc)
