"""submit → inbox → ingest → lake → query back, with real annotated variants and mCODE."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from pyiceberg.expressions import EqualTo

from harmonise.bundle import SubmitInputs, build_bundle, deliver, list_ready
from harmonise.errors import VerifyError
from harmonise.ingest import ingest
from harmonise.lake import Lake
from harmonise.pseudonymise import pseudonym
from harmonise.verify import verify
from tests.harmonise.conftest import JENNY, JENNY_ID, KEY, ingest_draft, ingest_shared


def _bundle(tmp: Path, vcf: Path, consent: Path) -> Path:
    ingest_shared("mcode")
    inputs = SubmitInputs(
        ingest_draft(), vcfs=[vcf], clinical=[JENNY], consent=[consent], drop_identifiers=True
    )
    bundle, _ = build_bundle(inputs, KEY, tmp / "out")
    return Path(deliver(bundle, str(tmp / "inbox")))


def test_submit_ingest_query_back(
    tmp_path: Path, ingest_tn_vcf: Path, ingest_consent_file: Path, ingest_lake: Lake
) -> None:
    bundle = _bundle(tmp_path, ingest_tn_vcf, ingest_consent_file)
    assert list_ready(str(tmp_path / "inbox")) == [str(bundle)]
    report, prep = ingest(ingest_lake, bundle)
    assert report.status == "committed"
    pid = pseudonym(KEY, "TST", "Patient", JENNY_ID)
    variants = ingest_lake.read("variants", row_filter=EqualTo("patient_id", pid)).to_pylist()
    pipeline = {v["protein_change"]: v for v in variants if v["source"] == "pipeline"}
    assert {"G719S", "T790M", "L858R", "L861Q", "C797S", "S768I"} <= set(pipeline)
    v = pipeline["L858R"]
    assert (v["chrom"], v["pos"], v["ref"], v["alt"]) == ("7", 55259515, "T", "G")
    assert v["gene"] == "EGFR" and v["transcript"] == "ENST00000275493"
    assert v["hgvs_p"] == "p.Leu858Arg" and v["consequence"] == "missense_variant"
    assert v["genome_build"] == "GRCh37" and v["origin"] == "somatic"
    assert v["alt_depth"] == 10 and v["normal_depth"] == 30 and v["normal_vaf"] == 0.0
    assert v["specimen_id"] == pseudonym(KEY, "TST", "Specimen", "T-001")
    assert v["normal_specimen_id"] == pseudonym(KEY, "TST", "Specimen", "N-001")
    assert v["pipeline_fingerprint"] == "sha256:" + "ab" * 32
    cond = ingest_lake.read("conditions").to_pylist()
    assert [(c["patient_id"], c["oncotree_code"], c["oncotree_tissue"]) for c in cond] == [
        (pid, "IDC", "Breast")
    ]
    assert cond[0]["age_at_diagnosis"] is not None and cond[0]["t_category"]
    patients = ingest_lake.read("patients").to_pylist()
    assert [(p["patient_id"], p["birth_year"]) for p in patients] == [(pid, 1965)]
    markers = {b["marker"] for b in ingest_lake.read("biomarkers").to_pylist()}
    assert {"ER", "PR", "HER2"} <= markers
    assert ingest_lake.read("treatments").num_rows >= 4
    assert ingest_lake.read("consents").column("permissions").to_pylist() == [["DUO:0000042"]]
    # nothing identifying left the centre
    text = "".join(p.read_text(errors="ignore") for p in bundle.rglob("*.ndjson"))
    assert JENNY_ID not in text and "Jenny" not in text and "1965-" not in text
    # verify through pysam agrees; the same bundle again is a no-op
    assert verify(ingest_lake, prep).compared == len(pipeline)
    before = ingest_lake.current_version()
    again, _ = ingest(ingest_lake, bundle)
    assert again.status == "unchanged" and ingest_lake.current_version() == before


def test_verify_detects_a_changed_source(
    tmp_path: Path, ingest_tn_vcf: Path, ingest_consent_file: Path, ingest_lake: Lake
) -> None:
    bundle = _bundle(tmp_path, ingest_tn_vcf, ingest_consent_file)
    _, prep = ingest(ingest_lake, bundle)
    vcf = next((bundle / "variants").iterdir())
    other = tmp_path / "other.vcf.gz"
    import subprocess

    subprocess.run(
        f"bcftools view -h {vcf} > {tmp_path}/x.vcf && bcftools view -H {vcf} | head -3 "
        f">> {tmp_path}/x.vcf && bgzip -c {tmp_path}/x.vcf > {other}",
        shell=True, check=True,
    )  # fmt: skip
    shutil.copy(other, vcf)
    with pytest.raises(VerifyError, match=r"missing from the lake|not in the VCF"):
        verify(ingest_lake, prep)


def test_pipeline_test_output_through_submit_and_ingest(
    tmp_path: Path, ingest_consent_file: Path, ingest_lake: Lake, local_run: Any
) -> None:
    """The workflow's own .test output (results/provenance/provenance.json + its VCF),
    from a run of the real pipeline in this session."""
    prov = local_run.results / "provenance/provenance.json"
    samples = json.loads(prov.read_text())["samples"][0]
    draft = ingest_draft(patient=samples["patient"])
    draft.pop("pipeline")
    draft.pop("reference")
    draft["samples"][0]["specimen_id"] = samples["tumour"]
    draft["samples"][0]["matched_normal"] = samples["normal"]
    draft["samples"][1]["specimen_id"] = samples["normal"]
    draft["data_types"] = ["variants", "consent"]
    consent = tmp_path / "c.ndjson"
    from tests.harmonise.conftest import ingest_consent_resource

    consent.write_text(json.dumps(ingest_consent_resource(samples["patient"])) + "\n")
    bundle, _ = build_bundle(
        SubmitInputs(draft, provenance=prov, consent=[consent]), KEY, tmp_path / "out"
    )
    report, prep = ingest(ingest_lake, bundle)
    assert report.status == "committed" and report.variants >= 1
    rows = ingest_lake.read("variants").to_pylist()
    assert all(r["genome_build"] == "GRCh37" and r["pipeline_fingerprint"] for r in rows)
    assert verify(ingest_lake, prep).compared == len(rows)
