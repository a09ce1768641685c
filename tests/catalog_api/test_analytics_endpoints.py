"""Endpoints from hand-written journeys: OS from diagnosis, from line N, time to next
treatment, time on treatment; the journey store's slots and its incremental update."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from catalog_api.analytics.endpoints import endpoint, line_rows
from catalog_api.analytics.journeys import COLUMNS, CodeBooks, assemble, build_piece
from tests.catalog_api.analyticshelpers import journeys_of


def _tables() -> dict[str, pa.Table]:
    # p0: diagnosed day 0, line 1 day 10–100, line 2 day 130–300 (ongoing), alive at 400
    # p1: line 1 day 20–50 then died day 80 (no next line)
    # p2: anchored at a first record (not a diagnosis), line 1 day 5–40, next line day 90
    # p3: no times at all (no anchor)
    pats = pa.table(
        {
            "patient_id": ["p0", "p1", "p2", "p3"],
            "submission_id": ["S"] * 4,
            "anchor": ["primary_diagnosis", "primary_diagnosis", "first_record", None],
            "death_day": pa.array([None, 80, None, None], pa.int32()),
            "last_known_alive_day": pa.array([400, 80, 500, None], pa.int32()),
            "sex": ["female", "male", "female", None],
        }
    )
    cond = pa.table(
        {
            "patient_id": ["p0", "p1", "p2"],
            "submission_id": ["S"] * 3,
            "kind": ["primary"] * 3,
            "diagnosis_day": pa.array([0, 0, 12], pa.int32()),
            "age_at_diagnosis": pa.array([60, 70, 55], pa.int32()),
            "stage_group": ["IIIA", "IV", None],
            "stage_group_display": [None, None, "Stage II"],
        }
    )
    lot = pa.table(
        {
            "patient_id": ["p0", "p0", "p1", "p2", "p2"],
            "submission_id": ["S"] * 5,
            "line": pa.array([1, 2, 1, 1, 2], pa.int32()),
            "drugs": [["dabrafenib", "trametinib"], ["nivolumab"], ["nivolumab"], ["x"], ["y"]],
            "regimen_name": [None, None, None, "X", None],
            "start_day": pa.array([10, 130, 20, 5, 90], pa.int32()),
            "end_day": pa.array([100, 300, 50, 40, 120], pa.int32()),
            "end_reason": ["progression", "ongoing", "death", "next_line", "last_contact"],
            "next_line_start_day": pa.array([130, None, None, 90, None], pa.int32()),
        }
    )
    tr = pa.table(
        {
            "patient_id": ["p0", "p0", "p0"],
            "submission_id": ["S"] * 3,
            "line_of_therapy": pa.array([1, 1, 2], pa.int32()),
            "start_year": pa.array([2020, 2019, 2021], pa.int32()),
        }
    )
    return {"patients": pats, "conditions": cond, "lines_of_therapy": lot, "treatments": tr}


def test_columns_are_the_contract() -> None:
    assert set(_tables()) == set(COLUMNS)
    for name, cols in COLUMNS.items():
        assert set(cols) <= set(_tables()[name].column_names), name


def test_endpoints_of_hand_written_journeys() -> None:
    j = journeys_of(_tables())
    everyone = np.ones(j.n_slots, dtype=bool)
    os = endpoint(j, everyone, "os_from_diagnosis", n_cohort=4)
    assert os.slots.tolist() == [0, 1]  # p2 is not anchored at a diagnosis, p3 has nothing
    assert os.time.tolist() == [400, 80] and os.event.tolist() == [False, True]
    assert os.excluded == 2
    l1 = endpoint(j, everyone, "os_from_line", 1, n_cohort=4)
    assert dict(zip(l1.slots.tolist(), l1.time.tolist(), strict=True)) == {0: 390, 1: 60, 2: 495}
    assert l1.event.tolist() == [False, True, False]
    tt = endpoint(j, everyone, "ttnt_after_line", 1, n_cohort=4)
    # p0: next line day 130 (120 days); p1: died day 80 (60, an event); p2: next line day 90
    assert tt.time.tolist() == [120, 60, 85] and tt.event.all()
    t2 = endpoint(j, everyone, "ttnt_after_line", 2, n_cohort=4)
    # p0 line 2: no next line, alive: censored at 400 (270); p2 line 2: censored at 500
    assert t2.time.tolist() == [270, 410] and not t2.event.any()
    lines = np.arange(len(j.l_slot))
    tot = line_rows(j, lines, "time_on_treatment")
    # ongoing line 2 of p0 is censored at the last alive day (400 − 130)
    assert tot.time.tolist() == [90, 270, 30, 35, 30]
    assert tot.event.tolist() == [True, False, True, True, True]
    assert j.l_year.tolist()[:2] == [2019, 2021]  # the earliest drug start of the line
    assert [j.regimens[c] for c in j.l_regimen] == [
        "dabrafenib + trametinib",
        "nivolumab",
        "nivolumab",
        "X",
        "y",
    ]


def test_pieces_scatter_to_their_slots() -> None:
    # the same patients in slots 10..13 of a larger index, beside another piece
    t = _tables()
    codes = CodeBooks()
    ids = t["patients"].column("patient_id").combine_chunks()
    a = build_piece(t, ids, np.arange(10, 14), "C1", "NL", codes)
    b = build_piece(t, ids.slice(0, 2), np.array([3, 2]), "C2", "FR", codes)
    j = assemble("v", 20, [a, b], codes)
    assert j.death_day[11] == 80 and j.death_day[2] == 80 and np.isnan(j.death_day[3])
    assert [j.centres[c] for c in j.centre[[3, 10]]] == ["C2", "C1"]
    assert j.centre[0] == -1  # a slot of no piece
    assert sorted(j.l_slot.tolist()) == [2, 3, 3, 10, 10, 11, 12, 12]
