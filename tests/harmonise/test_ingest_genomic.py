"""Issue 23 into the lake: structural variants, copy number and pipeline TMB/MSI.

* a lake made by the release before these tables upgrades in place on ``Lake.init``;
* (below) submit packs a pipeline results folder's outputs, ingest commits them in the
  one atomic commit with the small variants, bad files leave nothing, withdrawal removes
  them.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from consent.withdrawal import Withdrawal
from harmonise.bundle import SubmitInputs, build_bundle, sha256_file
from harmonise.errors import HarmoniseError, ResultFileError, VcfFormatError, VerifyError
from harmonise.ingest import ingest
from harmonise.lake import Lake, LakeConfig, Submission
from harmonise.model import TABLES
from harmonise.pseudonymise import pseudonym
from harmonise.verify import verify
from harmonise.withdrawal import apply_withdrawal
from tests.harmonise.conftest import (
    JENNY,
    JENNY_ID,
    KEY,
    ingest_consent_resource,
    ingest_draft,
    ingest_shared,
)
from tests.harmonise.genomic_fixtures import write_results
from tests.harmonise.old_release import old_release_lake

#: The last commit whose harmonise/model.py has no issue-23 tables or columns.
OLD_RELEASE = "5fba0d1"


@pytest.fixture
def old_lake(tmp_path: Path) -> Path:
    """A lake written by the old release's own code, in a separate interpreter."""
    return old_release_lake(tmp_path, OLD_RELEASE, patients=30, variants=3)


def _genomic_submission(patient: str) -> Submission:
    sv = pa.table(
        {
            "patient_id": [patient],
            "specimen_id": [f"{patient}-T"],
            "genome_build": ["GRCh37"],
            "sv_type": ["BND"],
            "chrom": ["12"],
            "pos": pa.array([12022903], pa.int64()),
            "chrom2": ["15"],
            "pos2": pa.array([88576000], pa.int64()),
            "fusion": ["ETV6::NTRK3"],
            "fusion_genes": [["ETV6", "NTRK3"]],
        }
    )
    cn = pa.table(
        {
            "patient_id": [patient],
            "specimen_id": [f"{patient}-T"],
            "genome_build": ["GRCh37"],
            "gene": ["ERBB2"],
            "chrom": ["17"],
            "start": pa.array([37844167], pa.int64()),
            "end": pa.array([37884915], pa.int64()),
            "call": ["amplification"],
        }
    )
    bm = pa.table(
        {"patient_id": [patient], "marker": ["TMB"], "value_numeric": [14.2],
         "source": ["pipeline"]}
    )  # fmt: skip
    return Submission(
        "sub-genomic-1", "NEW-ds", "NEW", {"title": "new"},
        {"structural_variants": sv, "copy_number_genes": cn, "biomarkers": bm},
        {"metadata_digest": "sub-genomic-1", "duo_codes": ["DUO:0000042"], "consent_version": "1"},
    )  # fmt: skip


def test_old_lake_upgrades_in_place_and_takes_the_new_results(old_lake: Path) -> None:
    lake = Lake(
        LakeConfig(f"sqlite:///{old_lake / 'catalog.db'}", f"file://{old_lake / 'wh'}"),
        b"tag-key",
    )
    old_markers = lake.table("biomarkers").scan().to_arrow().num_rows
    assert not lake.is_initialised()  # the issue-23 tables are missing
    created = lake.init()
    assert set(created) == {
        "structural_variants",
        "copy_number_genes",
        "copy_number_segments",
        "specimen_qc",  # issue 21
        "gene_coverage",
    }
    pinned = lake.pins()["before-upgrade"]
    before = lake.table_counts(pinned)
    assert before["patients"] == 30 and before["biomarkers"] == old_markers > 0
    for name, tdef in TABLES.items():
        # in the Iceberg schema itself, so that other engines (DuckDB, Spark) see them
        iceberg = {f.name for f in lake.table(name).schema().fields}
        assert set(tdef.column_names) <= iceberg, (name, set(tdef.column_names) - iceberg)
    markers = lake.read("biomarkers")
    assert {"source", "specimen_id", "details_json"} <= set(markers.column_names)
    assert markers.column("source").null_count == markers.num_rows == old_markers  # = fhir
    assert lake.read("specimens").column("analyses").null_count == before["specimens"]
    lake.commit(_genomic_submission("NEW-p1"))
    assert lake.read("structural_variants").column("fusion").to_pylist() == ["ETV6::NTRK3"]
    assert lake.read("copy_number_genes").column("call").to_pylist() == ["amplification"]
    sources = lake.read("biomarkers").column("source").to_pylist()
    assert sources.count("pipeline") == 1 and sources.count(None) == old_markers
    assert lake.table_counts(pinned) == before  # the pinned version reads as it did
    assert lake.init() == []  # idempotent


# -- submit → ingest with the pipeline's results ------------------------------------------

GENOMIC = ("structural_variants", "copy_number_genes", "copy_number_segments")


def _genomic_bundle(tmp: Path, vcf: Path, consent: Path, **results: bool) -> Path:
    root = write_results(tmp / "pipeline" / "results", JENNY_ID, **results)
    inputs = SubmitInputs(ingest_draft(), vcfs=[vcf], consent=[consent], results=root)
    bundle, _ = build_bundle(inputs, KEY, tmp / "out")
    return bundle


def test_results_are_packed_and_committed_with_the_small_variants(
    tmp_path: Path, ingest_tn_vcf: Path, ingest_consent_file: Path, ingest_lake: Lake
) -> None:
    bundle = _genomic_bundle(tmp_path, ingest_tn_vcf, ingest_consent_file)
    tumour = pseudonym(KEY, "TST", "Specimen", "T-001")
    normal = pseudonym(KEY, "TST", "Specimen", "N-001")
    manifest = json.loads((bundle / "manifest.json").read_text())
    listed = {f["path"]: f.get("specimen_id") for f in manifest["files"]}
    name = f"{tumour}_{normal}"
    for path in (f"structural/{name}.vcf.gz", f"copy_number/{name}.segments.tsv",
                 f"copy_number/{name}.genes.tsv", f"biomarkers/{name}.tmb_msi.json"):  # fmt: skip
        assert listed[path] == tumour, path
    assert {"structural_variants", "copy_number", "biomarkers"} <= set(manifest["data_types"])
    sv_text = json.dumps(manifest) + (bundle / "structural" / f"{name}.vcf.gz").read_bytes().hex()
    assert "T-001" not in sv_text  # pseudonymised, as the small variants' VCF

    report, prep = ingest(ingest_lake, bundle)
    assert report.status == "committed"
    # the SV VCF is not read as small variants (no symbolic alleles skipped there)
    assert not [w for w in report.warnings if "symbolic" in w], report.warnings
    assert [f.path for f in prep.vcf_files] == [f"variants/{name}.vcf.gz"]
    # the panel (EGFR-hotspots) lists EGFR only: the table's other genes are named, kept
    (uncovered,) = [w for w in report.warnings if "covered_genes" in w]
    assert uncovered.startswith(f"copy_number/{name}.genes.tsv: 4 gene(s) not among the ")
    assert "assay EGFR-hotspots" in uncovered and "CDKN2A, ERBB2, TP53, BRAF" in uncovered
    checked = verify(ingest_lake, prep)
    assert checked.compared == report.rows["variants"]
    assert checked.results == {
        "structural_variants": 6, "copy_number_genes": 5, "copy_number_segments": 4,
        "biomarkers": 2,
    }  # fmt: skip
    pid = pseudonym(KEY, "TST", "Patient", JENNY_ID)
    assert report.rows["structural_variants"] == 6 and report.rows["copy_number_genes"] == 5
    assert report.rows["copy_number_segments"] == 4 and report.rows["variants"] >= 6
    sv = {r["sv_id"]: r for r in ingest_lake.read("structural_variants").to_pylist()}
    fusion = sv["BND00000001"]
    assert (fusion["patient_id"], fusion["specimen_id"], fusion["normal_specimen_id"]) == (
        pid,
        tumour,
        normal,
    )
    assert fusion["fusion"] == "ETV6::NTRK3" and fusion["genome_build"] == "GRCh37"
    assert fusion["pipeline_fingerprint"] == "sha256:" + "ab" * 32
    genes = {r["gene"]: r["call"] for r in ingest_lake.read("copy_number_genes").to_pylist()}
    assert genes["ERBB2"] == "amplification" and genes["CDKN2A"] == "deep_deletion"
    markers = ingest_lake.read("biomarkers").to_pylist()
    pipeline = {m["marker"]: m for m in markers if m["source"] == "pipeline"}
    assert pipeline["TMB"]["value_numeric"] == 12.3 and pipeline["TMB"]["interpretation"] == "high"
    assert pipeline["MSI"]["value_display"] == "MSI-H" and pipeline["MSI"]["specimen_id"] == tumour
    specimen = next(
        s for s in ingest_lake.read("specimens").to_pylist() if s["specimen_id"] == tumour
    )
    assert specimen["analyses"] == [
        "copy_number",
        "msi",
        "small_variants",
        "structural_variants",
        "tmb",
    ]
    assert specimen["purity"] == 0.62
    # one submission: every row carries its id, and the datasets row records every table
    ds = ingest_lake.read("datasets").to_pylist()[0]
    counts = json.loads(ds["row_counts_json"])
    for name in (*GENOMIC, "variants", "biomarkers"):
        ids = set(ingest_lake.read(name).column("submission_id").to_pylist())
        assert ids == {ds["submission_id"]}, name
        assert counts[name] == ingest_lake.read(name).num_rows, name
    again, _ = ingest(ingest_lake, bundle)
    assert again.status == "unchanged" and again.rows["structural_variants"] == 6


def _tamper(bundle: Path, folder: str, edit: Callable[[Path], object]) -> None:
    """Change a result file inside a packed bundle and re-list its checksum (a hostile or
    broken centre: the hub's own checks must refuse it)."""
    path = next((bundle / folder).iterdir())
    edit(path)
    manifest = json.loads((bundle / "manifest.json").read_text())
    rel = str(path.relative_to(bundle))
    for f in manifest["files"]:
        if f["path"] == rel:
            f["sha256"], f["size"] = sha256_file(path), path.stat().st_size
    (bundle / "manifest.json").write_text(json.dumps(manifest))


def _edit_sv(path: Path, old: str, new: str) -> None:
    import pysam

    text = gzip.decompress(path.read_bytes()).decode()
    assert old in text
    plain = path.with_suffix("")
    plain.write_text(text.replace(old, new))
    pysam.tabix_compress(str(plain), str(path), force=True)
    plain.unlink()


def _sub(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


@pytest.mark.parametrize(
    ("pattern", "edit", "named"),
    [
        ("structural/*", lambda p: _edit_sv(p, "PE=20;SR=11", "PE=20;SR=2"),
         r"structural/\S+\.vcf\.gz: 12:12022903:15:88576000:BND: sr 11 in the lake, 2 in the file"),
        ("structural/*", lambda p: _edit_sv(p, "END=21999000", "END=21999500"),
         r"structural/\S+\.vcf\.gz: 9:21960000:9:21999500:DEL missing from the lake"),
        ("copy_number/*.genes.tsv", lambda p: _sub(p, "ERBB2\t17", "ERBB2\t18"),
         r"copy_number/\S+\.genes\.tsv: ERBB2: chrom '17' in the lake, '18' in the file"),
        ("copy_number/*.segments.tsv", lambda p: _sub(p, "\t40\n", "\t41\n"),
         r"copy_number/\S+\.segments\.tsv: 7:55000000:55300000: probes 40 in the lake, 41 in "),
        ("biomarkers/*", lambda p: _sub(p, '"mutations_per_mb": 12.3', '"mutations_per_mb": 12.4'),
         r"biomarkers/\S+\.tmb_msi\.json: TMB: value_numeric 12\.3 in the lake, 12\.4 in the file"),
        ("biomarkers/*", lambda p: _sub(p, '"status": "MSI-H"', '"status": "MSS"'),
         r"biomarkers/\S+\.tmb_msi\.json: MSI: value_display 'MSI-H' in the lake, 'MSS' in "),
    ],
    ids=["sv-support", "sv-end", "cn-gene", "cn-segment", "tmb", "msi"],
)  # fmt: skip
def test_verify_names_a_result_file_changed_after_ingest(
    tmp_path: Path, ingest_tn_vcf: Path, ingest_consent_file: Path, ingest_lake: Lake,
    pattern: str, edit: Callable[[Path], object], named: str,
) -> None:  # fmt: skip
    """``ingest --verify`` re-reads the SV, copy-number and TMB/MSI files (pysam, csv,
    json: not the readers ingest used) and names a file that no longer matches its rows."""
    bundle = _genomic_bundle(tmp_path, ingest_tn_vcf, ingest_consent_file)
    _, prep = ingest(ingest_lake, bundle)
    assert not verify(ingest_lake, prep).mismatches
    (path,) = bundle.glob(pattern)
    edit(path)
    with pytest.raises(VerifyError, match=named) as err:
        verify(ingest_lake, prep)
    assert "\n" not in str(err.value) and "Traceback" not in str(err.value)


def test_a_bad_result_file_leaves_the_lake_as_it_was(
    tmp_path: Path, ingest_tn_vcf: Path, ingest_consent_file: Path, ingest_lake: Lake
) -> None:
    import gzip

    import pysam

    bundle = _genomic_bundle(tmp_path, ingest_tn_vcf, ingest_consent_file)

    def bad_bnd(path: Path) -> None:
        text = gzip.decompress(path.read_bytes()).decode()
        plain = path.with_suffix("")
        plain.write_text(text.replace("T]15:88576000]", "T]15:88576009]"))
        pysam.tabix_compress(str(plain), str(path), force=True)
        plain.unlink()

    _tamper(bundle, "structural", bad_bnd)
    before = ingest_lake.current_version()
    with pytest.raises(
        VcfFormatError,
        match=r"structural/.*\.vcf\.gz, line \d+, record 12:12022903: "
        r"fields ALT and INFO/CHR2,POS2",
    ):
        ingest(ingest_lake, bundle)
    assert ingest_lake.current_version() == before
    assert all(ingest_lake.read(t).num_rows == 0 for t in TABLES)

    other = _genomic_bundle(tmp_path / "b", ingest_tn_vcf, ingest_consent_file)
    _tamper(other, "biomarkers", lambda p: p.write_text(p.read_text().replace('"MSI-H"', '"MSS"')))
    with pytest.raises(
        ResultFileError, match=r"biomarkers/.*\.tmb_msi\.json, field msi: status MSS disagrees"
    ):
        ingest(ingest_lake, other)
    assert ingest_lake.current_version() == before


def test_submit_refuses_a_bad_result_at_the_centre(
    tmp_path: Path, ingest_tn_vcf: Path, ingest_consent_file: Path
) -> None:
    root = write_results(tmp_path / "pipeline" / "results", JENNY_ID)
    genes = root / "cnv" / f"{JENNY_ID}.genes.tsv"
    genes.write_text(genes.read_text().replace("deep_deletion", "homdel"))
    inputs = SubmitInputs(ingest_draft(), vcfs=[ingest_tn_vcf], consent=[ingest_consent_file],
                          results=root)  # fmt: skip
    with pytest.raises(HarmoniseError, match=rf"{genes}, line 3: column call: 'homdel'"):
        build_bundle(inputs, KEY, tmp_path / "out")
    assert not list((tmp_path / "out").glob(f"{ingest_draft()['dataset_id']}-*"))


def test_withdrawal_removes_the_patients_results(
    tmp_path: Path, ingest_tn_vcf: Path, ingest_consent_file: Path, ingest_lake: Lake
) -> None:
    root = write_results(tmp_path / "pipeline" / "results", JENNY_ID)
    inputs = SubmitInputs(ingest_draft(), vcfs=[ingest_tn_vcf], consent=[ingest_consent_file],
                          clinical=[ingest_shared("mcode") and JENNY], results=root,
                          drop_identifiers=True)  # fmt: skip
    bundle, _ = build_bundle(inputs, KEY, tmp_path / "out")
    ingest(ingest_lake, bundle)
    pid = pseudonym(KEY, "TST", "Patient", JENNY_ID)
    assert all(ingest_lake.read(t).num_rows > 0 for t in GENOMIC)
    home = tmp_path / "home"
    genomic = apply_withdrawal(
        ingest_lake, home,
        Withdrawal(patient_id=pid, date=dt.date(2025, 6, 1), reason="test", scope="genomic"),
    )  # fmt: skip
    for name in (*GENOMIC, "variants"):
        assert ingest_lake.read(name).num_rows == 0 and genomic.rows_removed[name] > 0, name
    markers = ingest_lake.read("biomarkers").to_pylist()
    assert genomic.rows_removed["biomarkers"] == 2  # TMB and MSI, computed from sequencing
    assert markers and {m["source"] for m in markers} == {"fhir"}  # the reported ones stay
    assert ingest_lake.read("patients").num_rows == 1
    everything = apply_withdrawal(
        ingest_lake, home, Withdrawal(patient_id=pid, date=dt.date(2025, 7, 1), reason="all")
    )
    assert everything.rows_removed["biomarkers"] == len(markers)
    assert all(ingest_lake.read(t).num_rows == 0 for t in TABLES if t != "datasets")


def test_real_pipeline_results_through_submit_and_ingest(
    tmp_path: Path, ingest_lake: Lake, local_run: Any
) -> None:
    """The workflow's own .test output: its SV VCF, copy-number tables and TMB/MSI record
    (sv23, cnv23) packed by submit from provenance's results/ folder and committed."""
    prov = local_run.results / "provenance/provenance.json"
    sample = json.loads(prov.read_text())["samples"][0]
    patient = sample["patient"]
    expected = {
        "structural": local_run.results / f"annotated/sv/{patient}.sv.annotated.vcf.gz",
        "copy_number": local_run.results / f"cnv/{patient}.genes.tsv",
        "biomarkers": local_run.results / f"biomarkers/{patient}.tmb_msi.json",
    }
    missing = [str(p) for p in expected.values() if not p.exists()]
    assert not missing, f"the pipeline wrote no {', '.join(missing)}"
    draft = ingest_draft(patient=patient)
    draft.pop("pipeline")
    draft.pop("reference")
    draft["samples"][0]["specimen_id"] = sample["tumour"]
    draft["samples"][0]["matched_normal"] = sample["normal"]
    draft["samples"][1]["specimen_id"] = sample["normal"]
    draft["data_types"] = ["variants", "consent"]
    consent = tmp_path / "c.ndjson"
    consent.write_text(json.dumps(ingest_consent_resource(patient)) + "\n")
    bundle, _ = build_bundle(
        SubmitInputs(draft, provenance=prov, consent=[consent]), KEY, tmp_path / "out"
    )
    manifest = json.loads((bundle / "manifest.json").read_text())
    folders = {f["path"].split("/")[0] for f in manifest["files"]}
    assert {"structural", "copy_number", "biomarkers", "variants"} <= folders
    report, prep = ingest(ingest_lake, bundle)
    assert report.status == "committed"
    assert verify(ingest_lake, prep).compared == report.rows["variants"]
    genes = ingest_lake.read("copy_number_genes")
    segments = ingest_lake.read("copy_number_segments")
    assert genes.num_rows == len(expected["copy_number"].read_text().splitlines()) - 1
    assert segments.num_rows >= 1
    doc = json.loads(expected["biomarkers"].read_text())
    markers = {
        m["marker"]: m
        for m in ingest_lake.read("biomarkers").to_pylist()
        if m["source"] == "pipeline"
    }
    measured = {"tmb"} if doc["tmb"]["mutations_per_mb"] is not None else set()
    measured |= {"msi"} if doc["msi"]["status"] is not None else set()
    if "tmb" in measured:
        assert markers["TMB"]["value_numeric"] == doc["tmb"]["mutations_per_mb"]
    if "msi" in measured:
        assert markers["MSI"]["value_display"] == doc["msi"]["status"]
    assert {m.lower() for m in markers} == measured  # an unmeasured result gives no row
    sv_records = sum(
        1
        for ln in gzip.decompress(expected["structural"].read_bytes()).decode().splitlines()
        if ln and not ln.startswith("#")
    )
    assert ingest_lake.read("structural_variants").num_rows <= sv_records
    tumour = pseudonym(KEY, "TST", "Specimen", sample["tumour"])
    spec = next(s for s in ingest_lake.read("specimens").to_pylist() if s["specimen_id"] == tumour)
    # qc: the provenance's QC of the pair (issue 21)
    assert set(spec["analyses"]) == {
        "small_variants", "structural_variants", "copy_number", "qc", *measured
    }  # fmt: skip


def test_oncolake_submit_packs_a_results_folder(
    tmp_path: Path, ingest_tn_vcf: Path, ingest_consent_file: Path
) -> None:
    """``oncolake submit --results`` as a user runs it (a real process)."""
    oncolake = str(Path(sys.executable).with_name("oncolake"))
    root = write_results(tmp_path / "pipeline" / "results", JENNY_ID)
    draft = tmp_path / "draft.json"
    draft.write_text(json.dumps(ingest_draft()))
    env = {**os.environ, "ONCOLAKE_HOME": str(tmp_path / "home"), "COLUMNS": "200",
           "ONCOLAKE_PSEUDONYM_KEY": "a-centre-key-for-this-test-only-0123456789"}  # fmt: skip
    args = [oncolake, "submit", "--manifest", str(draft), "--inbox", str(tmp_path / "inbox"),
            "--vcf", str(ingest_tn_vcf), "--consent", str(ingest_consent_file)]  # fmt: skip
    done = subprocess.run([*args, "--results", str(root)], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr + done.stdout
    (bundle,) = [p for p in (tmp_path / "inbox").iterdir() if not p.name.startswith(".")]
    assert {p.name for p in bundle.iterdir()} >= {"structural", "copy_number", "biomarkers"}
    bad = subprocess.run(
        [*args, "--results", str(tmp_path / "nowhere")], capture_output=True, text=True, env=env
    )
    assert bad.returncode != 0 and "Traceback" not in bad.stderr + bad.stdout
    assert "nowhere: no such results folder (--results)" in bad.stderr + bad.stdout
