"""The clinical path's speed-ups (issue 22) keep its checks and its output.

* The hub's FHIR validation checks oncolake's own extensions itself when they have exactly
  the shape ``oncolake submit`` writes; any other shape goes to the FHIR model as before.
* The centre reads each resource's dates once (anchor pass and offsets share them); the
  offsets are those of the resource as exported, less elements removed as identifiers.
"""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import pytest

from harmonise.errors import FhirError
from harmonise.fhir import _without_own_extensions, validate_resource
from harmonise.pseudonymise import (
    ANCHOR_URL,
    LAST_KNOWN_ALIVE_URL,
    RELATIVE_DAYS_URL,
    Pseudonymiser,
    _dates,
)

PATIENT: dict[str, Any] = {
    "resourceType": "Patient",
    "id": "p1",
    "birthDate": "1960",
    "extension": [
        {
            "url": ANCHOR_URL,
            "extension": [
                {"url": "kind", "valueCode": "primary_diagnosis"},
                {"url": "year", "valueInteger": 2018},
            ],
        },
        {"url": LAST_KNOWN_ALIVE_URL, "valueInteger": 230},
        {"url": "http://example.org/other", "valueString": "kept for the model"},
    ],
}


def test_own_extensions_in_the_submit_shape_are_left_out_of_the_model() -> None:
    r = copy.deepcopy(PATIENT)
    checked = _without_own_extensions(r)
    assert checked["extension"] == [PATIENT["extension"][2]]
    assert r == PATIENT  # the resource itself is not changed
    assert validate_resource(r, "here") is r


@pytest.mark.parametrize(
    ("ext", "field"),
    [
        ({"url": LAST_KNOWN_ALIVE_URL, "valueInteger": "abc"}, "valueInteger"),
        ({"url": LAST_KNOWN_ALIVE_URL, "valueInteger": 2**31}, "valueInteger"),
        ({"url": RELATIVE_DAYS_URL, "valueString": 5}, "valueString"),
        ({"url": RELATIVE_DAYS_URL, "valueString": "a=1", "valueInteger": 1}, "multiple"),
        ({"url": RELATIVE_DAYS_URL, "valueString": ""}, "valueString"),
        ({"url": ANCHOR_URL, "extension": [{"url": "kind", "valueCode": 7}]}, "valueCode"),
    ],
)
def test_own_extensions_in_another_shape_are_validated_by_the_model(
    ext: dict[str, Any], field: str
) -> None:
    r = {"resourceType": "Patient", "id": "p1", "extension": [ext]}
    assert _without_own_extensions(r) is r  # not the submit shape: the model sees it
    with pytest.raises(FhirError, match=rf"here: invalid Patient: field extension.*{field}"):
        validate_resource(r, "here")


def test_dates_found_with_their_paths() -> None:
    r = {
        "resourceType": "MedicationRequest",
        "meta": {"lastUpdated": "2020-01-01T00:00:00Z"},
        "authoredOn": "2018-04-01",
        "dosageInstruction": [
            {"timing": {"repeat": {"boundsPeriod": {"start": "2018-04-02", "end": "2018"}}}},
            {"timing": {"event": ["2018-04-03", "2018-04"]}},
        ],
        "extension": [{"url": RELATIVE_DAYS_URL, "valueString": "x=1"}],
        "note": [{"time": "2018-05-01T10:00:00Z", "text": "1999-01-01 is text"}],
    }
    assert _dates(r) == [
        ("authoredOn", dt.date(2018, 4, 1)),
        ("dosageInstruction[0].timing.repeat.boundsPeriod.start", dt.date(2018, 4, 2)),
        ("dosageInstruction[1].timing.event[0]", dt.date(2018, 4, 3)),
        ("note[0].time", dt.date(2018, 5, 1)),
    ]


def test_offsets_leave_out_dates_of_elements_dropped_as_identifiers() -> None:
    """A note (a direct identifier, dropped with ``drop``) dated before the first
    medication still counts for the anchor pass but gets no offset of its own."""
    pat = {"resourceType": "Patient", "id": "p1", "birthDate": "1960-01-01"}
    med = {
        "resourceType": "MedicationRequest",
        "id": "m1",
        "status": "active",
        "intent": "order",
        "subject": {"reference": "Patient/p1"},
        "medicationCodeableConcept": {"text": "cisplatin"},
        "authoredOn": "2018-04-11",
        "note": [{"time": "2018-04-01", "text": "seen"}],
    }
    out = Pseudonymiser(key=b"k", centre_id="C", drop=True).resources([("a", pat), ("b", med)], {})
    (rel,) = [e for e in out[1]["extension"] if e["url"] == RELATIVE_DAYS_URL]
    assert "note" not in out[1]
    assert rel["valueString"] == "authoredOn=10"  # anchored at the note (first record)
