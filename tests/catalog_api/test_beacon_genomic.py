"""Beacon v2 ``variantType`` queries on the pipeline's structural variants and copy-number
calls (with ``geneId``), over HTTP: valid responses, the same disclosure as every Beacon
answer (threshold 5, rounding 5), and the count of the equivalent cohort definition."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from catalog_api.discovery.beacon import DEFAULT_PURPOSE
from catalog_api.discovery.definition import parse_definition
from catalog_api.discovery.engine import DiscoveryEngine
from harmonise.lake import Lake
from tests.catalog_api.conftest import ApiUserFactory
from tests.catalog_api.discoveryhelpers import P, make_discovery_lake, submission
from tests.catalog_api.test_beacon import FRAMEWORK, pytestmark, request_body, validate
from tests.catalog_api.test_discovery_genomic import _centre_g, genomic_submission

__all__ = ["pytestmark"]  # skipped with test_beacon when the Beacon schemas are absent

# centre CH: six CDKN2A deletions (H01-H06), two CDKN2A deep deletions by copy number
# (H07, H08), five EML4-ALK inversions (H01-H05), one FILTER-failed ALK inversion (H09)
SV_H = {
    **{f"H{i:02d}": [(None, None, "PASS", "DEL", ["CDKN2A"], ["CDKN2A"])] for i in range(1, 7)},
    "H09": [(None, None, "LowQual", "INV", ["EML4"], ["ALK"])],
}
for _i in range(1, 6):
    SV_H[f"H{_i:02d}"] = [*SV_H[f"H{_i:02d}"], (None, None, "PASS", "INV", ["EML4"], ["ALK"])]
CN_H = {"H07": [("CDKN2A", "deep_deletion")], "H08": [("CDKN2A", "deep_deletion")]}
BM_H = {"H01": [("TMB", None, 3.0, None, None, "pipeline")]}
COUNT = FRAMEWORK + "responses/beaconCountResponse.json"
BOOLEAN = FRAMEWORK + "responses/beaconBooleanResponse.json"
ERROR = FRAMEWORK + "responses/beaconErrorResponse.json"


@pytest.fixture(scope="module")
def beacon_lake(tmp_path_factory: pytest.TempPathFactory) -> Lake:
    lake = make_discovery_lake(str(tmp_path_factory.mktemp("beacon-genomic-lake")))
    lake.commit(_centre_g())
    pats = [P(f"H{i:02d}", oncotree="LUAD") for i in range(1, 10)]
    lake.commit(genomic_submission(submission("DH", "CH", pats), SV_H, CN_H, BM_H))
    return lake


@pytest.fixture
def lake(beacon_lake: Lake) -> Lake:
    return beacon_lake


@pytest.fixture(scope="module")
def engine(beacon_lake: Lake) -> DiscoveryEngine:
    e = DiscoveryEngine(beacon_lake)
    e.refresh()
    return e


def _true_count(engine: DiscoveryEngine, criteria: dict[str, Any]) -> int:
    """The exact count for the Beacon's default purpose (the most restrictive)."""
    return engine.count(parse_definition({"criteria": criteria}), DEFAULT_PURPOSE).total


@pytest.mark.parametrize(
    ("params", "criteria", "answer"),
    [
        # SV deletions H01-H06 + copy-number deep deletions H07, H08 and G11: 9 → 10
        (
            {"geneId": "CDKN2A", "variantType": "DEL"},
            {
                "type": "or",
                "criteria": [
                    {"type": "structural_variant", "gene": "CDKN2A", "sv_types": ["DEL"]},
                    {"type": "copy_number", "gene": "CDKN2A", "calls": ["loss", "deep_deletion"]},
                ],
            },
            {"exists": True, "numTotalResults": 10},
        ),
        # complete genomic deletion: copy number only (H07, H08, G11): below 5 → 0/false
        (
            {"geneId": "cdkn2a", "variantType": "EFO:0030069"},
            {"type": "copy_number", "gene": "CDKN2A", "calls": ["deep_deletion"]},
            {"exists": False, "numTotalResults": 0},
        ),
        # inversions with a breakpoint in ALK (H01-H05; H09 failed its filter): 5
        (
            {"geneId": "ALK", "variantType": "INV"},
            {"type": "structural_variant", "gene": "ALK", "sv_types": ["INV"]},
            {"exists": True, "numTotalResults": 5},
        ),
        # a translocation is a breakend: BCR::ABL1 of G13 only → 0/false
        (
            {"geneId": "ABL1", "variantType": "TRA"},
            {"type": "structural_variant", "gene": "ABL1", "sv_types": ["BND"]},
            {"exists": False, "numTotalResults": 0},
        ),
    ],
)
def test_variant_type_queries_answer_as_the_equivalent_definition_disclosed(
    http: httpx.Client,
    api_user: ApiUserFactory,
    engine: DiscoveryEngine,
    params: dict[str, str],
    criteria: dict[str, Any],
    answer: dict[str, Any],
) -> None:
    true = _true_count(engine, criteria)
    expected_count = 0 if true < 5 else 5 * round(true / 5)
    assert answer == {"exists": true >= 5, "numTotalResults": expected_count}
    headers = api_user("researcher").headers
    r = http.post("/api/beacon/v2/g_variants", headers=headers, json=request_body([], params))
    assert r.status_code == 200, r.text
    validate(r.json(), COUNT)
    assert r.json()["responseSummary"] == answer
    assert r.json()["meta"]["receivedRequestSummary"]["requestParameters"] == {"g_variant": params}
    r = http.get(
        "/api/beacon/v2/individuals", headers=api_user("researcher").headers, params=params
    )
    assert r.status_code == 200, r.text
    assert r.json()["responseSummary"] == answer
    boolean = request_body([], params, "boolean")
    r = http.post("/api/beacon/v2/g_variants", headers=api_user("researcher").headers, json=boolean)
    validate(r.json(), BOOLEAN)
    assert r.json()["responseSummary"] == {"exists": answer["exists"]}


def test_small_variant_classes_stay_variant_classes(
    http: httpx.Client, api_user: ApiUserFactory
) -> None:
    """``SNV`` is a small-variant class: the 26 BRAF V600E carriers (SNVs) → 25."""
    params = {"geneId": "BRAF", "variantType": "SNV"}
    r = http.post(
        "/api/beacon/v2/g_variants",
        headers=api_user("researcher").headers,
        json=request_body([], params),
    )
    assert r.status_code == 200, r.text
    assert r.json()["responseSummary"] == {"exists": True, "numTotalResults": 25}


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"variantType": "DEL"}, "requestParameters.variantType 'DEL': give geneId too"),
        (
            {"geneId": "ALK", "variantType": "INV", "aminoacidChange": "V600E"},
            "requestParameters.aminoacidChange: not with variantType 'INV'",
        ),
        ({"geneId": "AL K", "variantType": "DUP"}, "'AL K' is not an HGNC gene symbol"),
    ],
)
def test_bad_structural_queries_are_one_line_beacon_errors(
    http: httpx.Client, api_user: ApiUserFactory, params: dict[str, str], message: str
) -> None:
    r = http.post(
        "/api/beacon/v2/g_variants",
        headers=api_user("researcher").headers,
        json={"query": {"requestParameters": params}},
    )
    assert r.status_code == 400, r.text
    validate(r.json(), ERROR)
    assert message in r.json()["error"]["errorMessage"]
    assert "\n" not in r.json()["error"]["errorMessage"]
