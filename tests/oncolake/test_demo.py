"""The demo's build step (without serving): real pipeline for centre 1, synthetic centres
through submit → ingest, withdrawals, users; then a re-run that recomputes nothing."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from oncolake.commands.lake import open_lake
from oncolake.demo.network import default_centres, write_centre
from oncolake.demo.run import build_demo
from oncolake.settings import get_settings
from tests.conftest import have_tool

pytestmark = [pytest.mark.pipeline, pytest.mark.slow]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str], list[str]]:
    for tool in ("bwa", "samtools", "bcftools", "fastp", "mosdepth"):
        if not have_tool(tool):
            pytest.skip(f"{tool} is not installed (make tools installs it)")
    home = tmp_path_factory.mktemp("demo-home")
    mp = pytest.MonkeyPatch()
    mp.setenv("ONCOLAKE_HOME", str(home))
    try:
        settings = get_settings()
        lake = open_lake(settings)
        messages: list[str] = []
        build_demo(settings, lake, patients=60, centres=2, cores=2, say=messages.append)
        again: list[str] = []
        build_demo(settings, lake, patients=60, centres=2, cores=2, say=again.append)
    finally:
        mp.undo()
    return home, messages, again


def _lake(home: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("ONCOLAKE_HOME", str(home))
    return open_lake(get_settings())


def test_demo_lake_holds_centre1_pipeline_and_synthetic_centres(
    built: tuple[Path, list[str], list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    home, _, _ = built
    lake = _lake(home, monkeypatch)
    datasets = {r["dataset_id"]: r for r in lake.read("datasets").to_pylist()}
    assert set(datasets) == {"C1-dna-seq-demo", "NKI-synthetic-2025", "GR-synthetic-2025"}
    c1 = datasets["C1-dna-seq-demo"]
    provenance = json.loads(
        (home / "demo/centre1/pipeline/results/provenance/provenance.json").read_text()
    )
    assert c1["pipeline_fingerprint"] == provenance["fingerprint"]
    assert datasets["NKI-synthetic-2025"]["pipeline_fingerprint"] == provenance["fingerprint"]
    patients = lake.read("patients", columns=["patient_id", "centre_id"]).to_pylist()
    per_centre: dict[str, int] = {}
    for p in patients:
        per_centre[p["centre_id"]] = per_centre.get(p["centre_id"], 0) + 1
    assert per_centre["C1"] == 2
    assert per_centre["NKI"] + per_centre["GR"] == 60 - 2  # two withdrew
    # pseudonymised at the centre: no local id reaches the lake
    assert all(not p["patient_id"].endswith(("HCC1954", "TINY01")) for p in patients)
    assert all(p["patient_id"].startswith(f"{p['centre_id']}-") for p in patients)
    conditions = lake.read("conditions", columns=["centre_id", "oncotree_code"]).to_pylist()
    c1_types = sorted(c["oncotree_code"] for c in conditions if c["centre_id"] == "C1")
    assert c1_types == ["IDC", "LUAD"]
    variants = lake.read("variants", columns=["centre_id", "source", "genome_build"]).to_pylist()
    assert {v["genome_build"] for v in variants} == {"GRCh37"}
    assert any(v["centre_id"] == "NKI" for v in variants)


def test_withdrawn_patients_are_gone_from_every_file(
    built: tuple[Path, list[str], list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    home, messages, _ = built
    lake = _lake(home, monkeypatch)
    withdrawn = [m.split()[2].rstrip(":") for m in messages if m.startswith("withdrawal of")]
    assert len(withdrawn) == 2
    for path in lake.data_files():
        data = lake.open_file(path)
        if "patient_id" in data.column_names:
            assert not set(withdrawn) & set(data.column("patient_id").to_pylist())


def test_demo_users_file_is_private_and_tokens_work(
    built: tuple[Path, list[str], list[str]],
) -> None:
    home, _, _ = built
    path = home / "demo-users.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    users = json.loads(path.read_text())
    assert {"researcher", "admin", "reviewer-c1", "reviewer-nki", "reviewer-gr"} <= set(users)
    assert users["reviewer-nki"]["centres"] == ["NKI"]
    assert all(u["token"].startswith("olk_") for u in users.values())


def test_rerun_recomputes_nothing(built: tuple[Path, list[str], list[str]]) -> None:
    _, first, again = built
    assert any("committed" in m for m in first)
    assert not any("generating" in m for m in again)
    assert not any("withdrawal of" in m for m in again)
    unchanged = [m for m in again if m.endswith("already in the lake, unchanged")]
    assert len(unchanged) == 3


def test_generator_is_seeded_and_reproducible(tmp_path: Path) -> None:
    spec = default_centres(30, 2)[0]
    pipeline = {
        "id": "oncolake/dna_seq",
        "version": "1",
        "fingerprint": "sha256:" + "0" * 64,
        "harmonised": True,
        "tool_versions": {},
    }
    a = write_centre(spec, tmp_path / "a", 7, pipeline)
    b = write_centre(spec, tmp_path / "b", 7, pipeline)
    c = write_centre(spec, tmp_path / "c", 8, pipeline)
    assert a.clinical.read_bytes() == b.clinical.read_bytes()
    assert a.consent.read_bytes() == b.consent.read_bytes()
    assert a.clinical.read_bytes() != c.clinical.read_bytes()
    lines = [json.loads(x) for x in a.clinical.read_text().splitlines()]
    kinds = {r["resourceType"] for r in lines}
    assert {"Patient", "Condition", "Observation", "MedicationRequest"} <= kinds
    assert len(a.vcfs) == spec.patients
