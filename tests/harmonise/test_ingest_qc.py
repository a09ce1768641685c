"""The pipeline's QC into the lake (issue 21): provenance.json ``qc`` → the bundle (pairs
named by specimen pseudonyms) → ``specimen_qc`` and ``gene_coverage``."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from harmonise.bundle import SubmitInputs, build_bundle
from harmonise.errors import SampleLinkError
from harmonise.ingest import ingest
from harmonise.ingest.qc import qc_rows
from harmonise.lake import Lake
from metadata.provenance import QcSummary
from tests.harmonise.conftest import KEY, ingest_draft

SHA = "0" * 64


def _qc(tumour_id: str | None, normal_id: str | None) -> QcSummary:
    sample = {"reads": 10, "mean_coverage": 12.5, "genes": [
        {"gene": "BRAF", "bp": 2300, "mean_depth": 140.2,
         "fraction_at_depth": {"20": 1.0, "50": 0.98, "100": 0.81}},
    ]}  # fmt: skip
    return QcSummary.model_validate(
        {
            "report": {"path": "multiqc_report.html", "sha256": SHA},
            "pairs": [
                {
                    "tumour": sample,
                    "normal": {"reads": 8},
                    "identity": {
                        "status": "match",
                        "discordant_sites": 0,
                        "compared_sites": 40,
                        "discordance": 0.0,
                        "max_discordance": 0.3,
                    },
                    "contamination": {"status": "estimated", "tumour_in_normal": 0.05, "sites": 60},
                    "tumour_specimen_id": tumour_id,
                    "normal_specimen_id": normal_id,
                }
            ],
        }
    )


SAMPLES = {
    "T1": SimpleNamespace(specimen_id="T1", role="tumour", matched_normal="N1", patient_id="P1"),
    "N1": SimpleNamespace(specimen_id="N1", role="normal", matched_normal=None, patient_id="P1"),
}


def test_qc_rows_link_both_specimens_and_each_gene() -> None:
    rows = qc_rows(_qc("T1", "N1"), SAMPLES, "sha256:" + SHA)
    by_role = {r["role"]: r for r in rows["specimen_qc"]}
    assert by_role["tumour"]["paired_specimen_id"] == "N1"
    assert by_role["normal"]["paired_specimen_id"] == "T1"
    assert {r["tumour_in_normal"] for r in rows["specimen_qc"]} == {0.05}
    assert {r["identity_status"] for r in rows["specimen_qc"]} == {"match"}
    (gene,) = rows["gene_coverage"]
    assert (gene["specimen_id"], gene["gene"], gene["mean_depth"]) == ("T1", "BRAF", 140.2)
    assert (gene["fraction_20x"], gene["fraction_50x"], gene["fraction_100x"]) == (1.0, 0.98, 0.81)


@pytest.mark.parametrize(
    ("tumour", "normal", "message"),
    [
        ("T9", "N1", "qc.pairs[0].tumour_specimen_id 'T9' is not a tumour sample"),
        ("N1", None, "qc.pairs[0].tumour_specimen_id 'N1' is not a tumour sample"),
        ("T1", "N9", "qc.pairs[0].normal_specimen_id 'N9' is not the matched normal of tumour T1"),
    ],
)
def test_qc_pair_naming_another_specimen_is_refused(
    tumour: str, normal: str | None, message: str
) -> None:
    with pytest.raises(SampleLinkError, match=message.replace("[", r"\[").replace("]", r"\]")):
        qc_rows(_qc(tumour, normal), SAMPLES, None, "bundle/provenance/provenance.json")


def test_pipeline_qc_reaches_the_lake_per_specimen(
    tmp_path: Path, ingest_consent_file: Path, ingest_lake: Lake, local_run: Any
) -> None:
    """The .test run's provenance.json through submit and ingest: one specimen_qc row per
    specimen with the run's figures, one gene_coverage row per specimen and gene."""
    prov_path = local_run.results / "provenance/provenance.json"
    prov = json.loads(prov_path.read_text())
    names = prov["samples"][0]
    draft = ingest_draft(patient=names["patient"])
    draft.pop("pipeline")
    draft.pop("reference")
    draft["samples"][0]["specimen_id"] = names["tumour"]
    draft["samples"][0]["matched_normal"] = names["normal"]
    draft["samples"][1]["specimen_id"] = names["normal"]
    draft["data_types"] = ["variants", "consent"]
    consent = tmp_path / "c.ndjson"
    from tests.harmonise.conftest import ingest_consent_resource

    consent.write_text(json.dumps(ingest_consent_resource(names["patient"])) + "\n")
    bundle, _ = build_bundle(
        SubmitInputs(draft, provenance=prov_path, consent=[consent]), KEY, tmp_path / "out"
    )
    packed = (bundle / "provenance" / "provenance.json").read_text()
    assert names["tumour"] not in packed and names["normal"] not in packed  # pseudonyms only
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert "qc" in manifest["data_types"]
    ids = {s["role"]: s["specimen_id"] for s in manifest["samples"]}
    (pair,) = json.loads(packed)["qc"]["pairs"]
    assert (pair["tumour_specimen_id"], pair["normal_specimen_id"]) == (
        ids["tumour"],
        ids["normal"],
    )

    report, _ = ingest(ingest_lake, bundle)
    assert report.status == "committed"
    qc = {r["role"]: r for r in ingest_lake.read("specimen_qc").to_pylist()}
    (run_pair,) = prov["qc"]["pairs"]
    for role in ("tumour", "normal"):
        assert qc[role]["specimen_id"] == ids[role]
        for key in ("duplication_rate", "insert_size_mean", "mean_coverage", "reads"):
            assert qc[role][key] == run_pair[role][key], (role, key)
        assert qc[role]["identity_status"] == run_pair["identity"]["status"] == "mismatch"
        assert qc[role]["pipeline_fingerprint"] == prov["fingerprint"]
    genes = ingest_lake.read("gene_coverage").to_pylist()
    want = {
        (ids[role], g["gene"]): g["mean_depth"]
        for role in ("tumour", "normal")
        for g in run_pair[role]["genes"]
    }
    assert want and {(r["specimen_id"], r["gene"]): r["mean_depth"] for r in genes} == want
    analyses = {r["specimen_id"]: r["analyses"] for r in ingest_lake.read("specimens").to_pylist()}
    assert "qc" in analyses[ids["tumour"]] and "qc" in analyses[ids["normal"]]
