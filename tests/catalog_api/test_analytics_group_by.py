"""Survival of one cohort split by first-line regimen (``group_by``): the groups are the
lake's first-line regimens (DuckDB over the lake's rows), the curves and tests equal R's
``survival`` on the same rows, and small groups are merged so that no count of 1 to 4
is shown and every group is at least the threshold."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import httpx
import numpy as np
import pytest

from catalog_api.analytics.disclosure import interval_ends
from catalog_api.analytics.outcomes import categories, split_cohort
from catalog_api.core.config import ApiConfig
from catalog_api.discovery.disclosure import DisclosureControl
from harmonise.lake import Lake, LakeConfig
from tests.catalog_api.analyticshelpers import RData, journey_tables, journeys_of, run_r
from tests.catalog_api.conftest import ApiUserFactory
from tests.catalog_api.test_analytics_lake import LABEL, journey_submission
from tests.conftest import TAG_KEY

GRU: dict[str, Any] = {"primary": "general"}
#: Counts an answer shows, by key (anything else is a day, a probability or a statistic).
COUNT_KEYS = {"patients", "events", "at_risk", "censored", "cohort_patients", "left_out"}


@pytest.fixture(scope="module")
def journey_lake(tmp_path_factory: pytest.TempPathFactory) -> Lake:
    root = tmp_path_factory.mktemp("group-by-lake")
    lake = Lake(
        LakeConfig(catalog_uri=f"sqlite:///{root / 'catalog.db'}", warehouse=str(root / "wh")),
        TAG_KEY,
    )
    lake.init()
    lake.commit(journey_submission("J1", "C1", 300, seed=11))
    lake.commit(journey_submission("J2", "C2", 200, seed=12))
    return lake


@pytest.fixture
def lake(journey_lake: Lake) -> Lake:
    return journey_lake


@pytest.fixture
def api_config(api_config: ApiConfig, request: pytest.FixtureRequest) -> ApiConfig:
    """Exact answers (threshold 0, rounding 1) unless a test asks for the defaults."""
    if getattr(request, "param", "exact") == "disclosed":
        return api_config
    return dataclasses.replace(api_config, disclosure_threshold=0, disclosure_rounding=1)


def _first_lines(
    lake: Lake, anchored: bool = True
) -> Iterator[tuple[str, str | None, float, bool, float | None]]:
    """(patient, first-line regimen or None, day of death or last known alive, died,
    first-line start) of the patients anchored at a diagnosis (or of all)."""
    con = duckdb.connect()
    con.register("lot", lake.read("lines_of_therapy"))
    con.register("pat", lake.read("patients"))
    yield from con.execute(
        f"""select p.patient_id, l.regimen,
                   coalesce(p.death_day, p.last_known_alive_day), p.death_day is not null,
                   l.start_day
            from pat p left join (select patient_id, {LABEL} as regimen, start_day
                                  from lot where line = 1) l using (patient_id)
            where p.anchor = 'primary_diagnosis' or not $anchored""",
        {"anchored": anchored},
    ).fetchall()


def test_os_by_first_line_regimen_equals_duckdb_and_r(
    http: httpx.Client, api_user: ApiUserFactory, lake: Lake, tmp_path: Path
) -> None:
    user = api_user("researcher")
    body = {"definition": {}, "purpose": GRU, "group_by": "line1_regimen"}
    r = http.post("/api/v1/cohorts/survival", json=body, headers=user.headers)
    assert r.status_code == 200, r.text
    ans = r.json()
    rows = list(_first_lines(lake))
    names = sorted({reg or "no line 1 recorded" for _, reg, *_ in rows})
    # the groups are the first-line regimens of the lake, with their patients
    want = {n: sum(1 for _, reg, *_ in rows if (reg or "no line 1 recorded") == n) for n in names}
    got = {c["group"]: c["patients"] for c in ans["curves"]}
    assert got == want and ans["grouping"]["groups"] == list(got)
    # R on the same rows: the log-rank test on exact times, each curve on the intervals
    code = {n: i for i, n in enumerate(names)}
    g = np.array([code[reg or "no line 1 recorded"] for _, reg, *_ in rows])
    t = np.array([float(x[2]) for x in rows])
    e = np.array([bool(x[3]) for x in rows])
    ends = interval_ends(t, ans["parameters"]["interval_days"])
    sets = [RData("lr", t, e, g, what="logrank")]
    sets += [RData(f"km{i}", ends[g == i], e[g == i]) for i in range(len(names))]
    ref = run_r(sets, tmp_path / "r")
    assert ans["logrank"]["chisq"] == pytest.approx(ref["lr"]["lr.chisq"][0], rel=1e-2)
    assert ans["logrank"]["df"] == len(names) - 1
    for curve in ans["curves"]:
        km = ref[f"km{code[curve['group']]}"]
        shown = {p["day"]: p["survival"] for p in curve["points"]}
        assert shown, curve["group"]
        for day, s in shown.items():
            at = int(np.searchsorted(km["km.time"], day, side="right")) - 1  # R's step
            assert s == pytest.approx(km["km.surv"][at] if at >= 0 else 1.0, rel=1e-3), day
    assert ans["cox"] is None  # more than two groups: no single hazard ratio


def test_os_from_line_1_for_two_first_line_regimens_gives_r_hazard_ratio(
    http: httpx.Client, api_user: ApiUserFactory, lake: Lake, tmp_path: Path
) -> None:
    either = {
        "criteria": {
            "type": "or",
            "criteria": [
                {"type": "treatment", "drug": "dabrafenib", "line_of_therapy": 1},
                {"type": "treatment", "drug": "ipilimumab", "line_of_therapy": 1},
            ],
        }
    }
    body = {
        "definition": either,
        "purpose": GRU,
        "group_by": "line1_regimen",
        "endpoint": "os_from_line",
        "line": 1,
    }
    r = http.post("/api/v1/cohorts/survival", json=body, headers=api_user("researcher").headers)
    assert r.status_code == 200, r.text
    ans = r.json()
    names = [c["group"] for c in ans["curves"]]
    assert sorted(names) == ["dabrafenib + trametinib", "ipilimumab + nivolumab"]
    rows = [
        (reg, died_or_alive - start, died)
        for _, reg, died_or_alive, died, start in _first_lines(lake, anchored=False)
        if reg in names and died_or_alive - start >= 0
    ]
    g = np.array([names.index(reg) for reg, *_ in rows])
    t = np.array([float(x[1]) for x in rows])
    e = np.array([bool(x[2]) for x in rows])
    ref = run_r([RData("os", t, e, g, what="logrank cox")], tmp_path / "r")["os"]
    cx = ans["cox"]
    assert cx["shown"] and cx["reference"] == names[0]
    assert cx["hazard_ratio"] == pytest.approx(np.exp(ref["cox.coef"][0]), rel=1e-2)
    assert cx["upper"] == pytest.approx(ref["cox.upper"][0], rel=1e-2)
    assert ans["logrank"]["p"] == pytest.approx(ref["lr.p"][0], rel=1e-2)


def _counts(node: Any, key: str = "") -> Iterator[Any]:
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _counts(v, k)
    elif isinstance(node, list):
        for v in node:
            yield from _counts(v, key)
    elif key in COUNT_KEYS:
        yield node


@pytest.mark.parametrize("api_config", ["disclosed"], indirect=True)
def test_split_by_third_line_regimen_shows_no_small_count(
    http: httpx.Client, api_user: ApiUserFactory, lake: Lake
) -> None:
    # third-line regimens of one centre: several below the threshold
    body = {
        "definition": {"criteria": {"type": "centre", "values": ["C2"]}},
        "purpose": GRU,
        "group_by": "line3_regimen",
        "endpoint": "os_from_line",
        "line": 3,
    }
    r = http.post("/api/v1/cohorts/survival", json=body, headers=api_user("researcher").headers)
    assert r.status_code == 200, r.text
    ans = r.json()
    shown = list(_counts(ans))
    assert shown and all(isinstance(n, str) or n == 0 or n >= 5 for n in shown), shown
    assert all(isinstance(n, str) or n % 5 == 0 for n in shown)
    con = duckdb.connect()
    con.register("lot", lake.read("lines_of_therapy"))
    true = dict(
        con.execute(
            f"select {LABEL}, count(distinct patient_id) from lot "
            "where line = 3 and patient_id like 'J2-%' group by all"
        ).fetchall()
    )
    assert min(true.values()) < 5  # the fixture has small cells to merge
    for name in ans["grouping"]["groups"]:
        assert name == "other" or name.split(" (with fewer than")[0] in true
        if name in true:
            assert true[name] >= 5


def test_a_small_other_is_merged_into_the_largest_group() -> None:
    j = journeys_of(journey_tables(400, seed=5))
    codes, names = categories(j, "line1_regimen")
    by = {c: np.flatnonzero(codes == c) for c in np.unique(codes)}
    a, b, c, d = sorted(by, key=lambda k: -len(by[k]))[:4]
    slots = np.concatenate([by[a][:30], by[b][:12], by[c][:3], by[d][:1]])
    groups, terms = split_cohort(j, slots, DisclosureControl(), "line1_regimen", None)
    assert [len(s) for _, s in groups] == [34, 12]  # 3 + 1 joined the largest
    assert groups[0][0] == f"{names[a]} (with fewer than 5 of other first-line regimens)"
    assert terms["other_folded_into"] == groups[0][0]
    # with 5 or more in small regimens, they are their own "other"
    slots = np.concatenate([by[a][:30], by[b][:12], by[c][:3], by[d][:2]])
    groups, _ = split_cohort(j, slots, DisclosureControl(), "line1_regimen", None)
    assert [(n, len(s)) for n, s in groups] == [(names[a], 30), (names[b], 12), ("other", 5)]


def test_a_small_other_goes_to_a_regimen_not_to_no_line() -> None:
    """The largest group is "no line 1 recorded": the small rest joins the largest regimen
    group instead, so the untreated group stays what its name says."""
    j = journeys_of(journey_tables(400, seed=5))
    codes, names = categories(j, "line1_regimen")
    none = len(names) - 1
    by = {c: np.flatnonzero(codes == c) for c in np.unique(codes)}
    a, c, d = sorted((k for k in by if k != none), key=lambda k: -len(by[k]))[:3]
    slots = np.concatenate([by[none][:40], by[a][:12], by[c][:3], by[d][:1]])
    groups, _ = split_cohort(j, slots, DisclosureControl(), "line1_regimen", None)
    assert [(n, len(s)) for n, s in groups] == [
        ("no line 1 recorded", 40),
        (f"{names[a]} (with fewer than 5 of other first-line regimens)", 16),
    ]
