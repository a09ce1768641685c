"""Treatment patterns: exact counts equal a DuckDB SQL recomputation over the same lake
rows; the disclosed answer never shows a cell below the threshold."""

from __future__ import annotations

from typing import Any

import duckdb
import numpy as np
import pytest

from catalog_api.analytics.disclosure import NO_FURTHER, OTHER
from catalog_api.analytics.journeys import STAGES, Journeys, stage_codes
from catalog_api.analytics.patterns import (
    pathway_counts,
    regimen_counts,
    slot_breakdown,
    treatment_patterns,
    year_breakdown,
)
from catalog_api.discovery.disclosure import DisclosureControl
from tests.catalog_api.analyticshelpers import journey_tables, journeys_of

LABEL = "coalesce(regimen_name, array_to_string(drugs, ' + '))"


@pytest.fixture(scope="module")
def tables() -> dict:
    return journey_tables(1500, seed=11)


@pytest.fixture(scope="module")
def journeys(tables: dict) -> Journeys:
    return journeys_of(tables)


def _cohort(j: Journeys, every: int = 1) -> np.ndarray:
    mask = np.zeros(j.n_slots, dtype=bool)
    mask[::every] = True
    return mask


def test_regimen_counts_equal_duckdb(tables: dict, journeys: Journeys) -> None:
    lot = tables["lines_of_therapy"]
    pats = tables["patients"].select(["patient_id"]).to_pylist()
    cohort = {p["patient_id"] for i, p in enumerate(pats) if i % 3 == 0}
    con = duckdb.connect()
    con.register("lot", lot)
    rows = con.execute(
        f"""select line, {LABEL} as regimen, count(distinct patient_id)
            from lot where line <= 3 and patient_id in (select unnest(?::varchar[]))
            group by all""",
        [sorted(cohort)],
    ).fetchall()
    want = {(int(line), reg): int(n) for line, reg, n in rows}
    got = regimen_counts(journeys, _cohort(journeys, 3), 3)
    assert got == want
    assert len(want) > 10


def test_pathway_counts_equal_duckdb(tables: dict, journeys: Journeys) -> None:
    con = duckdb.connect()
    con.register("lot", tables["lines_of_therapy"])
    # a pathway prefix of length k: lines 1..k all present; the patient's regimen at each
    rows = con.execute(
        f"""with l as (select patient_id, line, {LABEL} as r from lot where line <= 3),
            p as (select patient_id,
                    max(case when line = 1 then r end) as r1,
                    max(case when line = 2 then r end) as r2,
                    max(case when line = 3 then r end) as r3
                  from l group by patient_id)
            select r1, null, null, count(*) from p where r1 is not null group by all
            union all
            select r1, r2, null, count(*) from p
              where r1 is not null and r2 is not null group by all
            union all
            select r1, r2, r3, count(*) from p
              where r1 is not null and r2 is not null and r3 is not null group by all"""
    ).fetchall()
    want = {tuple(x for x in r[:3] if x is not None): int(r[3]) for r in rows}
    assert pathway_counts(journeys, _cohort(journeys), 3) == want
    assert max(len(k) for k in want) == 3


def _cells(answer: Any) -> list[Any]:
    """Every count-like value of an answer (keys named patients / at_risk / events …)."""
    out = []
    if isinstance(answer, dict):
        for k, v in answer.items():
            if k in ("patients", "at_risk", "events", "censored") and not isinstance(
                v, (dict, list)
            ):
                out.append(v)
            else:
                out.extend(_cells(v))
    elif isinstance(answer, list):
        for v in answer:
            out.extend(_cells(v))
    return out


@pytest.mark.parametrize("every", [1, 7, 40])
def test_disclosed_patterns_show_no_small_cell(journeys: Journeys, every: int) -> None:
    control = DisclosureControl(threshold=5, rounding=5)
    mask = _cohort(journeys, every)
    years = year_breakdown(journeys)
    ans = treatment_patterns(journeys, mask, control, max_lines=3, breakdown=years)
    cells = _cells(ans)
    assert cells
    for c in cells:
        assert c == "<5" or (isinstance(c, int) and c % 5 == 0 and (c == 0 or c >= 5)), c

    # "other" and "(no further line)" are never expanded
    def walk(entries: list[dict]) -> None:
        for e in entries:
            if e["regimen"] in (OTHER, NO_FURTHER) or not isinstance(e["patients"], int):
                assert "next" not in e
            walk(e.get("next", []))

    walk(ans["pathways"]["first_line"])


def test_small_regimens_merge_into_other(journeys: Journeys) -> None:
    control = DisclosureControl(threshold=5, rounding=5)
    mask = _cohort(journeys, 1)
    exact = regimen_counts(journeys, mask, 3)
    ans = treatment_patterns(journeys, mask, control, max_lines=3)
    for entry in ans["lines"]:
        names = {r["regimen"] for r in entry["regimens"]}
        small = {reg: n for (line, reg), n in exact.items() if line == entry["line"] and n < 5}
        big = {reg for (line, reg), n in exact.items() if line == entry["line"] and n >= 5}
        assert big <= names
        assert not (set(small) & names)
        # the small ones merged into "other", shown when it reaches the threshold (zero and
        # small are alike: a small "other" is left out)
        assert (OTHER in names) == (sum(small.values()) >= 5)
    # time on treatment and to next treatment on the shown regimens: quartiles in order
    first = ans["lines"][0]["regimens"][0]
    tot = first["time_on_treatment"]
    assert tot["q1_days"] <= tot["median_days"] <= tot["q3_days"]
    assert tot["median_days"] % 30 == 0  # read off the disclosed (30-day interval) curve


def test_breakdowns_cover_the_line(journeys: Journeys) -> None:
    control = DisclosureControl(threshold=0, rounding=1)  # exact, to check the split
    mask = _cohort(journeys, 1)
    by = slot_breakdown(journeys, "stage", journeys.stage.astype(np.int64), STAGES)
    ans = treatment_patterns(journeys, mask, control, max_lines=2, breakdown=by)
    line1 = ans["lines"][0]
    total = sum(v["patients"] for v in line1["by"]["values"].values())
    assert total == line1["patients"]
    assert set(line1["by"]["values"]) <= set(STAGES)


def test_stage_codes() -> None:
    got = stage_codes(["IIIB", "Stage IV", "ia", "0IS", None, "X", "IV C"])
    assert [STAGES[i] for i in got] == ["III", "IV", "I", "0", "unknown", "unknown", "unknown"]
