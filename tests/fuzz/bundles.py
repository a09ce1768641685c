"""A small valid submission bundle made in code (no shared data): the fuzz suite's seed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harmonise.bundle import sha256_file

PATIENT = "TST-0a1b2c3d"


def patient() -> dict[str, Any]:
    return {"resourceType": "Patient", "id": PATIENT, "gender": "female"}


def condition() -> dict[str, Any]:
    return {
        "resourceType": "Condition",
        "id": "cond-1",
        "subject": {"reference": f"Patient/{PATIENT}"},
        "code": {"coding": [{"system": "http://snomed.info/sct", "code": "254637007"}]},
        "meta": {
            "profile": [
                "http://hl7.org/fhir/us/mcode/StructureDefinition/mcode-primary-cancer-condition"
            ]
        },
        "recordedDate": "2019",
    }


def consent() -> dict[str, Any]:
    duo = {"system": "http://purl.obolibrary.org/obo/duo.owl", "code": "DUO:0000042"}
    scope = {"system": "https://oncolake.org/fhir/CodeSystem/data-scope", "code": "clinical"}
    return {
        "resourceType": "Consent",
        "id": "consent-1",
        "status": "active",
        "scope": {
            "coding": [
                {"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "research"}
            ]
        },
        "category": [{"coding": [{"system": "http://loinc.org", "code": "57016-8"}]}],
        "patient": {"reference": f"Patient/{PATIENT}"},
        "dateTime": "2019",
        "policy": [{"uri": "urn:oncolake:consent-form:TST-research-1"}],
        "provision": {"type": "permit", "class": [scope], "code": [{"coding": [duo]}]},
    }


def manifest() -> dict[str, Any]:
    return {
        "format_version": 1,
        "dataset_id": "TST-fuzz",
        "title": "Fuzz seed",
        "centre": {"id": "TST", "name": "Test Cancer Centre", "country": "NL"},
        "data_controller": {
            "name": "Test Cancer Centre",
            "contact_name": "Data office",
            "contact_email": "dpo@test.example",
        },
        "legal_basis": "consent",
        "data_types": ["clinical", "consent"],
        "analysis": "none",
        "consent_form_version": "TST-research-1",
        "duo_codes": ["DUO:0000042"],
        "files": [],
    }


FILES = {
    "clinical/clinical.ndjson": lambda: "".join(
        json.dumps(r) + "\n" for r in (patient(), condition())
    ),
    "consent/consent.ndjson": lambda: json.dumps(consent()) + "\n",
    "provenance/provenance.json": lambda: json.dumps({"pipeline_id": "none"}),
}


def file_entry(bundle: Path, rel: str) -> dict[str, Any]:
    p = bundle / rel
    fmt = "format_3464"
    return {"path": rel, "sha256": sha256_file(p), "size": p.stat().st_size, "format": fmt}


def write_bundle(bundle: Path) -> dict[str, Any]:
    """Write the seed bundle into ``bundle``; return its manifest (as written)."""
    for rel, text in FILES.items():
        (bundle / rel).parent.mkdir(parents=True, exist_ok=True)
        (bundle / rel).write_text(text())
    m = manifest()
    m["files"] = [file_entry(bundle, rel) for rel in FILES]
    (bundle / "manifest.json").write_text(json.dumps(m, indent=1))
    return m
