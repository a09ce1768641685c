"""Fuzzing the FHIR reader and mapping (harmonise/fhir.py): any change to a valid mCODE
resource either maps to rows or is refused with the project's own one-line error; nothing
else is raised and no example hangs. Seeds: the mCODE STU4 examples in ../shared/data (when
present) and the fuzz bundle's own resources."""

from __future__ import annotations

import copy
import json
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from harmonise.fhir import map_resources, read_resources
from harmonise.pseudonymise import check_no_direct_identifiers
from tests.conftest import shared_data
from tests.fuzz.bundles import condition, patient
from tests.fuzz.conftest import FUZZ, within
from tests.fuzz.test_fuzz_bundle import JSON
from tests.fuzz.test_fuzz_vcf import OWN_ERRORS, one_line

KINDS = ("Patient", "Condition", "Observation", "MedicationRequest", "MedicationAdministration",
         "Procedure", "Bundle")  # fmt: skip


def _seeds() -> list[dict[str, Any]]:
    seeds = [patient(), condition()]
    try:
        folder = shared_data("mcode", "hl7.fhir.us.mcode-4.0.0", "example")
    except BaseException:
        return seeds
    for p in sorted(folder.glob("*.json")):
        if p.name.split("-")[0] in KINDS:
            seeds.append(json.loads(p.read_text()))
    return seeds


SEEDS = _seeds()
VALUES = st.one_of(
    JSON,
    st.sampled_from(
        [
            "2019", "2019-05", "2019-13", "2019-05-01T10:00:00Z", "", "x", 0, -1, 10**30, 1e308,
            [], {}, [{}], {"coding": [{}]}, {"coding": [{"code": "C34.1"}]}, {"value": "x"},
            {"value": 12.5, "unit": "a"}, {"reference": "Patient/"}, {"reference": "urn:uuid:x"},
            {"start": "2020"}, {"url": "x"}, [{"url": "x", "valueInteger": 5}], None,
        ]
    ),
)  # fmt: skip


def _paths(value: Any, at: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [at] if at else []
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, (*at, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, (*at, i))
    return out


def _subjects(value: Any) -> set[str]:
    out: set[str] = set()
    if isinstance(value, dict):
        ref = value.get("reference")
        if isinstance(ref, str) and ref.startswith("Patient/"):
            out.add(ref.removeprefix("Patient/"))
        for v in value.values():
            out |= _subjects(v)
    elif isinstance(value, list):
        for v in value:
            out |= _subjects(v)
    return out


@st.composite
def mutated(draw: st.DrawFn) -> tuple[dict[str, Any], set[str]]:
    seed = copy.deepcopy(draw(st.sampled_from(SEEDS)))
    patients = (
        _subjects(seed) | {seed["id"]} if seed.get("resourceType") == "Patient" else _subjects(seed)
    )
    for _ in range(draw(st.integers(1, 3))):
        paths = [p for p in _paths(seed) if p != ("resourceType",)]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent: Any = seed
        for part in path[:-1]:
            parent = parent[part]
        if draw(st.integers(0, 3)) == 0:
            del parent[path[-1]]
        else:
            parent[path[-1]] = copy.deepcopy(draw(VALUES))  # never change the pool's own
    return seed, patients


@FUZZ
@given(case=mutated(), ndjson=st.booleans())
def test_any_resource_maps_or_is_refused_in_one_line(
    case: tuple[dict[str, Any], set[str]], ndjson: bool
) -> None:
    resource, patients = case
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / ("clinical.ndjson" if ndjson else "clinical.json")
        path.write_text(json.dumps(resource) + "\n")
        try:
            with within():
                resources = read_resources(path)
                check_no_direct_identifiers(resources)
                map_resources(resources, patients)
        except OWN_ERRORS as exc:
            one_line(exc)
