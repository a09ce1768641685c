"""`oncolake metadata validate` lists every problem in one answer (issue 19, item 6), and
the draft manifest the README shows validates (read from README.md, so it cannot drift)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from metadata.errors import ManifestValidationError
from metadata.manifest import ManifestV1, validate_draft, validate_manifest
from metadata.provenance import apply_provenance
from oncolake.cli import app

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(__file__).parent / "data"
REQUIRED = [n for n, f in ManifestV1.model_fields.items() if f.is_required()]


def _paths(exc: ManifestValidationError) -> list[str]:
    return [i.path for i in exc.issues]


def test_empty_manifest_lists_every_missing_field(tmp_path: Path) -> None:
    """On the old code `{}` gave one line (unknown format version None)."""
    path = tmp_path / "manifest.json"
    path.write_text("{}")
    result = CliRunner().invoke(app, ["metadata", "validate", str(path)])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    lines = [ln for ln in result.stderr.splitlines() if ln.startswith("  - ")]
    named = [ln[4:].split(":", 1)[0] for ln in lines]
    assert named == REQUIRED  # format_version first, then each in the model's order
    assert len(REQUIRED) == 11
    assert f"{path}: 11 problems in the manifest:" in result.stderr
    assert (
        "  - centre: required field is missing; add it, an object with id, name, country"
        in result.stderr
    )


def test_nested_missing_fields_are_named_by_their_path() -> None:
    with pytest.raises(ManifestValidationError) as info:
        validate_manifest({"format_version": 1, "centre": {"id": "NKI"}, "samples": [{}]})
    paths = _paths(info.value)
    for p in ("centre.name", "centre.country", "samples[0].specimen_id", "samples[0].assay"):
        assert p in paths
    assert "centre.id" not in paths


def test_field_errors_do_not_hide_cross_field_problems() -> None:
    """A bad title used to stop the cross-field rules: only the title was reported."""
    data = json.loads((DATA / "invalid_cross_field.json").read_text())
    data["title"] = ""
    with pytest.raises(ManifestValidationError) as info:
        validate_manifest(data)
    assert _paths(info.value) == [
        "title",
        "samples[2].specimen_id",
        "samples[0].matched_normal",
        "pipeline",
        "samples[0].assay",
        "samples[1].assay.regions_bed",
    ]


def test_a_rule_reading_a_bad_field_waits_for_it(valid_manifest: dict[str, Any]) -> None:
    valid_manifest["samples"][0]["collection_year"] = "soon"
    valid_manifest["samples"][2]["specimen_id"] = valid_manifest["samples"][1]["specimen_id"]
    with pytest.raises(ManifestValidationError) as info:
        validate_manifest(valid_manifest)
    assert _paths(info.value) == ["samples[0].collection_year"]


def test_missing_format_version_is_one_of_the_problems(valid_manifest: dict[str, Any]) -> None:
    del valid_manifest["format_version"]
    del valid_manifest["title"]
    with pytest.raises(ManifestValidationError) as info:
        validate_manifest(valid_manifest)
    assert _paths(info.value) == ["format_version", "title"]


def test_unknown_format_version_still_lists_the_rest(valid_manifest: dict[str, Any]) -> None:
    valid_manifest["format_version"] = "one"
    valid_manifest["centre"]["country"] = "Netherlands"
    with pytest.raises(ManifestValidationError) as info:
        validate_manifest(valid_manifest)
    assert str(info.value.issues[0]) == (
        "format_version: unknown format version 'one'; this oncolake reads 1"
    )
    assert _paths(info.value) == ["format_version", "centre.country"]


def _readme_draft() -> dict[str, Any]:
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```json\n(.*?)```", text, flags=re.S)
    drafts = [json.loads(b) for b in blocks if '"format_version"' in b and '"samples"' in b]
    assert len(drafts) == 1, "README.md should show one draft manifest (a ```json block)"
    draft: dict[str, Any] = drafts[0]
    return draft


def test_readme_draft_manifest_validates_as_a_draft() -> None:
    """The README's draft failed validation (files empty; no pipeline, no reference)."""
    draft = _readme_draft()
    validate_draft(draft, "README.md")
    example = json.loads((ROOT / "docs" / "examples" / "draft-manifest.json").read_text())
    assert draft == example, "README.md's draft and docs/examples/draft-manifest.json differ"


def test_readme_draft_completed_as_submit_does_is_valid(provenance: dict[str, Any]) -> None:
    done = apply_provenance(_readme_draft(), provenance)
    done["files"] = [
        {"path": "variants/x.vcf.gz", "sha256": "0" * 64, "size": 1, "format": "format_3016"}
    ]
    assert validate_manifest(done).reference is not None


def test_cli_draft_accepts_the_example_and_refuses_a_real_problem(tmp_path: Path) -> None:
    example = ROOT / "docs" / "examples" / "draft-manifest.json"
    ok = CliRunner().invoke(app, ["metadata", "validate", "--draft", str(example)])
    assert ok.exit_code == 0, ok.output
    assert "valid draft manifest" in ok.stdout
    full = CliRunner().invoke(app, ["metadata", "validate", str(example)])
    assert full.exit_code == 1
    assert "  - files: must list at least 1 item(s); got []" in full.stderr
    bad = json.loads(example.read_text())
    bad["centre"]["country"] = "Netherlands"
    bad["samples"][0]["matched_normal"] = None
    path = tmp_path / "draft.json"
    path.write_text(json.dumps(bad))
    res = CliRunner().invoke(app, ["metadata", "validate", "--draft", str(path)])
    assert res.exit_code == 1
    named = [ln[4:].split(":", 1)[0] for ln in res.stderr.splitlines() if ln.startswith("  - ")]
    assert named == ["centre.country", "samples[0].matched_normal"]


def test_draft_local_ids_need_no_pseudonym_pattern() -> None:
    draft = _readme_draft()
    draft["samples"][1]["patient_id"] = draft["samples"][0]["patient_id"] = "MRN 0042"
    validate_draft(draft)
    with pytest.raises(ManifestValidationError):
        validate_manifest(draft)


def test_a_field_name_with_a_line_break_stays_on_its_own_line(tmp_path: Path) -> None:
    """Found by tests/fuzz: `"centre": {"\\n": null}` split the problem over two lines
    (`  - centre.` and `: unknown field…`)."""
    data = json.loads((DATA / "valid_somatic_panel.json").read_text())
    data["centre"]["x\ny"] = None
    data["title"] = "a\rb\tc"
    data["dataset_id"] = "bad\nid"
    with pytest.raises(ManifestValidationError) as info:
        validate_manifest(data)
    _head, *lines = str(info.value).split("\n")
    assert len(lines) == len(info.value.issues) == 2
    assert all(line.startswith("  - ") for line in lines)
    assert "  - centre.x\\ny: unknown field" in lines[1]
    assert "got 'bad\\nid'" in lines[0]
