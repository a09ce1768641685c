"""Analytics on a real lake holding journeys (the docs/ingest.md columns): the API's
exact answers (threshold 0) equal DuckDB SQL over the lake's rows; survival by first-line
regimen equals R; a new submission is in the answers once the index has it (only that
submission read)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import duckdb
import httpx
import numpy as np
import pyarrow as pa
import pytest

from catalog_api.analytics.service import store_for
from catalog_api.core.config import ApiConfig
from harmonise.lake import Lake, LakeConfig
from tests.catalog_api.analyticshelpers import RData, journey_tables, run_r
from tests.catalog_api.conftest import ApiUserFactory
from tests.conftest import TAG_KEY
from tests.harmonise.lakefixtures import make_submission

GRU: dict[str, Any] = {"primary": "general"}
LABEL = "coalesce(regimen_name, array_to_string(drugs, ' + '))"


def journey_submission(dataset: str, centre: str, n: int, seed: int) -> Any:
    """A submission of ``n`` patients whose journeys are :func:`journey_tables`' (the
    treatments rows carry the drugs, so that treatment criteria select by line)."""
    tables = journey_tables(n, seed=seed, submission=dataset)
    pids = tables["patients"].column("patient_id").to_pylist()
    sub = make_submission(dataset, centre, pids)
    lot = tables["lines_of_therapy"]
    drugs = lot.column("drugs").to_pylist()
    tr = {"patient_id": [], "drug": [], "line_of_therapy": [], "start_year": [], "kind": []}
    years = tables["treatments"]
    first_year = {
        (p, line): y
        for p, line, y in zip(
            years.column("patient_id").to_pylist(),
            years.column("line_of_therapy").to_pylist(),
            years.column("start_year").to_pylist(),
            strict=True,
        )
    }
    for p, line, ds in zip(
        lot.column("patient_id").to_pylist(), lot.column("line").to_pylist(), drugs, strict=True
    ):
        for d in ds:
            tr["patient_id"].append(p)
            tr["drug"].append(d)
            tr["line_of_therapy"].append(line)
            tr["start_year"].append(first_year[(p, line)])
            tr["kind"].append("medication")
    pats = sub.tables["patients"]
    for c in ("anchor", "death_day", "last_known_alive_day"):
        pats = pats.append_column(c, tables["patients"].column(c))
    conds = sub.tables["conditions"]
    for c in ("diagnosis_day", "age_at_diagnosis", "stage_group"):
        conds = conds.append_column(c, tables["conditions"].column(c))
    new = {
        **sub.tables,
        "patients": pats,
        "conditions": conds,
        "lines_of_therapy": lot.drop(["submission_id"]),
        "treatments": pa.table(tr),
    }
    return dataclasses.replace(sub, tables=new)


def _make_lake(root: Path) -> Lake:
    root.mkdir(parents=True, exist_ok=True)
    lake = Lake(
        LakeConfig(catalog_uri=f"sqlite:///{root / 'catalog.db'}", warehouse=str(root / "wh")),
        TAG_KEY,
    )
    lake.init()
    lake.commit(journey_submission("J1", "C1", 400, seed=1))
    lake.commit(journey_submission("J2", "C2", 300, seed=2))
    return lake


@pytest.fixture
def lake(tmp_path: Path) -> Lake:
    return _make_lake(tmp_path / "journey-lake")


@pytest.fixture
def api_config(api_config: ApiConfig) -> ApiConfig:
    # exact answers: threshold 0, rounding 1 (the disclosure rules are tested elsewhere)
    return dataclasses.replace(api_config, disclosure_threshold=0, disclosure_rounding=1)


def _first_line(drugs: list[str]) -> dict[str, Any]:
    return {
        "criteria": {
            "type": "and",
            "criteria": [{"type": "treatment", "drug": d, "line_of_therapy": 1} for d in drugs],
        }
    }


def test_patterns_equal_duckdb_over_the_lake(
    lake: Lake, http: httpx.Client, api_user: ApiUserFactory
) -> None:
    user = api_user("researcher")
    body = {"definition": {}, "purpose": GRU, "max_lines": 2}
    r = http.post("/api/v1/cohorts/treatment-patterns", json=body, headers=user.headers)
    assert r.status_code == 200, r.text
    ans = r.json()
    con = duckdb.connect()
    con.register("lot", lake.read("lines_of_therapy"))
    want = {
        (int(line), reg): int(n)
        for line, reg, n in con.execute(
            f"select line, {LABEL}, count(distinct patient_id) from lot where line <= 2 "
            "group by all"
        ).fetchall()
    }
    got = {
        (e["line"], row["regimen"]): row["patients"] for e in ans["lines"] for row in e["regimens"]
    }
    assert got == want
    first = {e["regimen"]: e["patients"] for e in ans["pathways"]["first_line"]}
    assert first == {reg: n for (line, reg), n in want.items() if line == 1}


def test_survival_by_first_line_regimen_equals_r(
    lake: Lake, http: httpx.Client, api_user: ApiUserFactory, tmp_path: Path
) -> None:
    user = api_user("researcher")
    groups = [
        {
            "name": "dabrafenib + trametinib",
            "definition": _first_line(["dabrafenib", "trametinib"]),
        },
        {"name": "ipilimumab + nivolumab", "definition": _first_line(["ipilimumab", "nivolumab"])},
    ]
    body = {"purpose": GRU, "groups": groups, "endpoint": "os_from_line", "line": 1}
    r = http.post("/api/v1/cohorts/survival", json=body, headers=user.headers)
    assert r.status_code == 200, r.text
    ans = r.json()
    # the same rows in R: OS from the start of line 1, by the first-line regimen
    con = duckdb.connect()
    con.register("lot", lake.read("lines_of_therapy"))
    con.register("pat", lake.read("patients"))
    rows = con.execute(
        f"""select {LABEL} as g,
                   coalesce(p.death_day, p.last_known_alive_day) - l.start_day as t,
                   p.death_day is not null as e
            from lot l join pat p using (patient_id)
            where l.line = 1 and {LABEL} in ('dabrafenib + trametinib', 'ipilimumab + nivolumab')
              and coalesce(p.death_day, p.last_known_alive_day) - l.start_day >= 0"""
    ).fetchall()
    g = np.array([0 if x[0].startswith("dabrafenib") else 1 for x in rows])
    t = np.array([float(x[1]) for x in rows])
    e = np.array([bool(x[2]) for x in rows])
    ref = run_r([RData("os", t, e, g, what="logrank cox")], tmp_path / "r")["os"]
    lr, cx = ans["logrank"], ans["cox"]
    assert lr["shown"] and cx["shown"]
    assert lr["chisq"] == pytest.approx(ref["lr.chisq"][0], rel=1e-2)  # 3 significant digits
    assert cx["hazard_ratio"] == pytest.approx(np.exp(ref["cox.coef"][0]), rel=1e-2)
    assert cx["lower"] == pytest.approx(ref["cox.lower"][0], rel=1e-2)
    assert sum(c["events"] for c in ans["curves"]) == int(e.sum())


def test_a_new_submission_is_in_the_next_answer(
    lake: Lake, http: httpx.Client, api_user: ApiUserFactory, app: Any
) -> None:
    user = api_user("researcher")
    body = {"definition": {}, "purpose": GRU}
    r = http.post("/api/v1/cohorts/survival", json=body, headers=user.headers)
    before = r.json()["curves"][0]["cohort_patients"]
    store = store_for(lake)
    reads = store.reads
    lake.commit(journey_submission("J3", "C3", 50, seed=3))
    app.state.discovery_engine.refresh()
    r = http.post("/api/v1/cohorts/survival", json=body, headers=user.headers)
    assert r.status_code == 200, r.text
    assert r.json()["curves"][0]["cohort_patients"] == before + 50
    assert store.reads == reads + 1  # only the new submission was read
