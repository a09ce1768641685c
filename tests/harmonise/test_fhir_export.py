"""The Genomics Reporting FHIR export of a pipeline results folder (harmonise.fhir_export,
``oncolake results fhir``): validated R4 resources, the IG's component slices, and a round
trip of TMB/MSI through the project's own FHIR ingest."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from harmonise.errors import ResultFileError
from harmonise.fhir import map_resources, read_resources
from harmonise.fhir_export import export_results
from harmonise.tmb_msi import biomarker_rows, read_tmb_msi
from oncolake.cli import app
from tests.harmonise.conftest import ingest_shared
from tests.harmonise.genomic_fixtures import write_results

PATIENT = "PAT-23"


@pytest.fixture
def exported(tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    root = write_results(tmp_path / "results", PATIENT)
    (path,) = export_results(root, tmp_path / "fhir")
    return root, json.loads(path.read_text())


def _codes(o: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for c in o.get("component", []):
        out.setdefault(c["code"]["coding"][0]["code"], []).append(c)
    return out


def _by_variation(obs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {
        _codes(o)["81252-9"][0]["valueCodeableConcept"]["text"]: o
        for o in obs
        if "81252-9" in _codes(o)
    }


def test_results_become_a_genomic_report_with_fusions_copy_number_tmb_and_msi(
    exported: tuple[Path, dict[str, Any]],
) -> None:
    _root, bundle = exported
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "collection"
    report, *obs = [e["resource"] for e in bundle["entry"]]
    assert report["resourceType"] == "DiagnosticReport"
    assert report["code"]["coding"][0]["code"] == "51969-4"
    assert [r["reference"] for r in report["result"]] == [e["fullUrl"] for e in bundle["entry"][1:]]
    assert all(o["subject"]["reference"] == f"Patient/{PATIENT}" for o in [report, *obs])
    named = _by_variation(obs)
    # fusions: the partners 5' then 3', SO gene_fusion; the VCF's LowQual DEL and the
    # intergenic INS are not findings; the EGFR duplication and CDKN2A deletion are
    fusion = _codes(named["ETV6::NTRK3"])
    assert [g["valueCodeableConcept"]["text"] for g in fusion["48018-6"]] == ["ETV6", "NTRK3"]
    assert fusion["48019-4"][0]["valueCodeableConcept"]["coding"][0]["code"] == "SO:0001565"
    assert "12:12022903 to 15:88576000" in named["ETV6::NTRK3"]["note"][0]["text"]
    alk = _codes(named["EML4::ALK"])
    assert [g["valueCodeableConcept"]["text"] for g in alk["48018-6"]] == ["EML4", "ALK"]
    assert alk["81254-5"][0]["valueRange"] == {
        "low": {"value": 29446394}, "high": {"value": 42522656}
    }  # fmt: skip
    types = sorted(
        _codes(o)["48019-4"][0]["valueCodeableConcept"]["coding"][0]["display"] for o in obs
        if "48019-4" in _codes(o)
    )  # fmt: skip
    assert types == ["copy_number_gain", "copy_number_gain", "copy_number_loss",
                     "copy_number_loss", "deletion", "duplication", "gene_fusion",
                     "gene_fusion"]  # fmt: skip
    # copy number: the non-neutral calls, with the absolute copy number (BRAF neutral: none)
    erbb2 = _codes(named["ERBB2 amplification"])
    assert erbb2["82155-3"][0]["valueQuantity"]["value"] == 9.1
    assert erbb2["92822-6"][0]["valueCodeableConcept"]["coding"][0]["code"] == "LA30100-4"
    assert "CDKN2A deep deletion" in named and "TP53 loss" in named
    assert not any("BRAF" in name for name in named)
    # TMB and MSI as molecular biomarkers
    markers = {o["code"]["coding"][0]["code"]: o for o in obs if "valueQuantity" in o or
               o["code"]["coding"][0]["code"] == "81695-9"}  # fmt: skip
    assert markers["94076-7"]["valueQuantity"]["value"] == 12.3
    assert markers["94076-7"]["interpretation"][0]["coding"][0]["code"] == "H"
    assert markers["81695-9"]["valueCodeableConcept"]["coding"][0]["code"] == "LA26203-2"
    assert report["conclusion"].startswith("EML4::ALK; ETV6::NTRK3; EGFR amplification")


def test_the_same_results_give_the_same_bytes(tmp_path: Path) -> None:
    root = write_results(tmp_path / "results", PATIENT)
    (a,) = export_results(root, tmp_path / "a")
    (b,) = export_results(root, tmp_path / "b")
    assert a.read_bytes() == b.read_bytes()
    ids = [e["resource"]["id"] for e in json.loads(a.read_text())["entry"]]
    assert len(set(ids)) == len(ids)


def _slices(name: str) -> dict[str, str]:
    """Component slice codes of an IG profile and its bases (the shipped IG's JSON)."""
    folder = ingest_shared("mcode", "hl7.fhir.uv.genomics-reporting-3.0.0", "conformance")
    out: dict[str, str] = {}
    while name != "Observation":
        sd = json.loads((folder / f"StructureDefinition-{name}.json").read_text())
        for e in sd["differential"]["element"]:
            if e["id"].endswith(".code") and "component:" in e["id"]:
                pattern = e.get("patternCodeableConcept")
                if pattern:
                    out[pattern["coding"][0]["code"]] = e["id"].split("component:")[1]
        name = sd["baseDefinition"].rsplit("/", 1)[-1]
    return out


def test_every_component_is_a_slice_of_the_ig_profile(
    exported: tuple[Path, dict[str, Any]],
) -> None:
    """Against the Genomics Reporting IG 3.0.0's own StructureDefinitions (variant →
    finding → genomic-base; molecular-biomarker): no component outside the profiles'
    slices, and the profile's fixed categories present."""
    _root, bundle = exported
    variant, biomarker = _slices("variant"), _slices("molecular-biomarker")
    assert {"48018-6", "48019-4", "82155-3", "62374-4", "81252-9"} <= set(variant)
    for e in bundle["entry"][1:]:
        o = e["resource"]
        profile = o["meta"]["profile"][0].rsplit("/", 1)[-1]
        allowed = variant if profile == "variant" else biomarker
        assert profile in ("variant", "molecular-biomarker")
        unknown = set(_codes(o)) - set(allowed)
        assert not unknown, (profile, unknown)
        cats = {c["coding"][0]["code"] for c in o["category"]}
        assert {"laboratory", "GE"} <= cats
        if profile == "molecular-biomarker":
            assert "biomarker-category" in cats and "biomarker-category" in _codes(o)


def test_tmb_and_msi_round_trip_through_the_fhir_ingest(
    exported: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    """The project's own FHIR reader (validation included) and mapping read the exported
    TMB and MSI back as the biomarker rows ingest makes of the pipeline's record; the SV
    and copy-number Observations are not mistaken for small variants."""
    root, bundle = exported
    bundle["entry"].append({"resource": {"resourceType": "Patient", "id": PATIENT}})
    path = tmp_path / "round.json"
    path.write_text(json.dumps(bundle))
    rows = map_resources(read_resources(path))
    got = {r["marker"]: r for r in rows.tables["biomarkers"]}
    want = {
        r["marker"]: r for r in biomarker_rows(read_tmb_msi(next((root / "biomarkers").iterdir())))
    }
    assert set(got) == set(want) == {"TMB", "MSI"}
    for marker in want:
        for col in ("code", "code_system", "value_numeric" if marker == "TMB" else "value_code"):
            assert got[marker][col] == want[marker][col], (marker, col)
    assert got["MSI"]["value_display"] == want["MSI"]["value_display"] == "MSI-H"
    assert got["TMB"]["interpretation"] == want["TMB"]["interpretation"] == "high"
    assert not rows.tables.get("variants")
    assert len([w for w in rows.warnings if "not stored" in w]) == 8  # 4 SVs, 4 CN calls


def test_oncolake_results_fhir_writes_or_refuses_in_one_line(tmp_path: Path) -> None:
    root = write_results(tmp_path / "results", PATIENT)
    write_results(root, "PAT-24", sv=False, cnv=False)
    out = tmp_path / "fhir"
    done = CliRunner().invoke(app, ["results", "fhir", str(root), "--out", str(out)])
    assert done.exit_code == 0, done.output
    assert sorted(p.name for p in out.iterdir()) == [
        "PAT-23.genomics-report.json", "PAT-24.genomics-report.json"
    ]  # fmt: skip
    only_tmb = json.loads((out / "PAT-24.genomics-report.json").read_text())
    assert len(only_tmb["entry"]) == 3  # the report, TMB and MSI
    genes = root / "cnv" / f"{PATIENT}.genes.tsv"
    genes.write_text(genes.read_text().replace("deep_deletion", "homdel"))
    again = tmp_path / "again"
    bad = CliRunner().invoke(app, ["results", "fhir", str(root), "--out", str(again)])
    assert bad.exit_code == 1 and "Traceback" not in bad.output
    assert f"{genes}, line 3: column call: 'homdel'" in bad.output.replace("\n", "")
    assert not again.exists()  # nothing written when one patient's file is bad
    with pytest.raises(ResultFileError, match=r"nowhere: no such results folder"):
        export_results(tmp_path / "nowhere", out)
    with pytest.raises(ResultFileError, match=r"no results for patient\(s\) PAT-99"):
        export_results(root, out, patients=["PAT-99"])
