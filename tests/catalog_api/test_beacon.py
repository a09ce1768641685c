"""Beacon v2 over HTTP: every endpoint's response valid against the framework and
default-model JSON Schemas in ``../shared/data/beacon`` ($refs resolved to local files),
request bodies valid against the request schema, counts consent-aware and disclosure-
controlled."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from harmonise.lake import Lake
from tests.catalog_api.conftest import ApiUserFactory
from tests.catalog_api.discoveryhelpers import make_discovery_lake

BEACON = Path(__file__).resolve().parents[3] / "shared" / "data" / "beacon"
if not BEACON.exists():
    BEACON = Path("/work/shared/data/beacon")
GITHUB = "https://raw.githubusercontent.com/ga4gh-beacon/beacon-v2/main/"
VRS = "https://w3id.org/ga4gh/schema/vrs/1.3/vrs.json"
FRAMEWORK = GITHUB + "framework/json/"
MODEL = GITHUB + "models/json/beacon-v2-default-model/"

pytestmark = pytest.mark.skipif(
    not (BEACON / "beacon-v2").exists(), reason="../shared/data/beacon (Beacon v2 schemas) absent"
)


@cache
def registry() -> Registry:
    """Every Beacon schema under its GitHub URL (and VRS under its w3id URL)."""
    resources = []
    root = BEACON / "beacon-v2"
    for path in [*(root / "framework").rglob("*.json"), *(root / "models").rglob("*.json")]:
        uri = GITHUB + str(path.relative_to(root))
        contents = json.loads(path.read_text(encoding="utf-8"))
        resources.append((uri, Resource.from_contents(contents, default_specification=DRAFT202012)))
    vrs = json.loads((BEACON / "ga4gh-vrs-1.3.0" / "vrs.json").read_text(encoding="utf-8"))
    resources.append((VRS, Resource.from_contents(vrs, default_specification=DRAFT202012)))
    return Registry().with_resources(resources)


def validate(document: Any, schema_url: str) -> None:
    """Raise if ``document`` is not valid against the schema at ``schema_url``."""
    validator = Draft202012Validator({"$ref": schema_url}, registry=registry())
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors[:5]]


@pytest.fixture(scope="module")
def discovery_lake(tmp_path_factory: pytest.TempPathFactory) -> Lake:
    """The discovery test lake."""
    return make_discovery_lake(str(tmp_path_factory.mktemp("beacon-lake")))


@pytest.fixture
def lake(discovery_lake: Lake) -> Lake:
    """The app serves the discovery lake."""
    return discovery_lake


def test_validator_rejects_a_wrong_document() -> None:
    with pytest.raises(AssertionError):
        validate({"meta": {"beaconId": 1}}, FRAMEWORK + "responses/beaconCountResponse.json")


INFO_ENDPOINTS = [
    ("info", "responses/beaconInfoResponse.json"),
    ("configuration", "responses/beaconConfigurationResponse.json"),
    ("map", "responses/beaconMapResponse.json"),
    ("entry_types", "responses/beaconEntryTypesResponse.json"),
    ("filtering_terms", "responses/beaconFilteringTermsResponse.json"),
    ("service-info", "responses/ga4gh-service-info-1-0-0-schema.json"),
    ("datasets", "responses/beaconCollectionsResponse.json"),
    ("cohorts", "responses/beaconCollectionsResponse.json"),
]


def test_informational_endpoints_are_valid_and_public(http: httpx.Client) -> None:
    for path, schema in INFO_ENDPOINTS:
        r = http.get(f"/api/beacon/v2/{path}")
        assert r.status_code == 200, (path, r.text)
        validate(r.json(), FRAMEWORK + schema)
    datasets = http.get("/api/beacon/v2/datasets").json()["response"]["collections"]
    for d in datasets:
        validate(d, MODEL + "datasets/defaultSchema.json")
    assert [d["id"] for d in datasets] == ["DA", "DB"]
    cohorts = http.get("/api/beacon/v2/cohorts").json()["response"]["collections"]
    for c in cohorts:
        validate(c, MODEL + "cohorts/defaultSchema.json")
    # centre CA has 23 patients (rounded 25), CB 14 (rounded 15)
    assert {c["id"]: c.get("cohortSize") for c in cohorts} == {"centre:CA": 25, "centre:CB": 15}
    terms = http.get("/api/beacon/v2/filtering_terms").json()["response"]["filteringTerms"]
    ids = {t["id"] for t in terms}
    assert {"oncotree:SKCM", "gene:BRAF", "HER2:positive", "age_at_diagnosis"} <= ids


def request_body(
    filters: list[Any], params: dict[str, Any] | None = None, granularity: str = "count"
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "meta": {"apiVersion": "2.0"},
        "query": {"filters": filters, "requestedGranularity": granularity},
    }
    validate(body, FRAMEWORK + "requests/beaconRequestBody.json")
    if params:
        # g_variant parameters are defined by the model, not by the framework's generic
        # requestParameters (objects only): validate them against the model's schema
        gv = {k: v for k, v in params.items() if k != "purpose"}
        if gv:
            validate(gv, MODEL + "genomicVariations/requestParameters.json#/g_variant")
        else:
            validate(
                {**body, "query": {**body["query"], "requestParameters": params}},
                FRAMEWORK + "requests/beaconRequestBody.json",
            )
        body["query"]["requestParameters"] = params
    return body


def test_counts_are_valid_consent_aware_and_disclosure_controlled(
    http: httpx.Client, api_user: ApiUserFactory
) -> None:
    headers = api_user("researcher").headers
    count_schema = FRAMEWORK + "responses/beaconCountResponse.json"
    bool_schema = FRAMEWORK + "responses/beaconBooleanResponse.json"
    # melanoma: 20 patients, all GRU → 20 (default purpose: the most restrictive)
    r = http.post(
        "/api/beacon/v2/individuals", headers=headers, json=request_body([{"id": "oncotree:MEL"}])
    )
    assert r.status_code == 200, r.text
    validate(r.json(), count_schema)
    assert r.json()["responseSummary"] == {"exists": True, "numTotalResults": 20}
    assert r.json()["meta"]["returnedGranularity"] == "count"
    # HER2 positive: HMB consents only → 0 for the default purpose, 5 for health research
    her2 = [{"id": "HER2:positive"}]
    r = http.post("/api/beacon/v2/individuals", headers=headers, json=request_body(her2))
    assert r.json()["responseSummary"] == {"exists": False, "numTotalResults": 0}
    r = http.post(
        "/api/beacon/v2/individuals",
        headers=headers,
        json=request_body(her2, {"purpose": {"primary": "health"}}),
    )
    assert r.json()["responseSummary"] == {"exists": True, "numTotalResults": 5}
    # below the threshold: 0 / false, never the number (4 patients aged 40-41)
    young = [
        {"id": "age_at_diagnosis", "operator": "<=", "value": "41"},
        {"id": "age_at_diagnosis", "operator": ">=", "value": "40"},
    ]
    r = http.post("/api/beacon/v2/biosamples", headers=headers, json=request_body(young))
    validate(r.json(), count_schema)
    assert r.json()["responseSummary"] == {"exists": False, "numTotalResults": 0}
    # boolean granularity, g_variants with request parameters (26 V600E carriers → 25)
    r = http.post(
        "/api/beacon/v2/g_variants",
        headers=headers,
        json=request_body([], {"geneId": "BRAF", "aminoacidChange": "V600E"}, "boolean"),
    )
    validate(r.json(), bool_schema)
    assert r.json()["responseSummary"] == {"exists": True}
    r = http.get(
        "/api/beacon/v2/g_variants",
        headers=headers,
        params={"geneId": "BRAF", "aminoacidChange": "V600E"},
    )
    validate(r.json(), count_schema)
    assert r.json()["responseSummary"]["numTotalResults"] == 25
    # record granularity is answered at count level
    r = http.get(
        "/api/beacon/v2/individuals",
        headers=headers,
        params={"filters": "oncotree:BOWEL,NCIT:C20197", "requestedGranularity": "record"},
    )
    assert r.json()["meta"]["returnedGranularity"] == "count"
    assert r.json()["responseSummary"]["numTotalResults"] == 5  # 6 male CRC → 5


def test_bad_requests_are_beacon_errors(http: httpx.Client, api_user: ApiUserFactory) -> None:
    headers = api_user("researcher").headers
    error_schema = FRAMEWORK + "responses/beaconErrorResponse.json"
    cases = [
        ({"query": {"filters": [{"id": "oncotree:NOPE"}]}}, "unknown OncoTree code 'NOPE'"),
        ({"query": {"filters": [{"id": "zodiac:leo"}]}}, "unknown marker 'zodiac'"),
        ({"query": {"filters": [{"id": "what"}]}}, "unknown filter id"),
        ({"query": {"requestParameters": {"start": {"v": 1}}}}, "requestParameters.start"),
        (
            {"query": {"filters": [{"id": "age_at_diagnosis", "operator": ">=", "value": "old"}]}},
            "'old' is not a number",
        ),
        (
            {"query": {"requestParameters": {"purpose": {"primary": "x"}}}},
            "requestParameters.purpose",
        ),
    ]
    for body, words in cases:
        r = http.post(
            "/api/beacon/v2/individuals",
            headers=headers,
            json={"meta": {"apiVersion": "2.0"}, **body},
        )
        assert r.status_code == 400, (body, r.text)
        validate(r.json(), error_schema)
        assert words in r.json()["error"]["errorMessage"], r.json()
    assert http.get("/api/beacon/v2/individuals").status_code == 401
