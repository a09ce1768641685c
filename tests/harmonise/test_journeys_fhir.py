"""Clinical time end to end: mCODE dates → day offsets at the centre → lake rows →
regimens and lines of therapy (the mCODE STU4 example patient Jenny M)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from harmonise.bundle import SubmitInputs, build_bundle
from harmonise.errors import DirectIdentifierError
from harmonise.fhir import full_urls, map_resources, read_resources, validate_resource
from harmonise.ingest import ingest
from harmonise.journeys import default_rules
from harmonise.lake import Lake
from harmonise.pseudonymise import Pseudonymiser, check_no_direct_identifiers, pseudonym
from tests.harmonise.conftest import JENNY, JENNY_ID, KEY, ingest_draft, ingest_shared

MCODE = "http://hl7.org/fhir/us/mcode/StructureDefinition/"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
#: Jenny M's primary cancer condition: onsetDateTime 2018-03-16 (the anchor, day 0).
#: Her medication requests' dosage bounds start 2018-04-01 (cyclophosphamide,
#: doxorubicin: day 16), 2018-04-12 (paclitaxel: day 27) and 2018-09-30 (anastrozole:
#: day 198); surgery 2018-04-01 (day 16); radiotherapy 2018-08-15 to 2018-10-25 (days
#: 152-223); ER test 2018-03-10 (day -6); disease status "improved" 2018-11-01 (day 230,
#: her latest dated fact).


def _pseudonymised(
    resources: list[tuple[str, dict[str, Any]]], **kw: Any
) -> list[tuple[str, dict[str, Any]]]:
    urls = full_urls(resources)
    for _, r in resources:
        r.pop("_fullUrl", None)
    ps = Pseudonymiser(key=KEY, centre_id="TST", drop=True, **kw)
    return [(f"entry {i}", r) for i, r in enumerate(ps.resources(resources, urls))]


@pytest.fixture(scope="module")
def jenny() -> list[tuple[str, dict[str, Any]]]:
    ingest_shared("mcode")
    return _pseudonymised(read_resources(JENNY))


def _rows(resources: list[tuple[str, dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    return map_resources(resources).tables


def test_offsets_are_days_from_the_primary_diagnosis(
    jenny: list[tuple[str, dict[str, Any]]],
) -> None:
    t = _rows(jenny)
    (p,) = t["patients"]
    assert (p["anchor"], p["anchor_year"]) == ("primary_diagnosis", 2018)
    assert p["last_known_alive_day"] == 230 and p["death_day"] is None
    (c,) = t["conditions"]
    assert c["diagnosis_day"] == 0 and c["diagnosis_year"] == 2018 and c["stage_day"] == 0
    meds = {m["drug"]: (m["start_day"], m["end_day"], m["start_year"]) for m in t["treatments"]
            if m["kind"] == "medication"}  # fmt: skip
    assert meds == {
        "cyclophosphamide": (16, None, 2018), "doxorubicin": (16, None, 2018),
        "paclitaxel": (27, None, 2018), "anastrozole": (198, None, 2018),
    }  # fmt: skip
    procs = {m["kind"]: (m["start_day"], m["end_day"]) for m in t["treatments"]
             if m["kind"] != "medication"}  # fmt: skip
    assert procs == {"surgery": (16, 16), "radiotherapy": (152, 223)}
    er = next(b for b in t["biomarkers"] if b["marker"] == "ER")
    assert (er["day"], er["year"]) == (-6, 2018)
    (status,) = [o for o in t["outcomes"] if o["kind"] == "disease_status"]
    assert (status["days_from_diagnosis"], status["status"]) == (230, "improved")


def test_jennys_adjuvant_therapy_is_no_line_of_therapy(
    jenny: list[tuple[str, dict[str, Any]]],
) -> None:
    """Jenny is staged IIB/IIIC (no metastasis, no progression recorded): AC-T from day 16
    and anastrozole from day 198 are adjuvant (the requests' intent is curative), so by the
    rules' index (PMC8548977 Table 5 footnote b: the metastatic diagnosis) she has no line
    of therapy; the medications stay in ``treatments`` with their days."""
    t = _rows(jenny)
    assert "lines_of_therapy" not in t and "regimens" not in t
    meds = [m for m in t["treatments"] if m["kind"] == "medication"]
    assert [(m["drug"], m["start_day"], m["line_of_therapy"]) for m in meds] == [
        ("cyclophosphamide", 16, None), ("doxorubicin", 16, None), ("paclitaxel", 27, None),
        ("anastrozole", 198, None),
    ]  # fmt: skip
    assert {m["drug_class"] for m in meds if m.get("drug") == "anastrozole"} == {
        "endocrine: aromatase inhibitor"
    }


def test_jenny_counted_from_the_anchor_when_a_centre_chooses_it(
    jenny: list[tuple[str, dict[str, Any]]],
) -> None:
    """With ``index`` ``anchor`` (the rules before 2026-12.2), AC-T is line 1 and the
    anastrozole 171 days after the last chemotherapy record, past the 120-day gap, line 2."""
    import dataclasses

    t = map_resources(jenny, rules=dataclasses.replace(default_rules(), index="anchor")).tables
    lot = [
        (r["line"], r["drugs"], r["regimen_name"], r["start_day"], r["end_day"],
         r["end_reason"], r["next_line_start_day"])
        for r in t["lines_of_therapy"]
    ]  # fmt: skip
    assert lot == [
        (1, ["cyclophosphamide", "doxorubicin", "paclitaxel"], "AC-T", 16, 27, "next_line", 198),
        (2, ["anastrozole"], None, 198, 198, "ongoing", None),
    ]
    assert [r["regimen_id"].rsplit("/", 1)[1] for r in t["regimens"]] == ["L1R1", "L2R1"]


def jenny_relapsed(tmp_path: Path) -> Path:
    """Jenny M's bundle plus a progression on 2019-06-03 (day 444) and fulvestrant from
    2019-06-17 (day 458): the recurrence after stage II-III disease, then line 1."""
    doc = json.loads(ingest_shared("mcode").joinpath(*JENNY.parts[-3:]).read_text())
    subject = {"reference": f"Patient/{JENNY_ID}"}
    doc["entry"] += [
        {"fullUrl": "http://example.org/fhir/Observation/relapse-jenny-m", "resource": {
            "resourceType": "Observation", "id": "relapse-jenny-m", "status": "final",
            "meta": {"profile": [MCODE + "mcode-cancer-disease-status"]},
            "code": {"coding": [{"system": "http://loinc.org", "code": "97509-4"}]},
            "subject": subject, "effectiveDateTime": "2019-06-03",
            "valueCodeableConcept": {"coding": [{"system": "http://snomed.info/sct",
                                                 "code": "271299001"}]}}},
        {"fullUrl": "http://example.org/fhir/MedicationRequest/fulvestrant-jenny-m", "resource": {
            "resourceType": "MedicationRequest", "id": "fulvestrant-jenny-m", "status": "active",
            "meta": {"profile": [MCODE + "mcode-cancer-related-medication-request"]},
            "intent": "order", "subject": subject,
            "medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": "282357"}]},
            "dosageInstruction": [{"timing": {"repeat": {"boundsPeriod": {
                "start": "2019-06-17"}}}}]}},
    ]  # fmt: skip
    out = tmp_path / "jenny-relapsed.json"
    out.write_text(json.dumps(doc))
    return out


def test_no_absolute_date_leaves_the_centre(jenny: list[tuple[str, dict[str, Any]]]) -> None:
    text = "\n".join(json.dumps(r) for _, r in jenny)
    assert not re.search(r"\d{4}-\d{2}", text), re.search(r".{40}\d{4}-\d{2}.{20}", text)
    check_no_direct_identifiers(jenny)  # the hub's safety net agrees
    for where, r in jenny:  # and the pseudonymised resources are still valid FHIR R4
        validate_resource(r, where)


def test_hub_refuses_an_exact_date_naming_where() -> None:
    ingest_shared("mcode")
    raw = [(w, r) for w, r in read_resources(JENNY) if r["resourceType"] == "Condition"]
    for _, r in raw:
        for k in ("identifier", "text", "note"):
            r.pop(k, None)
    with pytest.raises(DirectIdentifierError, match=r"Condition\.onsetDateTime \(exact date\)"):
        check_no_direct_identifiers(raw)


def _patient(pid: str, **kw: Any) -> dict[str, Any]:
    return {"resourceType": "Patient", "id": pid, "gender": "female", **kw}


def _med(pid: str, rid: str, code: str, display: str, start: str, **kw: Any) -> dict[str, Any]:
    return {
        "resourceType": "MedicationAdministration",
        "id": rid,
        "meta": {"profile": [MCODE + "mcode-cancer-related-medication-administration"]},
        "status": kw.pop("status", "completed"),
        "medicationCodeableConcept": {
            "coding": [{"system": RXNORM, "code": code, "display": display}]
        },
        "subject": {"reference": f"Patient/{pid}"},
        "effectivePeriod": {"start": start, **kw},
    }


def test_patient_without_primary_diagnosis_is_anchored_at_the_first_record() -> None:
    res = [
        ("a", _patient("p1", birthDate="1960-05-05")),
        ("b", _med("p1", "m1", "1721560", "osimertinib", "2020-01-10", end="2020-06-30")),
        ("c", _med("p1", "m2", "999999", "ondansetron 8 MG", "2020-02-01")),
    ]
    out = _pseudonymised(res)
    t = map_resources(out)
    (p,) = t.tables["patients"]
    assert (p["anchor"], p["anchor_year"], p["last_known_alive_day"]) == ("first_record", 2020, 172)
    meds = sorted((m["drug"], m["drug_mapped"], m["start_day"], m["end_day"])
                  for m in t.tables["treatments"])  # fmt: skip
    assert meds == [("ondansetron", False, 22, None), ("osimertinib", True, 0, 172)]
    assert any("999999" in w and "drugs.tsv" in w for w in t.warnings)
    (line,) = t.tables["lines_of_therapy"]
    assert line["drugs"] == ["osimertinib"] and line["end_reason"] == "last_contact"


def test_death_day_and_coarser_offsets() -> None:
    res = [
        ("a", _patient("p2", deceasedDateTime="2021-03-20")),
        ("b", {
            "resourceType": "Condition", "id": "c2",
            "meta": {"profile": [MCODE + "mcode-primary-cancer-condition"]},
            "code": {"coding": [{"system": "http://snomed.info/sct", "code": "254637007"}]},
            "subject": {"reference": "Patient/p2"}, "onsetDateTime": "2020-01-01",
        }),
        ("c", _med("p2", "m3", "1721560", "osimertinib", "2020-01-20", end="2021-01-04")),
    ]  # fmt: skip
    exact = map_resources(_pseudonymised([(w, json.loads(json.dumps(r))) for w, r in res]))
    (p,) = exact.tables["patients"]
    assert (p["death_day"], p["last_known_alive_day"]) == (444, 369)
    deaths = [o for o in exact.tables["outcomes"] if o["kind"] == "death"]
    assert [(o["days_from_diagnosis"], o["status"]) for o in deaths] == [(444, "death")]
    assert exact.tables["lines_of_therapy"][0]["end_reason"] == "death"  # 75 days after
    weeks = map_resources(_pseudonymised(res, day_rounding=7))
    (pw,) = weeks.tables["patients"]
    assert (pw["death_day"], pw["last_known_alive_day"]) == (441, 371)
    assert {m["start_day"] for m in weeks.tables["treatments"]} == {21}


def test_submit_and_ingest_commit_the_journey(
    tmp_path: Path, ingest_tn_vcf: Path, ingest_consent_file: Path, ingest_lake: Lake
) -> None:
    ingest_shared("mcode")
    inputs = SubmitInputs(
        ingest_draft(), vcfs=[ingest_tn_vcf], clinical=[jenny_relapsed(tmp_path)],
        consent=[ingest_consent_file], drop_identifiers=True,
    )  # fmt: skip
    bundle, result = build_bundle(inputs, KEY, tmp_path / "out")
    assert result.report.anchors == {"primary_diagnosis": 1} and result.report.days_computed
    report, _ = ingest(ingest_lake, bundle)
    assert report.rows["lines_of_therapy"] == 1 and report.rows["regimens"] == 1
    pid = pseudonym(KEY, "TST", "Patient", JENNY_ID)
    lot = ingest_lake.read("lines_of_therapy").to_pylist()
    assert [(r["patient_id"], r["line"], r["drugs"], r["start_day"], r["end_reason"])
            for r in lot] == [(pid, 1, ["fulvestrant"], 458, "ongoing")]  # fmt: skip
    meds = {t["drug"]: t["line_of_therapy"] for t in ingest_lake.read("treatments").to_pylist()
            if t["kind"] == "medication"}  # fmt: skip
    assert meds == {"cyclophosphamide": None, "doxorubicin": None, "paclitaxel": None,
                    "anastrozole": None, "fulvestrant": 1}  # fmt: skip
    (ds,) = ingest_lake.read("datasets").to_pylist()
    assert json.loads(ds["journey_rules"])["version"] == default_rules().version
    assert ingest_lake.read("patients").to_pylist()[0]["last_known_alive_day"] == 458
    # withdrawal reaches the derived tables like every other (harmonise.withdrawal: all)
    removed = ingest_lake.delete_rows({"patient_id": [pid]})
    assert removed["lines_of_therapy"] == 1 and removed["regimens"] == 1
    assert ingest_lake.read("lines_of_therapy").num_rows == 0


def test_rederive_after_a_rules_change_is_one_commit_per_dataset(
    tmp_path: Path, ingest_tn_vcf: Path, ingest_consent_file: Path, ingest_lake: Lake
) -> None:
    """Counting from the anchor with a 10-day regimen window puts Jenny's paclitaxel (11
    days after AC) in a line of its own; the pinned version keeps the old derivation (no
    lines), a second run changes nothing."""
    import dataclasses

    from harmonise.journeys_rederive import rederive

    ingest_shared("mcode")
    inputs = SubmitInputs(
        ingest_draft(), vcfs=[ingest_tn_vcf], clinical=[JENNY], consent=[ingest_consent_file],
        drop_identifiers=True,
    )  # fmt: skip
    bundle, _ = build_bundle(inputs, KEY, tmp_path / "out")
    ingest(ingest_lake, bundle)
    before = ingest_lake.current_version()
    ingest_lake.pin(before, "paper-1")
    counts = ingest_lake.table_counts()
    assert rederive(ingest_lake).unchanged == ["TST-egfr-demo"]  # same rules: nothing to do
    assert ingest_lake.current_version() == before
    rules = dataclasses.replace(
        default_rules(), version="test-window-10", regimen_window_days=10, index="anchor"
    )
    report = rederive(ingest_lake, rules)
    assert list(report.changed) == ["TST-egfr-demo"] and report.changed["TST-egfr-demo"][2] == 3
    lot = ingest_lake.read("lines_of_therapy").to_pylist()
    assert [(r["line"], r["drugs"], r["rules_version"]) for r in lot] == [
        (1, ["cyclophosphamide", "doxorubicin"], "test-window-10"),
        (2, ["paclitaxel"], "test-window-10"),
        (3, ["anastrozole"], "test-window-10"),
    ]
    meds = [t["line_of_therapy"] for t in ingest_lake.read("treatments").to_pylist()
            if t["kind"] == "medication"]  # fmt: skip
    assert sorted(meds) == [1, 1, 2, 3]
    after = ingest_lake.table_counts()
    assert {k: v for k, v in after.items() if k not in ("lines_of_therapy", "regimens")} == {
        k: v for k, v in counts.items() if k not in ("lines_of_therapy", "regimens")
    }
    (ds,) = ingest_lake.read("datasets").to_pylist()
    assert json.loads(ds["journey_rules"])["regimen_window_days"] == 10
    old = ingest_lake.read("lines_of_therapy", version=ingest_lake.pins()["paper-1"])
    assert old.num_rows == 0  # the default rules: adjuvant therapy, no line
    assert rederive(ingest_lake, rules).unchanged == ["TST-egfr-demo"]
