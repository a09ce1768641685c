"""The submission manifest: valid and invalid examples, exact messages, schema freshness."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import pydantic
import pytest
from typer.testing import CliRunner

from metadata.errors import ManifestFileError, ManifestValidationError, MetadataError
from metadata.manifest import (
    SCHEMA_PATH,
    load_manifest,
    manifest_digest,
    schema_text,
    validate_manifest,
)
from oncolake.cli import app

DATA = Path(__file__).parent / "data"

INVALID_FIELDS = [
    "centre.country: must be an ISO 3166-1 alpha-2 country code, e.g. 'NL'; got 'Netherlands'",
    "data_controller.contact_email: required field is missing; add it "
    "(`oncolake metadata schema` documents it)",
    "samples[1].sample_type: must be one of 'FFPE', 'fresh_frozen', 'blood', 'saliva' or "
    "'cell_free_dna'; got 'frozen'",
    "pipeline.fingerprint: must be 'sha256:' followed by 64 lower-case hex digits (from the "
    "pipeline's provenance.json); got 'md5:abc'",
    "duo_codes[1]: must be a DUO CURIE such as 'DUO:0000042'; got 'GRU'",
    "files[0].path: must be a relative path inside the bundle, such as 'vcf/P1.vcf.gz' (no "
    "leading '/' or '.', no '..', letters, digits, '_', '.', '-' only); got '/data/NKI-S1.vcf.gz'",
    "sequencer: unknown field; remove it or fix its spelling (`oncolake metadata schema` lists "
    "the allowed fields)",
]

INVALID_CROSS_FIELD = [
    "samples[2].specimen_id: specimen 'NKI-S1-N' is listed twice; give each specimen one entry",
    "samples[0].matched_normal: tumour 'NKI-S1-T' of a somatic dataset has no matched normal; "
    "set matched_normal to the normal's specimen_id, or no_normal_reason to say why there is none",
    "pipeline: variants are present: give the pipeline (fill it from the pipeline's "
    "provenance.json with metadata.provenance.apply_provenance)",
    "samples[0].assay: panel 'TSO500' does not say what it covers; set covered_genes (HGNC "
    "symbols) or regions_bed (a BED file in the bundle)",
    "samples[1].assay.regions_bed: 'assay/missing.bed' is not in files; add it with its sha256",
]


@pytest.mark.parametrize("name", ["valid_somatic_panel", "valid_clinical_only"])
def test_valid_examples_load(name: str) -> None:
    m = load_manifest(DATA / f"{name}.json")
    assert m.format_version == 1


def test_valid_example_fields() -> None:
    m = load_manifest(DATA / "valid_somatic_panel.json")
    assert m.centre.id == "NKI"
    assert m.samples[0].assay.covered_genes == ("BRAF", "KRAS", "EGFR", "TP53")
    assert m.reference is not None and m.reference.build == "GRCh38"
    assert str(m.embargo_until) == "2026-01-01"


@pytest.mark.parametrize(
    ("name", "expected"),
    [("invalid_fields", INVALID_FIELDS), ("invalid_cross_field", INVALID_CROSS_FIELD)],
)
def test_invalid_examples_report_every_problem(name: str, expected: list[str]) -> None:
    path = DATA / f"{name}.json"
    with pytest.raises(ManifestValidationError) as info:
        load_manifest(path)
    assert [str(i) for i in info.value.issues] == expected
    head = f"{path}: {len(expected)} problems in the manifest:"
    assert str(info.value) == head + "\n" + "\n".join(f"  - {e}" for e in expected)


def test_manifest_is_frozen() -> None:
    m = load_manifest(DATA / "valid_clinical_only.json")
    with pytest.raises(pydantic.ValidationError):
        m.title = "changed"  # type: ignore[misc]


def test_errors_are_value_errors() -> None:
    assert issubclass(ManifestValidationError, MetadataError)
    assert issubclass(MetadataError, ValueError)


def test_unknown_format_version_is_refused(valid_manifest: dict[str, Any]) -> None:
    valid_manifest["format_version"] = 2
    with pytest.raises(ManifestValidationError) as info:
        validate_manifest(valid_manifest, "m.json")
    assert str(info.value.issues[0]) == (
        "format_version: unknown format version 2; this oncolake reads 1"
    )


def test_not_an_object_is_refused() -> None:
    with pytest.raises(ManifestValidationError, match="a manifest is a JSON object; got list"):
        validate_manifest([], "m.json")


def test_bad_json_names_line_and_column(tmp_path: Path) -> None:
    p = tmp_path / "manifest.json"
    p.write_text('{\n  "format_version": 1,\n  oops\n}')
    with pytest.raises(ManifestFileError, match=r"not valid JSON \(line 3, column 3"):
        load_manifest(p)


def test_tumour_with_another_patients_normal_is_refused(valid_manifest: dict[str, Any]) -> None:
    valid_manifest["samples"][1]["patient_id"] = "NKI-other"
    with pytest.raises(ManifestValidationError) as info:
        validate_manifest(valid_manifest)
    assert [str(i) for i in info.value.issues] == [
        "samples[0].matched_normal: normal 'NKI-S1-N' belongs to patient 'NKI-other', not to "
        "'NKI-6f1e0c'; match each tumour with its own patient's normal"
    ]


def test_germline_dataset_needs_no_normal(valid_manifest: dict[str, Any]) -> None:
    valid_manifest["analysis"] = "germline"
    del valid_manifest["samples"][0]["matched_normal"]
    assert validate_manifest(valid_manifest).analysis == "germline"


def test_future_collection_year_is_refused(valid_manifest: dict[str, Any]) -> None:
    valid_manifest["samples"][2]["collection_year"] = 2099
    with pytest.raises(ManifestValidationError, match=r"samples\[2\].collection_year: 2099 is in"):
        validate_manifest(valid_manifest)


def test_digest_is_stable_and_changes_with_content(valid_manifest: dict[str, Any]) -> None:
    a = validate_manifest(valid_manifest)
    reordered = dict(reversed(list(copy.deepcopy(valid_manifest).items())))
    assert manifest_digest(validate_manifest(reordered)) == manifest_digest(a)
    valid_manifest["title"] = "another title"
    assert manifest_digest(validate_manifest(valid_manifest)) != manifest_digest(a)


def test_committed_schema_is_current() -> None:
    assert SCHEMA_PATH.read_text() == schema_text(), (
        "metadata/schemas/manifest.v1.schema.json is stale: regenerate it with "
        "`oncolake metadata schema > metadata/schemas/manifest.v1.schema.json`"
    )


def test_schema_accepts_valid_and_rejects_unknown_fields(valid_manifest: dict[str, Any]) -> None:
    schema = json.loads(SCHEMA_PATH.read_text())
    jsonschema.Draft202012Validator(schema).validate(valid_manifest)
    valid_manifest["sequencer"] = "x"
    with pytest.raises(jsonschema.ValidationError, match="sequencer"):
        jsonschema.Draft202012Validator(schema).validate(valid_manifest)


def test_cli_schema_prints_the_committed_schema() -> None:
    result = CliRunner().invoke(app, ["metadata", "schema"])
    assert result.exit_code == 0
    assert result.stdout == SCHEMA_PATH.read_text()


def test_cli_validate_valid() -> None:
    result = CliRunner().invoke(
        app, ["metadata", "validate", str(DATA / "valid_clinical_only.json")]
    )
    assert result.exit_code == 0, result.output
    assert "valid manifest (format version 1, dataset GR-2024-clin, 0 sample(s), 1 file(s))" in (
        result.stdout
    )


def test_cli_validate_lists_every_error_without_traceback() -> None:
    path = DATA / "invalid_cross_field.json"
    result = CliRunner().invoke(app, ["metadata", "validate", str(path)])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    for line in INVALID_CROSS_FIELD:
        assert f"  - {line}\n" in result.stderr
