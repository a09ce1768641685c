"""Consent records: FHIR R4 Consent with DUO codes, parsed and validated."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from consent.errors import ConsentRecordError
from consent.records import parse_consent


def test_parse_example(fhir_consent: dict[str, Any]) -> None:
    rec = parse_consent(fhir_consent)
    assert rec.patient_id == "NKI-6f1e0c"
    assert rec.permissions == ("DUO:0000007",)
    assert rec.modifiers == ("DUO:0000045",)  # NPU given as a shorthand, stored as a CURIE
    assert rec.disease_codes == ("NSCLC",)
    assert rec.scope == ("genomic", "clinical")
    assert rec.form_version == "NKI-research-3.1"
    assert rec.shorthands() == ["DS", "NPU"]


def test_round_trip_through_fhir(fhir_consent: dict[str, Any]) -> None:
    rec = parse_consent(fhir_consent)
    assert parse_consent(rec.to_fhir()) == rec
    row = rec.to_row()
    assert row["year"] == 2023 and row["permissions"] == ["DUO:0000007"]


def test_every_problem_is_listed(fhir_consent: dict[str, Any]) -> None:
    bad = copy.deepcopy(fhir_consent)
    bad["status"] = "signed"
    bad["provision"]["code"] = [
        {"coding": [{"system": "http://purl.obolibrary.org/obo/duo.owl", "code": "DUO:00000077"}]},
        {"coding": [{"system": "http://purl.obolibrary.org/obo/duo.owl", "code": "NPU"}]},
    ]
    bad["provision"]["class"] = [{"system": "x", "code": "imaging"}]
    with pytest.raises(ConsentRecordError) as info:
        parse_consent(bad, "c.json")
    assert str(info.value) == (
        "c.json: 5 problem(s) in the consent record:\n"
        "  - Consent.status: 'signed' is not a FHIR consent status; use one of draft, proposed, "
        "active, rejected, inactive, entered-in-error\n"
        "  - Consent.provision.code[0].coding[0]: 'DUO:00000077' is not a DUO CURIE; write "
        "'DUO:' and 7 digits, e.g. 'DUO:0000042'\n"
        "  - Consent.provision.class[0]: 'imaging' is not a data scope; use system "
        "https://oncolake.org/fhir/CodeSystem/data-scope with code 'genomic' or 'clinical'\n"
        "  - Consent.provision.class: say what the consent covers: 'genomic' and/or 'clinical' "
        "(system https://oncolake.org/fhir/CodeSystem/data-scope)\n"
        "  - Consent.provision.code: no DUO data use permission; add one of GRU (DUO:0000042), "
        "HMB (DUO:0000006), DS (DUO:0000007), POA (DUO:0000011), NRES (DUO:0000004)"
    )


def test_ds_without_disease_is_refused(fhir_consent: dict[str, Any]) -> None:
    del fhir_consent["provision"]["code"][1]
    with pytest.raises(ConsentRecordError, match="DS \\(disease-specific research\\) needs"):
        parse_consent(fhir_consent)


def test_unknown_tumour_type_is_refused(fhir_consent: dict[str, Any]) -> None:
    fhir_consent["provision"]["code"][1]["coding"][0]["code"] = "LUNGX"
    with pytest.raises(ConsentRecordError, match="'LUNGX' is not an OncoTree code"):
        parse_consent(fhir_consent)


def test_time_limit_needs_an_end(fhir_consent: dict[str, Any]) -> None:
    codes = fhir_consent["provision"]["code"]
    codes.append({"coding": [{"system": "http://purl.obolibrary.org/obo/duo.owl", "code": "TS"}]})
    with pytest.raises(ConsentRecordError, match="TS \\(time limit on use\\) needs the end"):
        parse_consent(fhir_consent)
    fhir_consent["provision"]["period"] = {"end": "2030-06-30"}
    assert str(parse_consent(fhir_consent).valid_until) == "2030-06-30"


def test_not_fhir_structure_is_refused(fhir_consent: dict[str, Any]) -> None:
    del fhir_consent["scope"]
    with pytest.raises(ConsentRecordError, match=r"invalid FHIR R4 Consent: Consent\.scope: Field"):
        parse_consent(fhir_consent)
