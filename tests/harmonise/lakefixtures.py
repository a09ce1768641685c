"""Small submissions for the lake tests (made in code: the lake layer is format-agnostic)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

import pyarrow as pa

from harmonise.lake import LakeConfig, Submission


def make_submission(
    dataset_id: str,
    centre_id: str,
    patients: list[str],
    *,
    revision: int = 0,
    genes: tuple[str, ...] = ("BRAF", "KRAS", "TP53"),
) -> Submission:
    """A submission of ``patients`` with one condition, consent and a variant per gene."""
    sid = hashlib.sha256(f"{dataset_id}/{centre_id}/{revision}/{patients}".encode()).hexdigest()
    pats = pa.table(
        {
            "patient_id": patients,
            "sex": ["female" if i % 2 else "male" for i in range(len(patients))],
            "birth_year": [1950 + i % 40 for i in range(len(patients))],
        }
    )
    conds = pa.table(
        {
            "patient_id": patients,
            "condition_id": [f"{p}-c1" for p in patients],
            "kind": ["primary"] * len(patients),
            "oncotree_code": ["LUAD" if i % 3 else "COAD" for i in range(len(patients))],
        }
    )
    consents = pa.table(
        {
            "patient_id": patients,
            "consent_id": [f"{p}-consent" for p in patients],
            "status": ["active"] * len(patients),
            "permissions": [["DUO:0000042"]] * len(patients),
        }
    )
    vrows: dict[str, list[object]] = {
        k: []
        for k in (
            "patient_id",
            "genome_build",
            "chrom",
            "pos",
            "ref",
            "alt",
            "gene",
            "protein_change",
        )
    }
    for i, p in enumerate(patients):
        for j, g in enumerate(genes):
            vrows["patient_id"].append(p)
            vrows["genome_build"].append("GRCh37")
            vrows["chrom"].append("7")
            vrows["pos"].append(140453136 + i * 10 + j)
            vrows["ref"].append("A")
            vrows["alt"].append("T")
            vrows["gene"].append(g)
            vrows["protein_change"].append("V600E" if g == "BRAF" else f"X{j}Y")
    return Submission(
        submission_id=sid,
        dataset_id=dataset_id,
        centre_id=centre_id,
        dataset={
            "centre_name": f"Centre {centre_id}",
            "genome_build": "GRCh37",
            "duo_codes": ["DUO:0000042"],
            "title": f"{dataset_id} r{revision}",
        },
        tables={
            "patients": pats,
            "conditions": conds,
            "consents": consents,
            "variants": pa.table(vrows),
        },
        tags={"metadata_digest": sid, "duo_codes": ["DUO:0000042"], "consent_version": "1"},
    )


WORKER = Path(__file__).with_name("lake_worker.py")


def worker_config(tmp_path: Path, config: LakeConfig, tag_key: bytes) -> Path:
    """The lake's config as a file for :func:`spawn_worker`."""
    path = tmp_path / f"worker-{time.monotonic_ns()}.json"
    path.write_text(
        json.dumps(
            {
                "config": {**asdict(config), "properties": dict(config.properties)},
                "tag_key": tag_key.decode(),
            }
        )
    )
    return path


def spawn_worker(
    cfg: Path,
    dataset: str,
    centre: str,
    n: int,
    pause_at: str,
    marker: Path,
    release: Path | None = None,
) -> subprocess.Popen[bytes]:
    """A separate process committing a submission (``lake_worker.py``)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(Path(__file__).resolve().parents[2]), env.get("PYTHONPATH", "")]
    )
    args = [str(cfg), dataset, centre, str(n), pause_at, str(marker)]
    return subprocess.Popen(
        [sys.executable, str(WORKER), *args, *([str(release)] if release else [])],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def wait_for(marker: Path, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    """Wait until the worker ``proc`` writes ``marker`` (fail if it exits first)."""
    deadline = time.monotonic() + timeout
    while not marker.exists():
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        assert time.monotonic() < deadline, "the worker never reached its pause point"
        time.sleep(0.02)
