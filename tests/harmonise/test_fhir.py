"""FHIR reading and mapping (harmonise/fhir.py): every mCODE and Genomics Reporting
example parses; an unknown patient and an invalid resource are refused, naming where.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harmonise.errors import FhirError, UnknownPatientError
from harmonise.fhir import map_resources, read_resources
from harmonise.lake import Lake
from tests.harmonise.conftest import JENNY, ingest_shared


def test_unknown_patient_and_invalid_fhir_refused(
    tmp_path: Path, ingest_tn_vcf: Path, ingest_lake: Lake
) -> None:
    cond = json.loads(
        (JENNY.parent / "Condition-primary-cancer-condition-jenny-m.json").read_text()
    )
    cond["subject"] = {"reference": "Patient/somebody-else"}
    rows = read_resources(JENNY)
    with pytest.raises(UnknownPatientError, match="references Patient/somebody-else"):
        map_resources([*rows, ("x.json", cond)])
    bad = tmp_path / "bad.ndjson"
    bad.write_text(
        '{"resourceType": "Patient", "gender": "female"}\n'
        '{"resourceType": "Patient", "birthDate": "not-a-date"}\n'
    )
    with pytest.raises(FhirError, match=r"bad\.ndjson, line 2: invalid Patient: field birthDate"):
        read_resources(bad)


def test_all_mcode_and_genomics_reporting_examples_parse() -> None:
    counts = {}
    for ig, expected in (
        ("hl7.fhir.us.mcode-4.0.0", 179),
        ("hl7.fhir.uv.genomics-reporting-3.0.0", 204),
    ):
        files = sorted(ingest_shared("mcode", ig, "example").glob("*.json"))
        resources = [r for f in files for r in read_resources(f)]
        counts[ig] = len(files)
        assert len(files) == expected
        rows = map_resources(resources)
        assert rows.tables["patients"]
    assert counts == {"hl7.fhir.us.mcode-4.0.0": 179, "hl7.fhir.uv.genomics-reporting-3.0.0": 204}
