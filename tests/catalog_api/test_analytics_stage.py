"""The stage each patient gets in the analytics journeys (the stage breakdown and the Cox
adjustment for stage): a SNOMED CT stage group concept counts by its TNM group, a
display-only stage by its display, a code the table does not know by its display or as
unknown (issue 24)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from catalog_api.analytics.journeys import STAGES
from catalog_api.analytics.outcomes import _design
from tests.catalog_api.analyticshelpers import journeys_of

#: patient → (stage_group, stage_group_display, the stage analytics must give)
CASES: dict[str, tuple[str | None, str | None, str]] = {
    # the SNOMED CT concepts the demo writes (oncolake/demo/network.py STAGE_SNOMED)
    "snomed_i": ("1222723001", "Stage I", "I"),
    "snomed_ii": ("1222765007", "Stage II", "II"),
    "snomed_iii": ("1222801008", "Stage III", "III"),
    "snomed_iv": ("1222837003", "Stage IV", "IV"),
    # a substage concept without a display: its top-level group
    "snomed_ivb_bare": ("1222841004", None, "IV"),
    "snomed_iiia_bare": ("1222802001", None, "III"),
    # display only
    "display_ii": (None, "Stage II", "II"),
    "display_iiic": (None, "stage IIIC", "III"),
    # a TNM group written as the code
    "text_iia": ("IIA", None, "II"),
    # a code no table knows: its display if it has one, else unknown
    "unknown_code_display": ("999999999", "Stage I", "I"),
    "unknown_code": ("999999999", None, "unknown"),
    "unknown_text": ("X", None, "unknown"),
    "nothing": (None, None, "unknown"),
}


def _tables() -> dict[str, pa.Table]:
    ids = list(CASES)
    n = len(ids)
    pats = pa.table(
        {
            "patient_id": ids,
            "submission_id": ["S"] * n,
            "anchor": ["primary_diagnosis"] * n,
            "death_day": pa.array([100 + 10 * i if i % 2 else None for i in range(n)], pa.int32()),
            "last_known_alive_day": pa.array([100 + 10 * i for i in range(n)], pa.int32()),
            "sex": ["female", "male"] * (n // 2) + ["female"] * (n % 2),
        }
    )
    cond = pa.table(
        {
            "patient_id": ids,
            "submission_id": ["S"] * n,
            "kind": ["primary"] * n,
            "diagnosis_day": pa.array([0] * n, pa.int32()),
            "age_at_diagnosis": pa.array([50 + i for i in range(n)], pa.int32()),
            "stage_group": pa.array([c[0] for c in CASES.values()], pa.string()),
            "stage_group_display": pa.array([c[1] for c in CASES.values()], pa.string()),
        }
    )
    lot = pa.table(
        {
            "patient_id": pa.array([], pa.string()),
            "submission_id": pa.array([], pa.string()),
            "line": pa.array([], pa.int32()),
            "drugs": pa.array([], pa.list_(pa.string())),
            "regimen_name": pa.array([], pa.string()),
            "start_day": pa.array([], pa.int32()),
            "end_day": pa.array([], pa.int32()),
            "end_reason": pa.array([], pa.string()),
            "next_line_start_day": pa.array([], pa.int32()),
        }
    )
    tr = pa.table(
        {
            "patient_id": pa.array([], pa.string()),
            "submission_id": pa.array([], pa.string()),
            "line_of_therapy": pa.array([], pa.int32()),
            "start_year": pa.array([], pa.int32()),
        }
    )
    return {"patients": pats, "conditions": cond, "lines_of_therapy": lot, "treatments": tr}


def test_each_patient_gets_the_stage_of_its_code_or_display() -> None:
    j = journeys_of(_tables())
    got = {pid: STAGES[c] for pid, c in zip(CASES, j.stage.tolist(), strict=True)}
    assert got == {pid: want for pid, (_, _, want) in CASES.items()}


def test_cox_adjustment_has_a_level_per_snomed_stage() -> None:
    # the design matrix of a Cox model adjusted for stage: stage I the reference, one
    # column each for II, III, IV and unknown (today's bug put every SNOMED stage in unknown)
    j = journeys_of(_tables())
    slots = np.arange(j.n_slots)
    group = (slots % 2).astype(bool)
    x, names, keep = _design(j, slots, group, ["stage"])
    assert names == ["group", "stage=II", "stage=III", "stage=IV", "stage=unknown"]
    assert keep.all()
    col = {name: x[:, i] for i, name in enumerate(names)}
    want = [CASES[pid][2] for pid in CASES]
    for level in ("II", "III", "IV", "unknown"):
        assert col[f"stage={level}"].tolist() == [float(w == level) for w in want], level
