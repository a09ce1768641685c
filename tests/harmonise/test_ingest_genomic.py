"""Issue 23 into the lake: structural variants, copy number and pipeline TMB/MSI.

* a lake made by the release before these tables upgrades in place on ``Lake.init``;
* (below) submit packs a pipeline results folder's outputs, ingest commits them in the
  one atomic commit with the small variants, bad files leave nothing, withdrawal removes
  them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pytest

from harmonise.lake import Lake, LakeConfig, Submission
from harmonise.model import TABLES

REPO = Path(__file__).resolve().parents[2]
#: The last commit whose harmonise/model.py has no issue-23 tables or columns.
OLD_RELEASE = "5fba0d1"

OLD_SCRIPT = r"""
import sys
from pathlib import Path
import numpy as np
sys.path.insert(0, sys.argv[2] + "/bench")
from synthetic_network import build_vocabulary, centre_submission
from harmonise.lake import Lake, LakeConfig
home = Path(sys.argv[1])
lake = Lake(LakeConfig(f"sqlite:///{home / 'catalog.db'}", f"file://{home / 'wh'}"), b"tag-key")
lake.init()
vocab = build_vocabulary(np.random.default_rng(1))
lake.commit(centre_submission(0, 30, vocab, 1, variants_per_patient=3))
lake.pin(lake.current_version(), "before-upgrade")
import harmonise
print(harmonise.__file__)
"""


@pytest.fixture
def old_lake(tmp_path: Path) -> Path:
    """A lake written by the old release's own code, in a separate interpreter."""
    if shutil.which("git") is None:
        pytest.skip("needs git to check out the old release")
    old = tmp_path / "old-release"
    old.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", OLD_RELEASE], capture_output=True, check=False
    )
    if archive.returncode != 0:
        pytest.skip(f"commit {OLD_RELEASE} is not in this checkout's history")
    subprocess.run(["tar", "-x", "-C", str(old)], input=archive.stdout, check=True)
    home = tmp_path / "home"
    (home / "wh").mkdir(parents=True)
    env = {**os.environ, "PYTHONPATH": str(old)}
    made = subprocess.run(
        [sys.executable, "-c", OLD_SCRIPT, str(home), str(old)], env=env, check=True,
        capture_output=True, text=True, cwd=old,
    )  # fmt: skip
    assert made.stdout.strip().splitlines()[-1].startswith(str(old))  # the old code ran
    return home


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
    assert set(created) == {"structural_variants", "copy_number_genes", "copy_number_segments"}
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
