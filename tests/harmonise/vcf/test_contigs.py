"""Contig lengths and names against the manifest (issue 19, item 3, what was left): a header
cut to regions passes and bounds its records; a header mixing the build's full lengths with
a cut chromosome, and contig names of the other naming (scaffolds and decoys too), are
refused."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from harmonise.errors import ContigError, GenomeBuildError
from harmonise.vcf import ReadStats, check_reference, read_header, read_variants
from harmonise.vcf.reference import BUILD_LENGTHS

FORMAT = '##FORMAT=<ID=GT,Number=1,Type=String,Description="g">\n'
COLUMNS = "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tT\n"


def _vcf(tmp: Path, contigs: dict[str, int | None], records: list[tuple[str, int]]) -> Path:
    lines = ["##fileformat=VCFv4.2\n"]
    for name, length in contigs.items():
        lines.append(f"##contig=<ID={name}{f',length={length}' if length else ''}>\n")
    lines += [FORMAT, COLUMNS]
    lines += [f"{c}\t{p}\t.\tC\tT\t50\tPASS\t.\tGT\t0/1\n" for c, p in records]
    path = tmp / f"v{len(list(tmp.iterdir()))}.vcf"
    path.write_text("".join(lines))
    return path


def _rows(path: Path, build: str, naming: str, engine: str = "auto") -> list[dict[str, object]]:
    tables = list(read_variants(path, build=build, engine=engine, naming=naming, stats=ReadStats()))  # type: ignore[arg-type]
    return pa.concat_tables(tables).to_pylist() if tables else []


@pytest.mark.parametrize("engine", ["auto", "pysam"])
def test_targeted_region_header_passes_and_bounds_its_records(tmp_path: Path, engine: str) -> None:
    """`##contig=<ID=1,length=200000>` (a region file's header) is no build's length but
    shorter than the build's: it passes, and POS is held to 200,000 (+1, the telomere)."""
    ok = _vcf(tmp_path, {"1": 200_000, "7": 160_000}, [("1", 150), ("1", 200_001), ("7", 9)])
    for build in ("GRCh37", "GRCh38"):
        check_reference(read_header(ok), build, "ensembl")
        assert [r["pos"] for r in _rows(ok, build, "ensembl", engine)] == [150, 200_001, 9]
    past = _vcf(tmp_path, {"1": 200_000}, [("1", 150), ("1", 200_002)])
    check_reference(read_header(past), "GRCh38", "ensembl")
    with pytest.raises(ContigError, match=r"1:200002\), field POS: 200002 is past the end of "
                       r"contig '1' \(200,000 bp\)"):  # fmt: skip
        _rows(past, "GRCh38", "ensembl", engine)


def test_cut_chromosome_beside_the_builds_full_lengths_is_refused(tmp_path: Path) -> None:
    """Contig lines of the whole GRCh38 beside a cut chromosome 7 were accepted as GRCh38."""
    g38 = BUILD_LENGTHS["GRCh38"]
    mixed = _vcf(tmp_path, {"1": g38["1"], "7": 200_000}, [("1", 100)])
    expected = (
        r"##contig=<ID=7,length=200000>: shorter than GRCh38's \(159345973\) beside "
        r"##contig=<ID=1> of GRCh38's full length"
    )
    with pytest.raises(GenomeBuildError, match=expected):
        check_reference(read_header(mixed), "GRCh38", "ensembl")
    # the mitochondrion is as long in both builds and in cut references: it says nothing
    with_mt = _vcf(tmp_path, {"MT": 16569, "7": 200_000}, [("7", 100)])
    check_reference(read_header(with_mt), "GRCh38", "ensembl")
    whole = _vcf(tmp_path, {"1": g38["1"], "7": g38["7"]}, [("7", 100)])
    check_reference(read_header(whole), "GRCh38", "ensembl")


@pytest.mark.parametrize("engine", ["auto", "pysam"])
@pytest.mark.parametrize(
    ("naming", "chrom"),
    [
        ("ensembl", "chrUn_gl000220"),
        ("ensembl", "chr1_KI270706v1_random"),
        ("ensembl", "chrEBV"),
        ("ucsc", "GL000220.1"),
        ("ucsc", "KI270706.1"),
        ("ucsc", "hs37d5"),
    ],
)
def test_scaffold_records_of_the_other_naming_are_refused(
    tmp_path: Path, engine: str, naming: str, chrom: str
) -> None:
    """Only primary chromosomes were checked: records on `chrUn_gl000220` under a manifest
    declaring ensembl names were stored as GRCh37:chrUn_gl000220."""
    first = "1" if naming == "ensembl" else "chr1"
    bare = _vcf(tmp_path, {}, [(first, 100), (chrom, 200)])
    with pytest.raises(ContigError, match=rf"record 2, {chrom}:200\), field CHROM: '{chrom}' is "
                       rf"a \w+ name but the manifest declares {naming}"):  # fmt: skip
        _rows(bare, "GRCh37", naming, engine)
    declared = _vcf(tmp_path, {first: None, chrom: 1000}, [(first, 100)])
    with pytest.raises(ContigError, match=rf"##contig=<ID={chrom}>: {naming} contig names"):
        check_reference(read_header(declared), "GRCh37", naming)


def test_names_of_neither_naming_pass_when_declared(tmp_path: Path) -> None:
    """GRCh38's HLA contigs (bwakit's hs38DH, GATK's bundle) have no chr prefix in UCSC-named
    references; they are neither naming and pass."""
    path = _vcf(tmp_path, {"chr1": None, "HLA-A*01:01:01:01": 3503}, [("HLA-A*01:01:01:01", 10)])
    check_reference(read_header(path), "GRCh38", "ucsc")
    assert [r["chrom"] for r in _rows(path, "GRCh38", "ucsc")] == ["HLA-A*01:01:01:01"]
