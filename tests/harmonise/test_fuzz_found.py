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
