"""Every corpus VCF ingests or is refused cleanly; bad inputs are refused with a message
naming file, line/record and field, and leave the lake unchanged; mCODE examples parse."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from harmonise.bundle import SubmitInputs, build_bundle
from harmonise.errors import (
    ChecksumError,
    ConsentMissingError,
    ConsentWithdrawnError,
    ContigError,
    GenomeBuildError,
    HarmoniseError,
    SampleLinkError,
    VcfFormatError,
)
from harmonise.ingest import ingest
from harmonise.lake import Lake
from harmonise.vcf import ReadStats, SampleRoles, check_reference, read_header, read_variants
from tests.harmonise.conftest import (
    JENNY,
    KEY,
    SHARED,
    ingest_consent_resource,
    ingest_draft,
    ingest_shared,
)

CORPUS = SHARED / "vcf-corpus"
CORPUS_FILES = sorted(
    p
    for p in CORPUS.rglob("*")
    if p.is_file() and p.name.endswith((".vcf", ".vcf.gz", ".bcf"))
) if CORPUS.exists() else []  # fmt: skip


def _rel(p: Path) -> str:
    return str(p.relative_to(CORPUS))


@pytest.mark.skipif(not CORPUS_FILES, reason=f"needs {CORPUS} (shared real data), absent here")
@pytest.mark.parametrize("path", CORPUS_FILES, ids=_rel)
def test_corpus_file_ingests_or_is_refused_cleanly(path: Path) -> None:
    stats = ReadStats()
    try:
        tables = list(read_variants(path, stats=stats))
    except HarmoniseError as exc:
        assert str(path) in str(exc), "the error names the file"
        assert "\n" not in str(exc) and "Traceback" not in str(exc)
        return
    rows = pa.concat_tables(tables) if tables else None
    if rows is not None and rows.num_rows:
        assert set(rows.column("variant_class").to_pylist()) <= {
            "SNV", "MNV", "insertion", "deletion", "indel",
        }  # fmt: skip
        assert min(rows.column("pos").to_pylist()) >= 1
        assert all(set(a) <= set("ACGTN") for a in rows.column("alt").to_pylist())
    assert stats.rows == (rows.num_rows if rows is not None else 0)


def test_corpus_hts_specs_failed_files_mostly_refused() -> None:
    failed = [p for p in CORPUS_FILES if "/failed/" in str(p)]
    if not failed:
        pytest.skip("needs the hts-specs conformance suite in ../shared/data/vcf-corpus")
    refused = 0
    for p in failed:
        try:
            list(read_variants(p))
        except HarmoniseError:
            refused += 1
    assert refused >= 30, f"only {refused} of {len(failed)} invalid files refused"


@pytest.mark.parametrize(
    ("content", "field", "error"),
    [
        ("1\t100\t.\tAXG\tT\t.\tPASS\t.\n", "field REF: 'AXG'", VcfFormatError),
        ("1\t100\t.\tA\tTQ\t.\tPASS\t.\n", "field ALT: 'TQ'", VcfFormatError),
        ("2\t100\t.\tA\tT\t.\tPASS\t.\n", "field CHROM: contig '2'", ContigError),
    ],
)
def test_bad_record_names_file_line_and_field(
    tmp_path: Path, content: str, field: str, error: type[Exception]
) -> None:
    p = tmp_path / "bad.vcf"
    header = "##fileformat=VCFv4.2\n##contig=<ID=1,length=249250621>\n"
    header += "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
    p.write_text(header + "1\t50\t.\tA\tC\t.\tPASS\t.\n" + content)
    with pytest.raises(error) as exc:
        list(read_variants(p))
    assert f"{p}, line 5 (record 2, " in str(exc.value) and field in str(exc.value)


def test_truncated_bgzip_is_refused(tmp_path: Path, ingest_tn_vcf: Path) -> None:
    data = ingest_tn_vcf.read_bytes()
    cut = tmp_path / "cut.vcf.gz"
    cut.write_bytes(data[:-28])
    for engine in ("cyvcf2", "bcftools"):
        with pytest.raises(VcfFormatError, match=r"cut\.vcf\.gz.*(truncated|cannot read)"):
            list(read_variants(cut, engine=engine))  # type: ignore[arg-type]


def test_wrong_build_and_contig_naming_refused(ingest_tn_vcf: Path) -> None:
    header = read_header(ingest_tn_vcf)
    with pytest.raises(
        GenomeBuildError,
        match=r"assembly: says .GRCh37 \(b37 names\). but the manifest says GRCh38",
    ):
        check_reference(header, "GRCh38", "ensembl")
    with pytest.raises(ContigError, match="ucsc contig names were declared"):
        check_reference(header, "GRCh37", "ucsc")
    with pytest.raises(ContigError, match=r"ID=7.*not a contig of the reference"):
        check_reference(header, "GRCh37", "ensembl", ["1", "2"])
    check_reference(header, "GRCh37", "ensembl", ["7"])


@pytest.mark.parametrize("engine", ["auto", "pysam"])
def test_contig_lengths_of_the_other_build_are_refused(tmp_path: Path, engine: str) -> None:
    # chromosome 7 is 159,138,663 bp in GRCh37 and 159,345,973 bp in GRCh38
    body = (
        "##fileformat=VCFv4.2\n##contig=<ID=7,length={n}>\n"
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="g">\n'
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tT\n"
        "7\t140453136\t.\tA\tT\t50\tPASS\t.\tGT\t0/1\n"
    )
    grch38 = tmp_path / "grch38.vcf"
    grch38.write_text(body.format(n=159345973))
    header = read_header(grch38)
    assert header.contigs == {"7": 159345973}
    with pytest.raises(
        GenomeBuildError,
        match=r"##contig=<ID=7,length=159345973>: the length is that of GRCh38, not of GRCh37",
    ):
        check_reference(header, "GRCh37", "ensembl")
    check_reference(header, "GRCh38", "ensembl")
    subset = tmp_path / "subset.vcf"  # a reference cut to a region says nothing of the build
    subset.write_text(body.format(n=200000))
    check_reference(read_header(subset), "GRCh37", "ensembl")


def test_bcftools_and_cyvcf2_engines_agree(ingest_tn_vcf: Path) -> None:
    roles = SampleRoles("T-001", "N-001")
    a = pa.concat_tables(list(read_variants(ingest_tn_vcf, roles, "GRCh37", engine="cyvcf2")))
    b = pa.concat_tables(list(read_variants(ingest_tn_vcf, roles, "GRCh37", engine="bcftools")))
    assert a.to_pylist() == b.to_pylist()


def test_multiallelic_split_with_allele_depths(tmp_path: Path) -> None:
    p = tmp_path / "multi.vcf"
    p.write_text(
        "##fileformat=VCFv4.2\n##contig=<ID=1>\n"
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="g">\n'
        '##FORMAT=<ID=AD,Number=R,Type=Integer,Description="a">\n'
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tT\n"
        "1\t10\t.\tA\tC,<DEL>,G\t.\tPASS\t.\tGT:AD\t1/3:10,5,0,5\n"
    )
    stats = ReadStats()
    rows = pa.concat_tables(list(read_variants(p, stats=stats))).to_pylist()
    assert [(r["alt"], r["genotype"], r["alt_depth"], r["depth"]) for r in rows] == [
        ("C", "1/0", 5, 20),
        ("G", "0/1", 5, 20),
    ]
    assert stats.skipped_symbolic == 1


# -- bundles refused at the hub: the lake stays unchanged ----------------------------------


def _make(tmp: Path, vcf: Path, **kw: object) -> Path:
    ingest_shared("mcode")
    consent = kw.pop("consent", [ingest_consent_resource()])
    tmp.mkdir(parents=True, exist_ok=True)
    cfile = tmp / "consent.ndjson"
    cfile.write_text("".join(json.dumps(c) + "\n" for c in consent))  # type: ignore[attr-defined]
    draft = kw.pop("draft", ingest_draft())
    clinical = kw.pop("clinical", [JENNY])
    inputs = SubmitInputs(
        draft,
        vcfs=[vcf],
        clinical=clinical,
        consent=[cfile],
        drop_identifiers=True,  # type: ignore[arg-type]
    )
    bundle, _ = build_bundle(inputs, KEY, tmp / "out")
    return bundle


def _refused(lake: Lake, bundle: Path, error: type[Exception], match: str) -> None:
    before = lake.current_version()
    with pytest.raises(error, match=match):
        ingest(lake, bundle)
    assert lake.current_version() == before


def test_checksum_mismatch_refused(tmp_path: Path, ingest_tn_vcf: Path, ingest_lake: Lake) -> None:
    bundle = _make(tmp_path, ingest_tn_vcf)
    f = bundle / "clinical" / "clinical.ndjson"
    f.write_text(f.read_text().replace('"female"', '"male"  '))
    _refused(ingest_lake, bundle, ChecksumError, r"clinical\.ndjson: SHA-256 .* differs")


def test_missing_and_withdrawn_consent_refused(
    tmp_path: Path, ingest_tn_vcf: Path, ingest_lake: Lake
) -> None:
    b1 = _make(tmp_path / "a", ingest_tn_vcf, consent=[])
    _refused(ingest_lake, b1, ConsentMissingError, r"patient TST-[0-9a-f]+ has no Consent")
    b2 = _make(tmp_path / "b", ingest_tn_vcf, consent=[ingest_consent_resource(status="inactive")])
    _refused(ingest_lake, b2, ConsentWithdrawnError, r"status 'inactive'")


def test_vcf_sample_not_in_manifest_refused(
    tmp_path: Path, ingest_tn_vcf: Path, ingest_lake: Lake
) -> None:
    bundle = _make(tmp_path, ingest_tn_vcf)
    manifest = json.loads((bundle / "manifest.json").read_text())
    manifest["samples"] = manifest["samples"][:1]
    manifest["samples"][0].pop("matched_normal")
    manifest["samples"][0]["no_normal_reason"] = "test"
    (bundle / "manifest.json").write_text(json.dumps(manifest))
    _refused(ingest_lake, bundle, SampleLinkError, r"VCF sample 'TST-[0-9a-f]+' is not a specimen")


def test_wrong_build_bundle_refused(tmp_path: Path, ingest_tn_vcf: Path, ingest_lake: Lake) -> None:
    draft = ingest_draft()
    draft["reference"]["build"] = "GRCh38"
    bundle = _make(tmp_path, ingest_tn_vcf, draft=draft)
    _refused(
        ingest_lake,
        bundle,
        GenomeBuildError,
        "says .GRCh37 \\(b37 names\\). but the manifest says GRCh38",
    )


def test_record_refused_mid_stream_leaves_no_files_and_no_snapshot(
    tmp_path: Path, ingest_tn_vcf: Path, ingest_lake: Lake, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The VCF records stream into the commit: a bad record after thousands of good ones,
    read after several chunks were written to data files, aborts the commit; the files
    are deleted and no table gets a snapshot."""
    import gzip

    import harmonise.lake.writer
    import harmonise.vcf.many
    import harmonise.vcf.text

    monkeypatch.setattr(harmonise.lake.writer, "WRITE_CHUNK_ROWS", 500)  # files written early
    monkeypatch.setattr(harmonise.vcf.many, "MANY_FILE_BYTES", 0)  # streamed, not grouped
    monkeypatch.setattr(harmonise.vcf.text, "TEXT_BLOCK_BYTES", 16 << 10)  # many text batches
    monkeypatch.setattr(harmonise.vcf.text, "NORMALISE_ROWS", 200)
    text = gzip.decompress(ingest_tn_vcf.read_bytes()).decode()
    header = [ln for ln in text.splitlines() if ln.startswith("#")]
    good = [
        f"7\t{55_000_000 + i}\t.\tC\tT\t.\tPASS\t.\tGT:DP:AD\t0/1:40:30,10\t0/0:30:30,0"
        for i in range(5000)
    ]
    bad = "7\t55999999\t.\tCQ\tT\t.\tPASS\t.\tGT:DP:AD\t0/1:40:30,10\t0/0:30:30,0"
    vcf = tmp_path / "P001.somatic.annotated.vcf"
    vcf.write_text("\n".join([*header, *good, bad]) + "\n")
    gz = tmp_path / "P001.somatic.annotated.vcf.gz"
    subprocess.run(["bgzip", "-f", str(vcf)], check=True)
    bundle = _make(tmp_path / "b", gz)

    from harmonise.ingest import prepare

    prep = prepare(bundle)  # headers checked; the records are not read yet
    assert not isinstance(prep.submission.tables["variants"], pa.Table)
    warehouse = Path(ingest_lake.config.warehouse)
    files_before = {p for p in warehouse.rglob("*") if p.is_file()}
    written: list[int] = []
    real_write = harmonise.lake.writer.DataFileWriter.write

    def counting_write(self: Any, data: pa.Table) -> None:
        written.append(data.num_rows)
        real_write(self, data)

    monkeypatch.setattr(harmonise.lake.writer.DataFileWriter, "write", counting_write)
    line = len(header) + len(good) + 1
    where = rf"variants/TST-[0-9a-f]+_TST-[0-9a-f]+\.vcf\.gz, line {line} \(record 5001, "
    _refused(ingest_lake, bundle, VcfFormatError, where + r"7:55999999\), field REF: 'CQ'")
    assert sum(written) >= 1000, "the good records were being written when the bad one came"
    assert {p for p in warehouse.rglob("*") if p.is_file()} == files_before
