"""Bugs the fuzz suite (tests/fuzz/) found, each kept as a test named after what broke."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from harmonise.vcf import ReadStats, read_variants

HEADER = (
    "##fileformat=VCFv4.2\n##contig=<ID=1,length=1000>\n"
    '##FORMAT=<ID=GT,Number=1,Type=String,Description="g">\n'
    "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tT\tN\n"
)


def test_record_without_sample_columns_in_a_file_with_samples_reads_as_missing(
    tmp_path: Path,
) -> None:
    """An 8-column record in a VCF whose header names samples raised pysam's bare
    IndexError ("Invalid sample index") out of the reader (engines auto and pysam);
    bcftools reads it with the samples' values missing, and now every engine does."""
    path = tmp_path / "eight.vcf"
    path.write_text(
        HEADER + "1\t10\t.\tC\tT\t50\tPASS\t.\tGT\t0/1\t0/0\n1\t20\t.\tC\tT\t50\tPASS\t.\n"
    )
    got = {}
    for engine in ("auto", "pysam", "bcftools"):
        tables = list(read_variants(path, engine=engine, stats=ReadStats()))  # type: ignore[arg-type]
        got[engine] = pa.concat_tables(tables).select(["pos", "genotype", "depth"]).to_pylist()
    assert got["auto"] == got["pysam"] == got["bcftools"]
    assert got["auto"][1] == {"pos": 20, "genotype": None, "depth": None}


DEEP = b"[" * 100_000


def test_deeply_nested_json_is_refused_in_one_line_not_a_recursion_error(tmp_path: Path) -> None:
    """`[[[[…` 100,000 deep raised RecursionError out of the manifest, FHIR and
    provenance readers (a bare Python error with a traceback, not a refusal)."""
    from harmonise.errors import FhirError
    from harmonise.fhir import read_resources
    from metadata.errors import ManifestFileError
    from metadata.manifest import load_manifest

    manifest = tmp_path / "manifest.json"
    manifest.write_bytes(DEEP)
    with pytest.raises(ManifestFileError, match=r"manifest\.json: JSON nested too deeply"):
        load_manifest(manifest)
    for name in ("clinical.json", "clinical.ndjson"):
        (tmp_path / name).write_bytes(DEEP)
        with pytest.raises(FhirError, match=rf"{name}(, line 1)?: JSON nested too deeply"):
            read_resources(tmp_path / name)


def _bundle_with_provenance(tmp_path: Path, content: bytes) -> Path:
    import json

    from tests.fuzz.bundles import file_entry, write_bundle

    bundle = tmp_path / "bundle"
    bundle.mkdir()
    m = write_bundle(bundle)
    (bundle / "provenance" / "provenance.json").write_bytes(content)
    m["files"] = [file_entry(bundle, e["path"]) for e in m["files"]]
    (bundle / "manifest.json").write_text(json.dumps(m))
    return bundle


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (DEEP, "is nested too deeply to read"),
        (b"not json", r"is not valid JSON \(line 1, column 1"),
        (b"\xff\xfe", "is not UTF-8 text"),
        (b"[]", "is a JSON list, not an object"),
    ],
)
def test_bad_provenance_json_in_a_bundle_is_refused_as_a_bundle_error(
    tmp_path: Path, content: bytes, message: str
) -> None:
    """A bundle's provenance.json (checksummed, so the centre's own) that was not a JSON
    object raised JSONDecodeError, UnicodeDecodeError, RecursionError or AttributeError
    ('list' object has no attribute 'get') out of ingest."""
    from harmonise.errors import BundleError
    from harmonise.ingest import prepare

    with pytest.raises(BundleError, match=rf"provenance\.json: provenance\.json {message}"):
        prepare(_bundle_with_provenance(tmp_path, content))


def test_provenance_reference_of_another_shape_is_ignored_not_a_crash(tmp_path: Path) -> None:
    """`"reference": []` or contigs of numbers in provenance.json raised AttributeError /
    TypeError in ingest; the contig names are used only when they are a list of names."""
    from harmonise.bundle import provenance_contigs
    from harmonise.ingest import prepare

    assert provenance_contigs({"reference": []}) is None
    assert provenance_contigs({"reference": {"contigs": [1, "2"]}}) is None
    assert provenance_contigs({"reference": {"contigs": ["1", "2"]}}) == ["1", "2"]
    prepare(_bundle_with_provenance(tmp_path, b'{"reference": ["x"]}'))


def test_patient_without_id_is_refused_not_a_key_error(tmp_path: Path) -> None:
    """A Patient resource without `id` (valid FHIR) raised KeyError: 'id' in the mapping."""
    import json

    from harmonise.errors import FhirError
    from harmonise.fhir import map_resources, read_resources

    path = tmp_path / "clinical.ndjson"
    path.write_text(json.dumps({"resourceType": "Patient", "gender": "female"}) + "\n")
    with pytest.raises(FhirError, match=r"clinical\.ndjson, line 1: a Patient without id"):
        map_resources(read_resources(path))


def test_invalid_fhir_string_is_refused_in_one_line(tmp_path: Path) -> None:
    """A Coding.display of "" was refused with pydantic's message quoting FHIR's string
    pattern '[ \\r\\n\\t\\S]+' with its real line break: a two-line error."""
    import json

    from harmonise.errors import FhirError
    from harmonise.fhir import read_resources

    path = tmp_path / "clinical.json"
    coding = {"system": "http://snomed.info/sct", "code": "1", "display": ""}
    path.write_text(
        json.dumps({"resourceType": "Patient", "id": "p", "maritalStatus": {"coding": [coding]}})
    )
    with pytest.raises(FhirError) as info:
        read_resources(path)
    assert "\n" not in str(info.value) and "\r" not in str(info.value)
    assert "maritalStatus.coding.0.display" in str(info.value)


# -- issue 23's readers (tests/fuzz/test_fuzz_somatic.py) ----------------------------------


@pytest.mark.parametrize(
    ("info", "message"),
    [
        ("SVTYPE=DEL;END=200;PE=99999999999",
         r"field INFO/PE: '99999999999' is out of range \(at most 2147483647\)"),
        ("SVTYPE=DEL;END=200;SR=" + "9" * 5000, r"field INFO/SR: '9{40}' is out of range"),
        ("SVTYPE=INS;SVLEN=" + "9" * 25, r"field INFO/SVLEN: '9{25}' is out of range"),
        ("SVTYPE=DEL;END=" + "9" * 5000, r"field INFO/END: '9{40}' is out of range"),
    ],
    ids=["pe-past-32-bits", "sr-of-5000-digits", "svlen-past-64-bits", "end-of-5000-digits"],
)  # fmt: skip
def test_sv_integer_fields_past_the_lake_columns_are_refused_not_an_overflow(
    tmp_path: Path, info: str, message: str
) -> None:
    """A structural VCF's PE/SR past 32 bits or SVLEN past 64 bits was accepted by
    read_structural and then raised pyarrow's bare ArrowInvalid / OverflowError from
    ingest's row conversion; an integer of 5,000 digits raised Python's ValueError
    ("Exceeds the limit (4300 digits)"). Each is now the reader's one-line refusal."""
    from harmonise.errors import VcfFormatError
    from harmonise.ingest.tables import rows_to_table
    from harmonise.structural import read_structural
    from tests.harmonise.genomic_fixtures import sv_vcf_text, write_sv_vcf

    path = write_sv_vcf(tmp_path / "sv.vcf.gz", sv_vcf_text([("7", "100", ".", "A", "<DEL>"
                        if "DEL" in info else "<INS>", "PASS", info)]))  # fmt: skip
    with pytest.raises(VcfFormatError, match=rf"sv\.vcf\.gz, line \d+, record 7:100: {message}"):
        read_structural(path, "GRCh37", "ensembl")
    ok = write_sv_vcf(tmp_path / "ok.vcf.gz", sv_vcf_text([("7", "100", ".", "A", "<DEL>",
                      "PASS", "SVTYPE=DEL;END=200;PE=2147483647")]))  # fmt: skip
    rows = [r.row() for r in read_structural(ok, "GRCh37", "ensembl").records]
    assert rows_to_table("structural_variants", rows).column("pe").to_pylist() == [2147483647]


def test_sv_mate_position_of_5000_digits_is_refused_in_one_line(tmp_path: Path) -> None:
    """A breakend ALT whose mate position has 5,000 digits raised Python's ValueError."""
    from harmonise.errors import VcfFormatError
    from harmonise.structural import read_structural
    from tests.harmonise.genomic_fixtures import sv_vcf_text, write_sv_vcf

    alt = "T]15:" + "9" * 5000 + "]"
    path = write_sv_vcf(
        tmp_path / "sv.vcf.gz", sv_vcf_text([("7", "100", ".", "A", alt, "PASS", "SVTYPE=BND")])
    )
    with pytest.raises(VcfFormatError, match=r"field ALT \(the mate's position\): '9{40}' is out"):
        read_structural(path, "GRCh37", "ensembl")


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("7\t0\t100\t0.1\t2.0\t2147483648",
         r"line 2: column probes: '2147483648' is not a whole number from 0 to 2147483647"),
        ("7\t0\t100\t0.1\t2.0\t" + "9" * 5000, r"line 2: column probes: '9{40}' is not"),
        ("7\t" + "9" * 5000 + "\t100\t0.1\t2.0\t3",
         r"line 2: column start: '9{40}' is not a whole number ≥ 0 \(at most 18 digits\)"),
        ("GL000192.1\t0\t" + "9" * 30 + "\t0.1\t2.0\t3", r"line 2: column end: '9{30}' is not"),
    ],
    ids=["probes-past-32-bits", "probes-of-5000-digits", "start-of-5000-digits",
         "end-past-64-bits-on-an-unsized-contig"],
)  # fmt: skip
def test_cn_integers_past_the_lake_columns_are_refused_not_an_overflow(
    tmp_path: Path, row: str, message: str
) -> None:
    """A segment's probes past 32 bits (or an end past 64 bits on a contig of no known
    length) passed read_segments and overflowed at ingest's row conversion; a number of
    5,000 digits raised Python's ValueError. Each is now the reader's one-line refusal."""
    from harmonise.copy_number import read_segments
    from harmonise.errors import ResultFileError

    path = tmp_path / "x.segments.tsv"
    path.write_text("chrom\tstart\tend\tlog2\tcopy_number\tprobes\n" + row + "\n")
    with pytest.raises(ResultFileError, match=rf"x\.segments\.tsv, {message}") as err:
        read_segments(path, "GRCh37", "ensembl")
    assert len(str(err.value)) < 300
