"""The peer of bench_analytics.py: the same answers by DuckDB (the extract from Parquet),
pandas and lifelines. Run by a Python with pandas < 3, lifelines and duckdb (lifelines
cannot run beside pandas 3):

    PYTHON peer_lifelines.py WORKDIR REPEAT
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from typing import Any

import duckdb
import numpy as np
from lifelines import CoxPHFitter, KaplanMeierFitter
from lifelines.statistics import logrank_test

WORK, REPEAT = sys.argv[1], int(sys.argv[2])
CON = duckdb.connect()
SINK: list[Any] = []  # the medians computed (kept so that nothing is skipped)


def timed(fn: Callable[[], Any]) -> dict[str, float]:
    """p50 and p95 of ``REPEAT`` runs (after one warm run), milliseconds."""
    fn()
    xs = []
    for _ in range(REPEAT):
        t0 = time.perf_counter()
        fn()
        xs.append(time.perf_counter() - t0)
    a = np.array(xs) * 1000
    return {
        "p50_ms": round(float(np.percentile(a, 50)), 1),
        "p95_ms": round(float(np.percentile(a, 95)), 1),
    }


def extract() -> tuple[Any, Any]:
    """The cohort's lines (to line 3) and patients with their diagnosis, as DataFrames."""
    lines = CON.execute(
        f"select l.* from '{WORK}/lines.parquet' l join '{WORK}/cohort.parquet' c "
        "using (patient_id) where line <= 3"
    ).df()
    pats = CON.execute(
        f"select p.*, c.grp, d.age_at_diagnosis, d.stage_group "
        f"from '{WORK}/patients.parquet' p join '{WORK}/cohort.parquet' c using (patient_id) "
        f"join '{WORK}/conditions.parquet' d using (patient_id)"
    ).df()
    return lines, pats


LINES, PATS = extract()


def patterns() -> None:
    """Regimen x line patients, pathway prefixes, median time on treatment per cell."""
    lines = LINES
    lines.groupby(["line", "regimen_name"]).patient_id.nunique()
    w = lines.pivot_table(
        index="patient_id", columns="line", values="regimen_name", aggfunc="first"
    ).reindex(columns=[1, 2, 3])  # (a cohort may have no line 3)
    w.groupby([1]).size()
    w.dropna(subset=[2]).groupby([1, 2]).size()
    w.dropna(subset=[2, 3]).groupby([1, 2, 3]).size()
    for _, g in lines.groupby(["line", "regimen_name"]):
        if len(g) >= 5:
            ongoing = g.end_reason == "ongoing"
            SINK.append(
                KaplanMeierFitter().fit(g.end_day - g.start_day, ~ongoing).median_survival_time_
            )
            nxt = g.next_line_start_day.notna()
            t = np.where(nxt, g.next_line_start_day, g.end_day) - g.start_day
            SINK.append(KaplanMeierFitter().fit(t, nxt).median_survival_time_)


def survival(adjust: bool = False) -> None:
    """Two-group OS from diagnosis: KM per group, log-rank, Cox (optionally adjusted)."""
    d = PATS[PATS.anchor == "primary_diagnosis"].copy()
    died = d.death_day.notna()
    d["T"] = np.where(died, d.death_day, d.last_known_alive_day)
    d["E"] = died
    for _, g in d.groupby("grp"):
        SINK.append(KaplanMeierFitter().fit(g["T"], g["E"]).median_survival_time_)
    a, b = d[d.grp == 0], d[d.grp == 1]
    logrank_test(a["T"], b["T"], a["E"], b["E"])
    x = d[["T", "E", "grp"]].copy()
    if adjust:
        x["age"] = d.age_at_diagnosis
        x["male"] = (d.sex == "male").astype(float)
        stage = d.stage_group.str.extract(r"^(IV|III|II|I)")[0]
        for s in ("II", "III", "IV"):
            x["stage" + s] = (stage == s).astype(float)
    CoxPHFitter().fit(x, "T", "E")


def main() -> None:
    """Time each answer; print one JSON line."""
    out: dict[str, Any] = {
        "extract": timed(extract),
        "patterns": timed(patterns),
        "survival_two_groups": timed(survival),
        "survival_adjusted": timed(lambda: survival(True)),
    }
    # VmHWM: this process's own peak (ru_maxrss carries the parent's across exec)
    with open("/proc/self/status") as fh:
        hwm = next(int(x.split()[1]) for x in fh if x.startswith("VmHWM:"))
    out["max_rss_mib"] = round(hwm / 1024)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
