"""Small submissions for the lake tests (made in code: the lake layer is format-agnostic)."""

from __future__ import annotations

import hashlib

import pyarrow as pa

from harmonise.lake import Submission


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
