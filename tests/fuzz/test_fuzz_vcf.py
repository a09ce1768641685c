"""Fuzzing the VCF reader (harmonise/vcf/): any file, text or BGZF or plain gzip, whole or
cut, either reads or is refused with the project's own one-line error; nothing else is
raised, no example hangs, nothing is left behind (no index, no temporary file)."""

from __future__ import annotations

import gzip
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pysam
from hypothesis import given
from hypothesis import strategies as st

from consent.errors import ConsentError
from harmonise.errors import HarmoniseError
from harmonise.vcf import ReadStats, check_reference, read_header, read_variants
from metadata.errors import ManifestValidationError, MetadataError
from tests.fuzz.conftest import FUZZ, within

#: The project's own error types: what a refusal may raise.
OWN_ERRORS = (HarmoniseError, MetadataError, ConsentError)

META = st.sampled_from(
    [
        '##INFO=<ID=DP,Number=1,Type=Integer,Description="depth">',
        '##INFO=<ID=AF,Number=A,Type=Float,Description="af">',
        '##INFO=<ID=SOMATIC,Number=0,Type=Flag,Description="s">',
        '##INFO=<ID=BCSQ,Number=.,Type=String,Description="Format: '
        'Consequence|gene|transcript|biotype|strand|amino_acid_change|dna_change">',
        "##INFO=<ID=CSQ,Number=.,Type=String,Description="
        '"Format: Allele|Consequence|SYMBOL|HGVSp">',
        '##INFO=<ID=ANN,Number=.,Type=String,Description="Functional annotations">',
        '##INFO=<ID=DP,Number=Q,Type=Integer,Description="bad number">',
        '##INFO=<ID=X,Number=1,Type=Foo,Description="bad type">',
        '##INFO=<ID=F,Number=1,Type=Flag,Description="flag with a number">',
        "##INFO=<ID=NODESC,Number=1,Type=String>",
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="genotype">',
        '##FORMAT=<ID=AD,Number=R,Type=Integer,Description="depths">',
        '##FORMAT=<ID=DP,Number=1,Type=Integer,Description="depth">',
        '##FORMAT=<ID=AF,Number=A,Type=Float,Description="af">',
        "##reference=GRCh37",
        "##reference=file:///ref/hg38.fa",
        '##FILTER=<ID=q10,Description="low">',
        "##contig=<ID=1,length=249250621>",
        "##contig=<ID=1,length=200000>",
        "##contig=<ID=chr1,length=248956422>",
        "##contig=<ID=7>",
        "##contig=<ID=7,length=x>",
        "##contig=<ID=X,length=156040895,assembly=GRCh38>",
        "##contig=<ID=chrUn_gl000220,length=161802>",
        "##note=" + "n" * 300,
        "##",
        "#",
        "##fileformat=VCFv4.4",
    ]
)
CHROM = st.sampled_from(
    ["1", "7", "X", "chr1", "chrUn_gl000220", "GL000220.1", "", "1 2", "é", "MT"]
)
POS = st.one_of(
    st.integers(-10, 300_000_000).map(str),
    st.sampled_from(["0", "-5", "1e3", "", "abc", "2147483648", "9" * 25, "100000000000000000000"]),
)
REF = st.one_of(
    st.sampled_from(["A", "C", "N", "a", ".", "", "X", "<DEL>"]),
    st.text(alphabet="ACGTN", min_size=1, max_size=40),
)
ALT = st.one_of(
    st.sampled_from([".", "T", "T,G", "<DEL>", "*", "A[1:100[", "T,", ",", "C,<NON_REF>", "t"]),
    st.text(alphabet="ACGTN,", max_size=30),
)
QUAL = st.sampled_from([".", "50", "1e400", "nan", "-1", "x", "0.5", ""])
FILTER = st.sampled_from([".", "PASS", "q10;s50", "", "PASS;PASS"])
INFO_PART = st.sampled_from(
    [
        "DP=10", "DP=x", "DP=", "AF=0.5,0.3", "AF=.", "SOMATIC", "DP", "UNDECLARED=1",
        "BCSQ=missense|BRAF|ENST00000288602|protein_coding|-|600V>600E|1799T>A",
        "BCSQ=@123", "CSQ=T|missense_variant|BRAF|p.Val600Glu", "CSQ=|||", "ANN=T|x|HIGH|BRAF",
        "ANN=" + "|" * 20, "=", ";", "AF=1e999",
    ]
)  # fmt: skip
FORMAT = st.sampled_from(["GT", "GT:AD", "GT:AD:DP", "AD", "GT:AF", "", "GT:GT", "."])
SAMPLE = st.sampled_from(
    ["0/1", "1|0", ".", "0/1:10,5", "0/1:10", "./.:.:.", "0/1:a,b", "2/3:1,2,3,4", "", "0/1:5,5:10"]
)


@st.composite
def vcf_text(draw: st.DrawFn) -> str:
    lines = ["##fileformat=VCFv4.2"] if draw(st.integers(0, 9)) else []
    lines += draw(st.lists(META, max_size=8))
    n_samples = draw(st.sampled_from([0, 1, 2, 2, 3]))
    cols = ["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO"]
    if n_samples:
        cols += ["FORMAT", *(["T", "N", "X"][:n_samples])]
    if draw(st.integers(0, 9)) == 0:
        cols = cols[: draw(st.integers(1, len(cols)))]
    lines.append("\t".join(cols))
    for _ in range(draw(st.integers(0, 6))):
        info = ";".join(draw(st.lists(INFO_PART, max_size=3))) or "."
        rec = [draw(CHROM), draw(POS), ".", draw(REF), draw(ALT), draw(QUAL), draw(FILTER), info]
        if n_samples:
            rec.append(draw(FORMAT))
            rec += [draw(SAMPLE) for _ in range(n_samples)]
        if draw(st.integers(0, 9)) == 0:
            rec = rec[: draw(st.integers(1, len(rec)))]
        lines.append("\t".join(rec))
    text = "\n".join(lines) + ("\n" if draw(st.booleans()) else "")
    if draw(st.integers(0, 4)) == 0:  # a byte-level change: cut, insert, tabs to spaces
        at = draw(st.integers(0, len(text)))
        text = draw(
            st.sampled_from(
                [
                    text[:at],
                    text[:at] + draw(st.text(max_size=5)) + text[at:],
                    text.replace("\t", " ", 1),
                ]
            )
        )
    return text


def _write(folder: Path, text: str, how: str) -> Path:
    data = text.encode("utf-8", "surrogatepass")
    if how == "plain":
        path = folder / "in.vcf"
        path.write_bytes(data)
    elif how == "gzip":
        path = folder / "in.vcf.gz"
        path.write_bytes(gzip.compress(data))
    else:
        plain = folder / "plain.vcf"
        plain.write_bytes(data)
        path = folder / "in.vcf.gz"
        pysam.tabix_compress(str(plain), str(path), force=True)
        plain.unlink()
        if how == "bgzf-cut":
            blob = path.read_bytes()
            path.write_bytes(blob[: max(0, len(blob) - 30)])
    return path


def one_line(exc: BaseException) -> None:
    """A refusal is one line; a manifest's is one line per problem (``  - path: what``)."""
    message = str(exc)
    assert "Traceback" not in message
    if isinstance(exc, ManifestValidationError):
        _head, *issues = message.split("\n")
        assert issues and all(i.startswith("  - ") for i in issues), message
        return
    assert "\n" not in message, message


def _one_line(exc: BaseException, path: Path) -> None:
    one_line(exc)
    message = str(exc)
    assert str(path) in message or path.name in message, message


@FUZZ
@given(
    text=vcf_text(),
    how=st.sampled_from(["plain", "bgzf", "bgzf", "gzip", "bgzf-cut"]),
    engine=st.sampled_from(["auto", "auto", "pysam"]),
    build=st.sampled_from(["GRCh37", "GRCh38"]),
    naming=st.sampled_from(["ensembl", "ucsc", None]),
)
def test_any_vcf_reads_or_is_refused_in_one_line(
    text: str, how: str, engine: str, build: str, naming: str | None
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "in"
        scratch = Path(tmp) / "scratch"
        folder.mkdir()
        scratch.mkdir()
        path = _write(folder, text, how)
        before = sorted(folder.iterdir())
        saved = tempfile.tempdir
        tempfile.tempdir = str(scratch)  # whatever the reader makes must be gone after
        try:
            with within():
                header = read_header(path)
                if naming is not None:
                    check_reference(header, build, naming)
                rows = 0
                for table in read_variants(
                    path,
                    build=build,
                    engine=engine,
                    naming=naming,
                    stats=ReadStats(),  # type: ignore[arg-type]
                ):
                    rows += table.num_rows
        except OWN_ERRORS as exc:
            _one_line(exc, path)
        finally:
            tempfile.tempdir = saved
        assert sorted(folder.iterdir()) == before
        assert list(scratch.iterdir()) == []


def _outcome(path: Path, engine: str, build: str, naming: str | None) -> tuple[str, object]:
    try:
        tables = list(
            read_variants(path, build=build, engine=engine, naming=naming, stats=ReadStats())  # type: ignore[arg-type]
        )
    except OWN_ERRORS as exc:
        one_line(exc)
        return "refused", None
    rows = pa.concat_tables(tables).to_pylist() if tables else []
    for r in rows:  # the one known difference: pysam returns QUAL rounded to float32
        if r.get("qual") is not None:
            r["qual"] = float(np.float32(r["qual"]))
    return "read", rows


@FUZZ
@given(
    text=vcf_text(),
    how=st.sampled_from(["plain", "bgzf"]),
    build=st.sampled_from(["GRCh37", "GRCh38"]),
    naming=st.sampled_from(["ensembl", None]),
)
def test_any_vcf_is_read_as_pysam_reads_it_or_refused_by_both(
    text: str, how: str, build: str, naming: str | None
) -> None:
    """The `auto` engine (the text engine where it can) reads what htslib through pysam
    reads, row for row, and refuses what it refuses (issue 19: "every input either
    ingested identically to pysam's reading or refused")."""
    with tempfile.TemporaryDirectory() as tmp, within():
        path = _write(Path(tmp), text, how)
        assert _outcome(path, "auto", build, naming) == _outcome(path, "pysam", build, naming)
