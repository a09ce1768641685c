"""The synthetic network's treatment journeys, through the centre's pseudonymisation and
the hub's mapping: every treated patient has lines, deaths and censoring are there, and
centres differ in practice."""

from __future__ import annotations

import collections
import json
import re
from pathlib import Path
from typing import Any

import pytest

from harmonise.fhir import ClinicalRows, full_urls, map_resources, read_resources
from harmonise.pseudonymise import Pseudonymiser
from oncolake.demo.journeys import PATHWAYS, pathway_for, subgroup
from oncolake.demo.network import CentreSpec, write_centre

PIPELINE = {"id": "oncolake/dna_seq", "version": "0.1.0", "fingerprint": "sha256:" + "ab" * 32}


def _centre(tmp: Path, cid: str, n: int = 60) -> tuple[ClinicalRows, str]:
    export = write_centre(CentreSpec(cid, cid, "NL", n, "panel"), tmp / cid, 11, PIPELINE)
    res = read_resources(export.clinical)
    clean = Pseudonymiser(key=b"k", centre_id=cid).resources(res, full_urls(res))
    text = "\n".join(json.dumps(r) for r in clean)
    return map_resources([(str(i), r) for i, r in enumerate(clean)]), text


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[ClinicalRows, str]]:
    tmp = tmp_path_factory.mktemp("network")
    return {cid: _centre(tmp, cid) for cid in ("NKI", "GR", "DKFZ")}


def test_every_treated_patient_has_lines_and_outcomes(
    network: dict[str, tuple[ClinicalRows, str]],
) -> None:
    for rows, text in network.values():
        t = rows.tables
        treated = {m["patient_id"] for m in t["treatments"] if m["kind"] == "medication"}
        assert treated and treated == {r["patient_id"] for r in t["lines_of_therapy"]}
        assert all(m["drug_mapped"] for m in t["treatments"])
        assert not rows.warnings
        patients = t["patients"]
        dead = [p for p in patients if p["deceased"]]
        alive = [p for p in patients if not p["deceased"]]
        assert dead and alive  # survival needs both events and censoring
        assert all(p["death_day"] is not None and p["death_day"] >= 0 for p in dead)
        assert all(p["last_known_alive_day"] is not None for p in alive)
        assert all(p["last_known_alive_day"] <= p["death_day"] for p in dead)
        for r in t["lines_of_therapy"]:
            assert r["start_day"] <= r["end_day"]
            if r["next_line_start_day"] is not None:
                assert r["end_day"] < r["next_line_start_day"]
        assert not re.search(r"\d{4}-\d{2}-\d{2}", text)


def test_centres_differ_in_practice(network: dict[str, tuple[ClinicalRows, str]]) -> None:
    """The drug mix of first lines differs between centres (seeded preferences)."""
    mixes = {
        cid: collections.Counter(
            tuple(r["drugs"]) for r in rows.tables["lines_of_therapy"] if r["line"] == 1
        )
        for cid, (rows, _) in network.items()
    }
    assert len({frozenset(m.items()) for m in mixes.values()}) == len(mixes)


def test_pathways_follow_the_biomarkers() -> None:
    assert subgroup("LUAD", {"EGFR L858R"}, {}) == "EGFR"
    assert subgroup("MEL", {"BRAF V600E"}, {}) == "BRAF V600E"
    assert subgroup("IDC", set(), {"HER2": True}) == "HER2"
    assert subgroup("IDC", {"PIK3CA H1047R"}, {"HER2": False, "ER": True}) == "HR PIK3CA"
    assert subgroup("COAD", set(), {"MSI-H": True}) == "MSI-H"
    first: dict[str, Any] = {p.name: p.lines[0].phases[0].drugs for p in PATHWAYS[("LUAD", "EGFR")]}
    assert first == {
        "osimertinib first": ("osimertinib",), "gefitinib then osimertinib": ("gefitinib",)
    }  # fmt: skip
    assert pathway_for("XYZ", "other", ["temozolomide"], 0.3).lines[0].phases[0].drugs == (
        "temozolomide",
    )
