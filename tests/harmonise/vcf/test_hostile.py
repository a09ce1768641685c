"""Hostile VCFs, generated here: each is read (as pysam reads it) or refused with one line
naming the file and where, and none hangs (issue 19)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

import harmonise.vcf.source as vcf_source
from harmonise.errors import ContigError, GenomeBuildError, HarmoniseError, VcfFormatError
from harmonise.vcf import (
    ReadStats,
    VcfSource,
    check_reference,
    read_header,
    read_many,
    read_variants,
)

HEADER = (
    "##fileformat=VCFv4.2\n##contig=<ID=1,length=249250621>\n"
    '##INFO=<ID=X,Number=1,Type=String,Description="x">\n'
    '##FORMAT=<ID=GT,Number=1,Type=String,Description="g">\n'
    "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tT\n"
)


def _rec(pos: int | str, alt: str = "T", info: str = ".", chrom: str = "1") -> str:
    return f"{chrom}\t{pos}\t.\tC\t{alt}\t50\tPASS\t{info}\tGT\t0/1\n"


def _bgzip(tmp: Path, name: str, text: str) -> Path:
    plain = tmp / name
    plain.write_text(text)
    subprocess.run(["bgzip", "-f", str(plain)], check=True)
    return tmp / f"{name}.gz"


def _outcome(path: Path, engine: str = "auto") -> tuple[str, Any]:
    """("ok", rows) or ("refused", message) of reading ``path``."""
    try:
        tables = list(read_variants(path, engine=engine, stats=ReadStats()))  # type: ignore[arg-type]
    except HarmoniseError as exc:
        message = str(exc)
        assert "\n" not in message and str(path) in message, message
        return "refused", message
    return "ok", pa.concat_tables(tables).to_pylist() if tables else []


# -- issue 19, 1: a line longer than the header scan's read-ahead --------------------------


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    ("what", "body"),
    [
        ("a 1 MiB ALT", lambda: HEADER + _rec(200, alt="C" + "A" * (1 << 20)) + _rec(300)),
        ("an 8 MiB INFO", lambda: HEADER + _rec(200, info="X=" + "A" * (8 << 20)) + _rec(300)),
        (
            "a 300 KB header line",
            lambda: (
                HEADER.replace("##contig", "##note=" + "n" * 300_000 + "\n##contig")
                + _rec(200)
                + _rec(300)
            ),
        ),
    ],
)
def test_bgzf_vcf_with_a_long_first_line_is_read_not_spun_on(
    tmp_path: Path, what: str, body: Any
) -> None:
    """Reading the header stopped inflating once 64 KiB sat in its buffer without a newline
    and searched the same bytes forever; now every line length ends the scan, and the file
    reads as pysam reads it, through read_variants and read_many (the ingest path)."""
    path = _bgzip(tmp_path, "long.vcf", body())
    header = read_header(path)
    assert header.samples == ("T",), what
    auto, ref = _outcome(path), _outcome(path, "pysam")
    assert auto[0] == ref[0] == "ok", (auto, ref)
    assert [r["pos"] for r in auto[1]] == [r["pos"] for r in ref[1]] == [200, 300]
    [(rows, stats)] = read_many([VcfSource(str(path))])
    assert rows.column("pos").to_pylist() == [200, 300] and stats.records == 2


@pytest.mark.timeout(60)
def test_header_longer_than_the_bound_is_refused_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A header over MAX_HEADER_BYTES (64 MiB; lowered here) is refused naming the line,
    not held in memory."""
    monkeypatch.setattr(vcf_source, "MAX_HEADER_BYTES", 1 << 20)
    text = HEADER.replace("##contig", "##note=" + "n" * (2 << 20) + "\n##contig") + _rec(200)
    path = _bgzip(tmp_path, "huge.vcf", text)
    with pytest.raises(VcfFormatError, match=r"huge\.vcf\.gz, header line 2: .*longer than 1 MiB"):
        read_header(path)


# -- issue 19, 3: contig names and positions, with or without ##contig lines ---------------

NO_CONTIGS = HEADER.replace("##contig=<ID=1,length=249250621>\n", "")


@pytest.mark.parametrize("engine", ["auto", "pysam"])
def test_chr_prefixed_records_under_an_ensembl_manifest_are_refused(
    tmp_path: Path, engine: str
) -> None:
    """Without ##contig lines nothing checked the records' names: chr1 records under a
    manifest declaring ensembl names were stored as GRCh37:chr1:… beside GRCh37:1:…."""
    path = tmp_path / "chr.vcf"
    path.write_text(NO_CONTIGS + _rec(100) + _rec(200, chrom="chr1"))
    with pytest.raises(ContigError, match=r"chr\.vcf, line 6 \(record 2, chr1:200\), field CHROM: "
                       r"'chr1' is a ucsc name but the manifest declares ensembl"):  # fmt: skip
        list(read_variants(path, build="GRCh37", engine=engine, naming="ensembl"))  # type: ignore[arg-type]
    ucsc = tmp_path / "ucsc.vcf"
    ucsc.write_text(NO_CONTIGS + _rec(100, chrom="chr1") + _rec(200, chrom="X"))
    with pytest.raises(ContigError, match=r"record 2, X:200\), field CHROM: 'X' is a ensembl"):
        list(read_variants(ucsc, build="GRCh37", engine=engine, naming="ucsc"))  # type: ignore[arg-type]


@pytest.mark.parametrize("engine", ["auto", "pysam", "bcftools"])
def test_pos_past_the_contig_is_refused(tmp_path: Path, engine: str) -> None:
    """POS 300,000,000 on contig 1 was accepted, past both the header's length (200,000)
    and GRCh37's (249,250,621); without ##contig lines the build's length bounds it."""
    cut = tmp_path / "cut.vcf"
    cut.write_text(
        HEADER.replace("length=249250621", "length=200000") + _rec(100) + _rec(300_000_000)
    )
    with pytest.raises(ContigError, match=r"record 2, 1:300000000\), field POS: 300000000 is "
                       r"past the end of contig '1' \(200,000 bp\)"):  # fmt: skip
        list(read_variants(cut, engine=engine))  # type: ignore[arg-type]
    bare = tmp_path / "bare.vcf"
    bare.write_text(NO_CONTIGS + _rec(100) + _rec(249_250_622) + _rec(249_250_623))
    with pytest.raises(ContigError, match=r"record 3, 1:249250623\), field POS: .*249,250,621 bp"):
        list(read_variants(bare, build="GRCh37", engine=engine, naming="ensembl"))  # type: ignore[arg-type]
    ok = list(read_variants(bare, build="GRCh38", engine=engine))  # type: ignore[arg-type]
    assert sum(t.num_rows for t in ok) == 3, "no naming stated: the build is not assumed"


def test_contig_lengths_of_no_build_longer_than_the_builds_are_refused(tmp_path: Path) -> None:
    """A header whose contig is longer than the manifest's build's and of no known build
    was accepted as that build; one shorter (a reference cut to regions) still passes."""
    path = tmp_path / "odd.vcf"
    path.write_text(HEADER.replace("length=249250621", "length=250000000") + _rec(100))
    with pytest.raises(GenomeBuildError, match=r"length=250000000>: the length is that of no "
                       r"known build and longer than GRCh38's \(248956422\)"):  # fmt: skip
        check_reference(read_header(path), "GRCh38", "ensembl")
    cut = tmp_path / "cut.vcf"
    cut.write_text(HEADER.replace("length=249250621", "length=200000") + _rec(100))
    check_reference(read_header(cut), "GRCh38", "ensembl")


def test_bundle_with_chr_records_and_no_contig_lines_is_refused_at_ingest(
    tmp_path: Path, ingest_lake: Any
) -> None:
    """Through the hub's ingest: the manifest's contig naming reaches the record checks."""
    from harmonise.ingest import ingest
    from tests.harmonise.test_ingest_inputs import _make

    text = NO_CONTIGS.replace("\tT\n", "\tT-001\tN-001\n").replace(
        "##INFO", "##reference=GRCh37\n##INFO"
    ) + "".join(
        f"{c}\t{p}\t.\tC\tT\t50\tPASS\t.\tGT\t0/1\t0/0\n" for c, p in (("7", 100), ("chr7", 200))
    )
    vcf = _bgzip(tmp_path, "P001.somatic.annotated.vcf", text)
    bundle = _make(tmp_path / "b", vcf)
    before = ingest_lake.current_version()
    with pytest.raises(ContigError, match=r"chr7:200\), field CHROM: 'chr7' is a ucsc name"):
        ingest(ingest_lake, bundle)
    assert ingest_lake.current_version() == before


# -- issue 19, 6: plain gzip, POS out of range, htslib's own messages -------------------------


def test_plain_gzip_vcf_is_refused_as_plain_gzip_not_as_cut_short(tmp_path: Path) -> None:
    import gzip

    path = tmp_path / "plain.vcf.gz"
    path.write_bytes(gzip.compress((HEADER + _rec(100)).encode()))
    for engine in ("auto", "pysam", "bcftools"):
        state, message = _outcome(path, engine)
        assert state == "refused"
        assert "compressed with plain gzip, not BGZF" in message and "cut short" not in message
    with pytest.raises(VcfFormatError, match="plain gzip"):
        read_header(path)  # at the centre too: `oncolake submit` reads the header


@pytest.mark.parametrize("compressed", [False, True])
@pytest.mark.parametrize("engine", ["auto", "pysam", "bcftools"])
@pytest.mark.parametrize("pos", ["-5", "100000000000000000000"])
def test_pos_out_of_range_is_refused_naming_the_line(
    tmp_path: Path, pos: str, engine: str, compressed: bool
) -> None:
    """POS -5 or 10^20 was refused as a 'truncated file'; now the message names the line,
    the record and the field."""
    text = HEADER + _rec(100) + _rec(pos) + _rec(300)
    path = _bgzip(tmp_path, "pos.vcf", text) if compressed else tmp_path / "pos.vcf"
    if not compressed:
        path.write_text(text)
    state, message = _outcome(path, engine)
    assert state == "refused"
    assert f"{path}, line 7 (record 2" in message and "field POS" in message, message
    assert "truncated" not in message


def test_htslib_prints_nothing_before_the_one_line_error(tmp_path: Path) -> None:
    """htslib's own [E::…]/[W::…] lines no longer reach stderr (the header was read by
    cyvcf2, whose htslib cannot be silenced; pysam's is)."""
    import sys

    bad_header = tmp_path / "hdr.vcf"
    bad_header.write_text(
        "##fileformat=VCFv4.2\n##INFO=<ID=X,Number=1,Type=Strin\n"
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n1\t5\t.\tA\tC\t.\t.\t.\n"
    )
    bad_record = tmp_path / "rec.vcf"
    bad_record.write_text(HEADER + _rec(100) + "1\tx\n")
    code = (
        "import sys\nfrom harmonise.errors import HarmoniseError\n"
        "from harmonise.vcf import read_variants\n"
        "for p in sys.argv[1:]:\n"
        "    try:\n        list(read_variants(p))\n"
        "    except HarmoniseError as e:\n        print(e)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(bad_header), str(bad_record)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "[E::" not in done.stderr and "[W::" not in done.stderr, done.stderr
    assert "rec.vcf, line 7 (record 2), 2 tab-separated columns" in done.stdout
