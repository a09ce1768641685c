"""Every criterion type, purpose filtering and bad definitions, over HTTP on a real lake.

The app runs with threshold 1 and rounding 1 here, so that the exact counts of the lake in
``discoveryhelpers`` can be asserted (disclosure control has its own test module).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import httpx
import pytest

from catalog_api.core.config import ApiConfig
from harmonise.lake import Lake
from tests.catalog_api.conftest import ApiUserFactory
from tests.catalog_api.discoveryhelpers import FP_OLD, make_discovery_lake

GRU: dict[str, Any] = {"primary": "general"}
HMB: dict[str, Any] = {"primary": "health"}


@pytest.fixture(scope="module")
def discovery_lake(tmp_path_factory: pytest.TempPathFactory) -> Lake:
    """Centres CA (23 patients, WES) and CB (14 patients, 4-gene panel, old pipeline)."""
    return make_discovery_lake(str(tmp_path_factory.mktemp("discovery-lake")))


@pytest.fixture
def lake(discovery_lake: Lake) -> Lake:
    """The app serves the discovery lake."""
    return discovery_lake


@pytest.fixture
def api_config(api_config: ApiConfig) -> ApiConfig:
    """No suppression, no rounding: exact counts."""
    return dataclasses.replace(api_config, disclosure_threshold=0, disclosure_rounding=1)


def count(
    http: httpx.Client,
    headers: dict[str, str],
    criteria: Any,
    purpose: dict[str, Any] | None = None,
) -> httpx.Response:
    body: dict[str, Any] = {"definition": {"format_version": 1}, "purpose": purpose or GRU}
    if criteria is not None:
        body["definition"]["criteria"] = criteria
    return http.post("/api/v1/cohorts/count", json=body, headers=headers)


# (criteria, purpose, expected count, expected excluded by consent)
CASES: list[tuple[str, Any, dict[str, Any], int, int]] = [
    ("everyone", None, GRU, 26, 11),
    ("tumour SKCM", {"type": "tumour_type", "codes": ["SKCM"]}, GRU, 20, 0),
    ("tumour SKIN (descendants)", {"type": "tumour_type", "codes": ["SKIN"]}, GRU, 20, 0),
    (
        "tumour SKIN, no descendants",
        {"type": "tumour_type", "codes": ["SKIN"], "descendants": False},
        GRU,
        0,
        0,
    ),
    ("gene", {"type": "variant", "gene": "BRAF"}, GRU, 26, 1),
    ("BRAF p.V600E", {"type": "variant", "protein_change": "BRAF p.V600E"}, GRU, 26, 0),
    (
        "V600E three-letter",
        {"type": "variant", "gene": "BRAF", "protein_change": "p.Val600Glu"},
        GRU,
        26,
        0,
    ),
    ("V600* wildcard", {"type": "variant", "gene": "BRAF", "protein_change": "V600*"}, HMB, 26, 1),
    (
        "V600K",
        {"type": "variant", "protein_change": "BRAF V600K"},
        {"primary": "disease", "disease_codes": ["LUAD"]},
        1,
        0,
    ),
    ("consequence", {"type": "variant", "consequence": ["stop_gained"]}, HMB, 5, 0),
    ("variant class", {"type": "variant", "gene": "BRCA2", "variant_class": ["SNV"]}, HMB, 5, 0),
    ("germline", {"type": "variant", "origin": "germline"}, HMB, 5, 0),
    ("somatic BRCA2 (none)", {"type": "variant", "gene": "BRCA2", "origin": "somatic"}, HMB, 0, 0),
    (
        "HER2 positive",
        {"type": "biomarker", "marker": "HER2", "interpretation": ["positive"]},
        HMB,
        5,
        0,
    ),
    ("MSI-high", {"type": "biomarker", "marker": "MSI", "interpretation": ["high"]}, GRU, 6, 0),
    ("TMB >= 10", {"type": "biomarker", "marker": "TMB", "min": 10}, HMB, 6, 0),
    ("TMB <= 10", {"type": "biomarker", "marker": "TMB", "max": 10}, HMB, 5, 0),
    ("stage III (IIIB)", {"type": "stage_group", "values": ["III"]}, GRU, 6, 0),
    ("stage IV", {"type": "stage_group", "values": ["Stage IV"]}, GRU, 20, 6),
    ("drug", {"type": "treatment", "drug": "Trastuzumab"}, HMB, 5, 0),
    ("drug in line 2", {"type": "treatment", "drug": "cetuximab", "line_of_therapy": 2}, GRU, 6, 0),
    (
        "drug in line 1 (none)",
        {"type": "treatment", "drug": "cetuximab", "line_of_therapy": 1},
        GRU,
        0,
        0,
    ),
    ("age 40-42", {"type": "age_at_diagnosis", "min": 40, "max": 42}, GRU, 6, 0),
    ("sex male", {"type": "sex", "values": ["male"]}, GRU, 6, 6),
    ("centre", {"type": "centre", "values": ["CB"]}, GRU, 8, 6),
    ("dataset", {"type": "dataset", "values": ["DA"]}, GRU, 18, 5),
    ("assay panel", {"type": "assay", "assay_type": ["panel"]}, GRU, 8, 6),
    ("pipeline fingerprint", {"type": "pipeline", "fingerprints": [FP_OLD]}, GRU, 8, 6),
    ("not harmonised", {"type": "pipeline", "harmonised": False}, GRU, 8, 6),
    ("deceased", {"type": "vital_status", "value": "deceased"}, GRU, 8, 0),
    (
        "AND",
        {
            "type": "and",
            "criteria": [
                {"type": "variant", "gene": "BRAF"},
                {"type": "tumour_type", "codes": ["BOWEL"]},
                {"type": "stage_group", "values": ["III"]},
            ],
        },
        GRU,
        6,
        0,
    ),
    (
        "OR of genes",
        {
            "type": "or",
            "criteria": [{"type": "variant", "gene": "KRAS"}, {"type": "variant", "gene": "EGFR"}],
        },
        HMB,
        6,
        6,
    ),
    (
        "NOT",
        {
            "type": "and",
            "criteria": [
                {"type": "variant", "protein_change": "BRAF V600E"},
                {"type": "not", "criterion": {"type": "tumour_type", "codes": ["MEL"]}},
            ],
        },
        GRU,
        6,
        0,
    ),
]


def test_every_criterion_type_counts_the_right_patients(
    http: httpx.Client, api_user: ApiUserFactory
) -> None:
    headers = api_user("researcher").headers
    failures = []
    for name, criteria, purpose, expected, excluded in CASES:
        r = count(http, headers, criteria, purpose)
        assert r.status_code == 200, (name, r.text)
        body = r.json()
        if (body["count"], body["excluded_by_consent"]) != (expected, excluded):
            failures.append((name, body["count"], body["excluded_by_consent"], expected, excluded))
    assert not failures, failures


def test_purpose_filters_by_consent_and_reports_exclusions(
    http: httpx.Client, api_user: ApiUserFactory
) -> None:
    headers = api_user("researcher").headers
    her2 = {"type": "biomarker", "marker": "HER2", "interpretation": ["positive"]}
    # five HER2+ patients consented to health research (HMB), one of them not-for-profit only
    assert count(http, headers, her2, GRU).json()["count"] == 0
    assert count(http, headers, her2, GRU).json()["excluded_by_consent"] == 5
    assert count(http, headers, her2, HMB).json()["count"] == 5
    for_profit = count(http, headers, her2, {"primary": "health", "for_profit": True}).json()
    assert (for_profit["count"], for_profit["excluded_by_consent"]) == (4, 1)
    # disease-specific consent (lung) counts for lung research only
    egfr = {"type": "variant", "gene": "EGFR", "protein_change": "L858R"}
    assert count(http, headers, egfr, HMB).json()["count"] == 0
    lung = count(http, headers, egfr, {"primary": "disease", "disease_codes": ["LUAD"]}).json()
    assert lung["count"] == 6
    bowel = count(http, headers, egfr, {"primary": "disease", "disease_codes": ["COAD"]}).json()
    assert bowel["count"] == 0


def test_basket_centre_breakdown_and_coverage_denominator(
    http: httpx.Client, api_user: ApiUserFactory
) -> None:
    headers = api_user("researcher").headers
    body = count(
        http, headers, {"type": "variant", "gene": "BRAF", "protein_change": "V600E"}, GRU
    ).json()
    assert body["by_tumour_type"] == {"SKCM": 20, "COAD": 6}
    assert body["by_centre"] == {"CA": 18, "CB": 8}
    assert body["coverage"] == {"genes": ["BRAF"], "covered": 26}
    assert body["lake_version"].startswith("v-")
    # PIK3CA is not on centre B's panel: B's patients are not in the denominator
    pik = count(http, headers, {"type": "variant", "gene": "PIK3CA"}, HMB).json()
    assert pik["count"] == 5
    assert pik["coverage"] == {"genes": ["PIK3CA"], "covered": 23}
    # no variant criterion: no denominator
    assert count(http, headers, {"type": "sex", "values": ["female"]}).json()["coverage"] is None


BAD: list[tuple[dict[str, Any], str]] = [
    (
        {
            "definition": {"criteria": {"type": "tumour_type", "codes": ["NOTACODE"]}},
            "purpose": GRU,
        },
        "unknown OncoTree code 'NOTACODE'",
    ),
    (
        {"definition": {"criteria": {"type": "variant", "gene": "BRAFF"}}, "purpose": GRU},
        "unknown gene 'BRAFF'",
    ),
    (
        {
            "definition": {"criteria": {"type": "variant", "gene": "BRAF", "colour": "red"}},
            "purpose": GRU,
        },
        "unknown field 'colour'",
    ),
    (
        {"definition": {"criteria": {"type": "zodiac", "values": ["leo"]}}, "purpose": GRU},
        "unknown criterion type 'zodiac'",
    ),
    (
        {
            "definition": {"criteria": {"type": "variant", "protein_change": "hello world"}},
            "purpose": GRU,
        },
        "is not a protein change",
    ),
    (
        {"definition": {"criteria": {"type": "biomarker", "marker": "HER3"}}, "purpose": GRU},
        "unknown marker 'HER3'",
    ),
    (
        {"definition": {"criteria": {"type": "treatment", "drug": "snakeoil"}}, "purpose": GRU},
        "unknown drug 'snakeoil'",
    ),
    (
        {"definition": {"criteria": {"type": "stage_group", "values": ["V"]}}, "purpose": GRU},
        "unknown stage group 'V'",
    ),
    (
        {"definition": {"criteria": {"type": "centre", "values": ["ZZ"]}}, "purpose": GRU},
        "unknown centre 'ZZ'",
    ),
    (
        {
            "definition": {"criteria": {"type": "age_at_diagnosis", "min": 70, "max": 50}},
            "purpose": GRU,
        },
        "min (70) is greater than max (50)",
    ),
    (
        {
            "definition": {"criteria": {"type": "variant", "consequence": ["bad_variant"]}},
            "purpose": GRU,
        },
        "unknown consequence 'bad_variant'",
    ),
    ({"definition": {"format_version": 2}, "purpose": GRU}, "format_version"),
    ({"definition": {}}, "purpose: Field required"),
    ({"definition": {}, "purpose": {"primary": "disease"}}, "disease research needs"),
    (
        {"definition": {}, "purpose": {"primary": "general", "disease_codes": ["LUAD"]}},
        "disease_codes are given",
    ),
]


def test_bad_definitions_are_400_naming_the_problem(
    http: httpx.Client, api_user: ApiUserFactory
) -> None:
    headers = api_user("researcher").headers
    for body, words in BAD:
        r = http.post("/api/v1/cohorts/count", json=body, headers=headers)
        assert r.status_code == 400, (body, r.status_code, r.text)
        assert words in r.json()["detail"], (body, r.json()["detail"])
    r = http.post(
        "/api/v1/cohorts/count",
        content=b"{not json",
        headers={**headers, "content-type": "application/json"},
    )
    assert r.status_code == 400
    # two unknown codes at once: both named
    r = count(
        http,
        headers,
        {
            "type": "or",
            "criteria": [
                {"type": "tumour_type", "codes": ["XX1"]},
                {"type": "variant", "gene": "NOPE1"},
            ],
        },
    )
    assert r.status_code == 400
    assert "'XX1'" in r.json()["detail"] and "'NOPE1'" in r.json()["detail"]


def test_count_needs_a_researcher_token(http: httpx.Client, api_user: ApiUserFactory) -> None:
    body = {"definition": {}, "purpose": GRU}
    assert http.post("/api/v1/cohorts/count", json=body).status_code == 401
    r = http.post("/api/v1/cohorts/count", json=body, headers=api_user("reviewer").headers)
    assert r.status_code == 403


def test_filtering_terms_and_datasets(
    http: httpx.Client, api_user: ApiUserFactory, tmp_path: Path
) -> None:
    headers = api_user("researcher").headers
    terms = http.get("/api/v1/filtering-terms", headers=headers).json()
    by_type = {c["type"]: c for c in terms["criteria"]}
    assert {"code": "SKCM", "label": "Cutaneous Melanoma"} in by_type["tumour_type"]["terms"]
    assert "BRAF" in by_type["variant"]["genes"]
    assert "trastuzumab" in by_type["treatment"]["drugs"]
    assert set(by_type["centre"]["terms"]) == {"CA", "CB"}
    datasets = http.get("/api/v1/datasets", headers=headers).json()
    assert [d["dataset_id"] for d in datasets] == ["DA", "DB"]
    assert datasets[1]["pipeline_fingerprint"] == FP_OLD
    assert datasets[0]["duo_codes"] == ["DUO:0000042"]
    assert http.get("/api/v1/datasets").status_code == 401
