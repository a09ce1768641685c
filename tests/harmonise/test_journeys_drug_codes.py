"""The codes of ``harmonise/data/drugs.tsv`` against the data in reach, and their use.

RxNorm: the only RxNorm data in reach are the RxNorm codings of the HL7 example instances
in ../shared/data (mCODE STU4, Genomics Reporting STU3); no RxNorm release is. Every
ingredient coding there (display = a drug name of the table) is compared with the table;
rows marked ``rxnorm:mcode-examples`` must be among them, the others are ``unchecked``.
SNOMED CT: the substance codes listed (``snomed:ch-term``) map to their drug.
ATC: the current code of every row (``atc:mii-onko-2024``) was checked against the MII
Onkologie value set of ATC-DE 2024 codes (read on 2026-12-04; docs/ingest.md); no copy
of it is in the repo or in ../shared (no licence found), so no test here can compare with it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from harmonise.drugs import RXNORM, SNOMED, drug_for, rxnorm_codes
from harmonise.fhir import map_resources

REPO = Path(__file__).resolve().parents[2]
SHARED_MCODE = REPO.parent / "shared" / "data" / "mcode"
TABLE = REPO / "harmonise" / "data" / "drugs.tsv"


def rows() -> list[dict[str, str]]:
    lines = [x for x in TABLE.read_text().splitlines() if x and not x.startswith("#")]
    cols = lines[0].split("\t")
    return [dict(zip(cols, (x.split("\t") + [""] * len(cols))[: len(cols)], strict=True))
            for x in lines[1:]]  # fmt: skip


def _codings(doc: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if isinstance(doc, dict):
        if "system" in doc and "code" in doc:
            out.append(doc)
        for v in doc.values():
            out += _codings(v)
    elif isinstance(doc, list):
        for v in doc:
            out += _codings(v)
    return out


def test_every_code_has_its_source_marked() -> None:
    for r in rows():
        src = set(r["sources"].split())
        assert bool(r["rxnorm"]) == bool(src & {"rxnorm:mcode-examples", "rxnorm:unchecked"})
        assert bool(r["atc"]) == ("atc:mii-onko-2024" in src), r["drug"]
        assert bool(r["snomed"]) == ("snomed:ch-term" in src), r["drug"]


def test_rxnorm_codes_agree_with_the_hl7_examples() -> None:
    if not SHARED_MCODE.exists():
        pytest.skip(f"needs {SHARED_MCODE} (the shared real-data folder beside the repo)")
    table = {r["drug"]: r for r in rows()}
    seen: dict[str, str] = {}
    for f in sorted(SHARED_MCODE.rglob("*.json")):
        for c in _codings(json.loads(f.read_text(encoding="utf-8", errors="replace"))):
            name = str(c.get("display") or "").lower()
            if c.get("system") == RXNORM and name in table:  # an ingredient coding
                assert seen.setdefault(name, c["code"]) == c["code"], f.name
                assert table[name]["rxnorm"] == c["code"], f"{name}: {f.name} has {c['code']}"
    marked = {d for d, r in table.items() if "rxnorm:mcode-examples" in r["sources"]}
    assert set(seen) == marked  # every row marked checked was checked, and no other
    assert len(marked) == 13


def test_current_atc_codes_come_first() -> None:
    """The first ATC code of a row is the current one: no L01XC/L01XE code (moved to
    L01E*/L01F* in 2022) comes before its successor."""
    for r in rows():
        codes = r["atc"].split("|") if r["atc"] else []
        assert all(len(c) == 7 for c in codes), r["drug"]
        assert not codes or not codes[0].startswith(("L01XC", "L01XE")), r["drug"]


@pytest.mark.parametrize("row", [r for r in rows() if r["snomed"]], ids=lambda r: r["drug"])
def test_snomed_substance_codes_map_to_their_drug(row: dict[str, str]) -> None:
    got = drug_for([{"system": SNOMED, "code": row["snomed"], "display": "x"}])
    assert got is not None and (got.name, got.matched_by) == (row["drug"], "snomed")


def test_rxnorm_codes_for_the_demo_are_the_ingredients() -> None:
    codes = rxnorm_codes()
    assert codes["crizotinib"] == "1148495" and codes["paclitaxel"] == "56946"
    assert all("|" not in c for c in codes.values())


def test_unmapped_medications_are_reported_per_submission() -> None:
    res = [
        ("p", {"resourceType": "Patient", "id": "p1"}),
        ("m", {"resourceType": "MedicationRequest", "id": "m1", "status": "active",
               "intent": "order", "subject": {"reference": "Patient/p1"},
               "medicationCodeableConcept": {"coding": [
                   {"system": SNOMED, "code": "999999999", "display": "Investigational X"}]}}),
    ]  # fmt: skip
    out = map_resources(res)
    assert out.unmapped_drugs == {"http://snomed.info/sct|999999999 (Investigational X)": 1}
    assert any("999999999" in w and "drugs.tsv" in w for w in out.warnings)
    (t,) = out.tables["treatments"]
    assert t["drug_mapped"] is False and t["line_of_therapy"] is None
