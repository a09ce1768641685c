"""Stage groups coded as SNOMED CT concepts (as mCODE TNMStageGroup Observations carry
them): the builder offers them as labelled TNM groups and counts them by their display.

The lake: centre C1's eight patients, stage coded as SNOMED CT with a display; the first
five "Stage IV" (1222837003), the other three "Stage IIIA" (1222802001).
"""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pyarrow as pa
import pytest

from harmonise.lake import Lake, LakeConfig
from tests.catalog_api.conftest import C1_PATIENTS, ApiUserFactory
from tests.catalog_api.web_fixtures import WebClient
from tests.conftest import TAG_KEY
from tests.harmonise.lakefixtures import make_submission


@pytest.fixture(scope="module")
def coded_stage_lake(tmp_path_factory: pytest.TempPathFactory) -> Lake:
    root = tmp_path_factory.mktemp("coded-stage-lake")
    lake = Lake(
        LakeConfig(catalog_uri=f"sqlite:///{root / 'catalog.db'}", warehouse=str(root / "wh")),
        TAG_KEY,
    )
    lake.init()
    sub = make_submission("D1", "C1", C1_PATIENTS)
    conds = sub.tables["conditions"].to_pylist()
    for i, row in enumerate(conds):
        row["stage_group"] = "1222837003" if i < 5 else "1222802001"
        row["stage_group_display"] = "Stage IV" if i < 5 else "Stage IIIA"
    sub.tables = {**sub.tables, "conditions": pa.Table.from_pylist(conds)}
    lake.commit(sub)
    return lake


@pytest.fixture
def lake(coded_stage_lake: Lake) -> Lake:
    """The app of these tests serves the coded-stage lake."""
    return coded_stage_lake


def test_web_builder_offers_coded_stages_as_labelled_groups_and_counts_them(
    http: httpx.Client, api_user: ApiUserFactory, tmp_path: Path
) -> None:
    web = WebClient(http).sign_in(api_user("researcher").token)
    page = web.get("/web/cohorts/new").text
    labels = re.findall(r'name="stage" value="([^"]+)"[^>]*><label[^>]*>([^<]+)</label>', page)
    assert ("IV", "Stage IV") in labels and ("IIIA", "Stage IIIA") in labels
    assert not [v for v, _ in labels if len(v) > 4]  # no bare SNOMED code offered
    assert "1222837003" not in page
    base = {"csrf_token": web.csrf(), "purpose_primary": "general"}
    four = web.post("/web/cohorts/count", {**base, "stage": "IV"})
    assert four.status_code == 200, four.text[:500]
    assert '<dd id="total">5</dd>' in four.text  # the five "Stage IV" patients
    three = web.post("/web/cohorts/count", {**base, "stage": "III"})
    assert '<dd id="total">&lt;5</dd>' in three.text  # IIIA within III: three, suppressed
    assert "Stage group: Stage III" in three.text
