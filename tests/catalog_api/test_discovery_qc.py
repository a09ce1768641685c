"""The pipeline's QC in the catalogue (issue 21): the ``coverage`` criterion over
``gene_coverage`` and the dataset page's QC summary over ``specimen_qc``.

A lake of the discovery centres CA and CB plus centre CQ, whose patients carry per-gene
coverage rows (tumour and normal) and per-specimen QC rows.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import httpx
import pyarrow as pa
import pytest

from catalog_api.core.config import ApiConfig
from catalog_api.discovery.datasets import summarise_qc
from catalog_api.discovery.definition import parse_definition
from catalog_api.discovery.engine import DiscoveryEngine
from catalog_api.discovery.errors import DefinitionError
from catalog_api.discovery.index_store import IndexStore
from consent.purpose import ResearchPurpose
from harmonise.lake import Lake
from tests.catalog_api.conftest import ApiUserFactory
from tests.catalog_api.discoveryhelpers import P, make_discovery_lake, submission
from tests.catalog_api.web_fixtures import WebClient

# patient → (specimen role, gene, mean depth)
DEPTHS: dict[str, list[tuple[str, str, float]]] = {
    "Q01": [("tumour", "BRAF", 150.0), ("normal", "BRAF", 40.0)],
    "Q02": [("tumour", "BRAF", 99.9), ("tumour", "KRAS", 300.0)],
    "Q03": [("normal", "BRAF", 200.0)],  # only the normal reaches it: not counted
    "Q04": [("tumour", "BRAF", 100.0)],  # the threshold itself
    "Q05": [("tumour", "BRAF", 50.0), ("tumour", "BRAF", 120.0)],  # two tumours, one deep
}
# patient → (role, mean coverage, duplication rate, insert size, identity, tumour in normal)
QC = {
    "Q01": [("tumour", 150.0, 0.05, 310.0, "match", 0.04),
            ("normal", 40.0, 0.03, 300.0, "match", 0.04)],
    "Q02": [("tumour", 100.0, 0.07, 330.0, "match", 0.06)],
    "Q04": [("tumour", 90.0, 0.06, 320.0, "match", None)],
}  # fmt: skip


def _centre_q() -> Any:
    sub = submission("DQ", "CQ", [P(f"Q{i:02d}", oncotree="MEL") for i in range(1, 7)])
    cov = [(p, *r) for p, rows in DEPTHS.items() for r in rows]
    cov_t = pa.table(
        {
            "patient_id": [r[0] for r in cov],
            "specimen_id": [f"{r[0]}-{r[1][0].upper()}{k}" for k, r in enumerate(cov)],
            "role": [r[1] for r in cov],
            "gene": [r[2] for r in cov],
            "bp": pa.array([2300] * len(cov), pa.int64()),
            "mean_depth": [r[3] for r in cov],
        }
    )
    qc = [(p, *r) for p, rows in QC.items() for r in rows]
    qc_t = pa.table(
        {
            "patient_id": [r[0] for r in qc],
            "specimen_id": [f"{r[0]}-{r[1]}" for r in qc],
            "role": [r[1] for r in qc],
            "mean_coverage": [r[2] for r in qc],
            "duplication_rate": [r[3] for r in qc],
            "insert_size_mean": [r[4] for r in qc],
            "identity_status": [r[5] for r in qc],
            "tumour_in_normal": pa.array([r[6] for r in qc], pa.float64()),
        }
    )
    return dataclasses.replace(
        sub, tables={**sub.tables, "gene_coverage": cov_t, "specimen_qc": qc_t}
    )


@pytest.fixture(scope="module")
def qc_lake(tmp_path_factory: pytest.TempPathFactory) -> Lake:
    lake = make_discovery_lake(str(tmp_path_factory.mktemp("qc-lake")))
    lake.commit(_centre_q())
    return lake


@pytest.fixture
def lake(qc_lake: Lake) -> Lake:
    return qc_lake


@pytest.fixture
def api_config(api_config: ApiConfig) -> ApiConfig:
    return dataclasses.replace(api_config, disclosure_threshold=0, disclosure_rounding=1)


@pytest.fixture(scope="module")
def engine(qc_lake: Lake) -> DiscoveryEngine:
    e = DiscoveryEngine(qc_lake)
    e.refresh()
    return e


def _patients(engine: DiscoveryEngine, criteria: Any) -> set[str]:
    _, by_centre = engine.patients(
        parse_definition({"criteria": criteria}), ResearchPurpose(primary="general")
    )
    return {p for ps in by_centre.values() for p in ps}


@pytest.mark.parametrize(
    ("criteria", "expected"),
    [
        ({"type": "coverage", "gene": "BRAF", "min_depth": 100}, {"Q01", "Q04", "Q05"}),
        ({"type": "coverage", "gene": "braf", "min_depth": 150}, {"Q01"}),
        ({"type": "coverage", "gene": "BRAF", "min_depth": 0}, {"Q01", "Q02", "Q04", "Q05"}),
        ({"type": "coverage", "gene": "KRAS", "min_depth": 100}, {"Q02"}),
        ({"type": "coverage", "gene": "EGFR", "min_depth": 1}, set()),  # not measured
        (
            {
                "type": "and",
                "criteria": [
                    {"type": "coverage", "gene": "BRAF", "min_depth": 100},
                    {"type": "centre", "values": ["CQ"]},
                    {
                        "type": "not",
                        "criterion": {"type": "coverage", "gene": "BRAF", "min_depth": 130},
                    },
                ],
            },
            {"Q04", "Q05"},
        ),
    ],
)
def test_coverage_criterion_counts_tumours_reaching_the_depth(
    engine: DiscoveryEngine, criteria: Any, expected: set[str]
) -> None:
    assert _patients(engine, criteria) == expected


@pytest.mark.parametrize(
    ("criteria", "message"),
    [
        ({"type": "coverage", "gene": "BR AF", "min_depth": 100}, "'BR AF' is not an HGNC"),
        ({"type": "coverage", "gene": "BRAF", "min_depth": -1}, "greater than or equal to 0"),
        ({"type": "coverage", "gene": "BRAF"}, "min_depth"),
    ],
)
def test_bad_coverage_criteria_get_one_line_errors(criteria: Any, message: str) -> None:
    with pytest.raises(DefinitionError) as err:
        parse_definition({"criteria": criteria})
    assert message in str(err.value) and "\n" not in str(err.value)


def test_gene_depths_survive_the_persisted_index(qc_lake: Lake, tmp_path: Path) -> None:
    crit = {"type": "coverage", "gene": "BRAF", "min_depth": 100}
    first = DiscoveryEngine(qc_lake, store=IndexStore(tmp_path / "index", b"qc-test-key"))
    first.refresh()
    restarted = DiscoveryEngine(qc_lake, store=IndexStore(tmp_path / "index", b"qc-test-key"))
    restarted.refresh()
    assert restarted.indexer.loads == 1 and restarted.indexer.full_builds == 0
    assert _patients(restarted, crit) == _patients(first, crit) == {"Q01", "Q04", "Q05"}


def test_qc_summary_per_dataset_is_medians_and_verdicts() -> None:
    rows = [
        {"dataset_id": "D", "role": "tumour", "mean_coverage": c, "duplication_rate": None,
         "insert_size_mean": 300.0, "identity_status": s, "tumour_in_normal": t}
        for c, s, t in ((100.0, "match", 0.02), (140.0, "mismatch", None), (90.0, None, 0.06))
    ]  # fmt: skip
    (summary,) = summarise_qc(rows).values()
    assert summary["tumour"] == {
        "mean_coverage": 100.0,
        "duplication_rate": None,
        "insert_size_mean": 300.0,
    }
    assert "normal" not in summary
    assert summary["identity"] == ["match", "mismatch"]
    assert summary["tumour_in_normal"] == pytest.approx(0.04)


def test_dataset_page_shows_the_pipeline_qc(http: httpx.Client, api_user: ApiUserFactory) -> None:
    researcher = WebClient(http).sign_in(api_user("researcher").token)
    html = researcher.get("/web/datasets").text
    article = r'<article class="dataset">.*?<span class="meta">(\w+)</span>.*?</article>'
    blocks = {m.group(1): m.group(0) for m in re.finditer(article, html, re.S)}
    dq = blocks["DQ"]
    # tumours: medians of 150, 100, 90 coverage; 0.05, 0.07, 0.06 duplicates; 310-330 bp
    assert "mean coverage 100.0×, duplicates 6.0 %, insert size 320 bp" in dq
    assert "mean coverage 40.0×, duplicates 3.0 %, insert size 300 bp" in dq  # the normal
    assert "every pair matches" in dq
    assert "5.0 % (median estimate)" in dq  # tumour in normal: 0.04 and 0.06
    assert "Sequencing QC" not in blocks["DA"]  # no QC rows for that dataset
