"""Analytics latency and memory at network scale, side by side with pandas + lifelines.

    flock /tmp/oncolake-bench.lock .venv/bin/python bench/analytics/bench_analytics.py \
        [--patients 1000000] [--cohort 100000] [--repeat 15] [--peer PYTHON] [--peer-repeat 3]

Synthetic journeys in the lake's contract (docs/ingest.md: patients with anchor, death and
last-alive days; one primary condition; 0–4 lines of therapy of 40 regimens; treatments
with start years) are built into the analytics store's arrays by the store's own code
(``build_piece``/``assemble``); then, for a cohort of ``--cohort`` patients drawn at
random:

* treatment patterns (pathways to line 3, regimen × line table with per-regimen time on
  treatment and time to next treatment; and again broken down by start year);
* a two-group survival answer (OS from diagnosis, disclosed curves, log-rank, Cox; and
  again adjusted for age, sex and stage),

timed ``--repeat`` times (p50, p95). The peer (``--peer``: a Python with pandas < 3,
lifelines and duckdb; lifelines cannot run beside pandas 3) reads the same rows from
Parquet with DuckDB (the extract), computes the same exact counts with pandas and the
same survival with lifelines (KaplanMeierFitter, logrank_test, CoxPHFitter)
(``peer_lifelines.py``), timed ``--peer-repeat`` times. The cohort selection from the
discovery index (a bitmap) is not included on either side.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from catalog_api.analytics.journeys import CodeBooks, Journeys, assemble, build_piece
from catalog_api.analytics.outcomes import Group, survival_answer
from catalog_api.analytics.patterns import treatment_patterns, year_breakdown
from catalog_api.discovery.disclosure import DisclosureControl

HERE = Path(__file__).resolve().parent


def synthetic(n: int, seed: int = 1) -> dict[str, pa.Table]:
    """Lake rows of ``n`` patients in the journeys contract (vectorised)."""
    rng = np.random.default_rng(seed)
    ids = pa.array([f"p{i:07d}" for i in range(n)], pa.string())
    follow = np.ceil(rng.exponential(900, n)).astype(np.int32)
    died = rng.random(n) < 0.55
    anchor = np.where(rng.random(n) < 0.92, "primary_diagnosis", "first_record")
    alive = np.where(died, np.maximum(follow - rng.integers(0, 30, n), 0), follow)
    sub = pa.array(["S"] * n, pa.string())
    pats = pa.table(
        {
            "patient_id": ids,
            "submission_id": sub,
            "anchor": anchor,
            "death_day": pa.array(np.where(died, follow, 0), mask=~died, type=pa.int32()),
            "last_known_alive_day": pa.array(alive, pa.int32()),
            "sex": rng.choice(["female", "male", "unknown"], n, p=[0.5, 0.47, 0.03]),
        }
    )
    age = rng.normal(63, 11, n).round().astype(np.int32)
    cond = pa.table(
        {
            "patient_id": ids,
            "submission_id": sub,
            "kind": pa.array(["primary"] * n),
            "diagnosis_day": pa.array(np.zeros(n, np.int32)),
            "age_at_diagnosis": pa.array(age),
            "stage_group": rng.choice(["IA", "IIB", "IIIA", "IIIC", "IV", "IVB"], n),
            "stage_group_display": pa.nulls(n, pa.string()),
        }
    )
    k = rng.choice(5, n, p=[0.15, 0.35, 0.3, 0.15, 0.05])
    owner = np.repeat(np.arange(n), k)
    first = np.concatenate([[0], np.cumsum(k)[:-1]])
    line = (np.arange(len(owner)) - np.repeat(first, k) + 1).astype(np.int32)
    dur = np.ceil(rng.exponential(150, len(owner))).astype(np.int64)
    gap = rng.integers(10, 90, len(owner))
    step = dur + gap
    cum = np.cumsum(step)
    has = k > 0
    base = np.repeat((cum[first[has]] - step[first[has]]), k[has])
    start = 5 + cum - step - base
    end = start + dur
    last = line == np.repeat(k, k)
    nxt = np.where(last, 0, end + gap)
    names = [f"regimen-{i:02d}" for i in range(40)]
    p = 1 / np.arange(1, 41)
    reg = rng.choice(40, len(owner), p=p / p.sum())
    reasons = np.where(last, rng.choice(["ongoing", "death", "last_contact"], len(owner)), "")
    reasons = np.where(~last, rng.choice(["progression", "next_line"], len(owner)), reasons)
    lot = pa.table(
        {
            "patient_id": ids.take(pa.array(owner)),
            "submission_id": pa.array(["S"] * len(owner)),
            "line": pa.array(line),
            "drugs": pa.array([[names[r]] for r in reg], pa.list_(pa.string())),
            "regimen_name": pa.array([names[r] for r in reg]),
            "start_day": pa.array(start.astype(np.int32)),
            "end_day": pa.array(end.astype(np.int32)),
            "end_reason": pa.array(reasons),
            "next_line_start_day": pa.array(nxt.astype(np.int32), mask=last),
        }
    )
    tr = pa.table(
        {
            "patient_id": lot.column("patient_id"),
            "submission_id": lot.column("submission_id"),
            "line_of_therapy": lot.column("line"),
            "start_year": pa.array((2012 + start // 365).astype(np.int32)),
        }
    )
    return {"patients": pats, "conditions": cond, "lines_of_therapy": lot, "treatments": tr}


def _pct(xs: list[float]) -> dict[str, float]:
    a = np.array(xs) * 1000
    return {
        "p50_ms": round(float(np.percentile(a, 50)), 1),
        "p95_ms": round(float(np.percentile(a, 95)), 1),
    }


def _time(fn: Any, repeat: int) -> dict[str, float]:
    fn()  # warm
    xs = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        xs.append(time.perf_counter() - t0)
    return _pct(xs)


def main() -> int:
    """Build the arrays, time ours and the peer's, print one JSON report."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--patients", type=int, default=1_000_000)
    ap.add_argument("--cohort", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=15)
    ap.add_argument("--peer", default=None, help="python with pandas<3, lifelines, duckdb")
    ap.add_argument("--peer-repeat", type=int, default=3, help="runs of the (slow) peer")
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "bench-analytics")
    args = ap.parse_args()
    report: dict[str, Any] = {"patients": args.patients, "cohort": args.cohort}
    t0 = time.perf_counter()
    tables = synthetic(args.patients)
    report["generate_s"] = round(time.perf_counter() - t0, 1)
    report["lines"] = tables["lines_of_therapy"].num_rows
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    codes = CodeBooks()
    ids = tables["patients"].column("patient_id").combine_chunks()
    piece = build_piece(tables, ids, np.arange(len(ids)), "C1", "NL", codes)
    j: Journeys = assemble("bench", len(ids), [piece], codes)
    report["store_build_s"] = round(time.perf_counter() - t0, 2)
    report["store_mib"] = round(j.nbytes / 2**20, 1)
    rng = np.random.default_rng(2)
    chosen = rng.choice(args.patients, args.cohort, replace=False)
    mask = j.cohort_mask(chosen)
    grp = rng.integers(0, 2, args.cohort)
    g0, g1 = j.cohort_mask(chosen[grp == 0]), j.cohort_mask(chosen[grp == 1])
    groups = [Group("A", g0, int(g0.sum())), Group("B", g1, int(g1.sum()))]
    control = DisclosureControl()
    years = year_breakdown(j)
    ours = {
        "patterns": _time(lambda: treatment_patterns(j, mask, control, max_lines=3), args.repeat),
        "patterns_by_start_year": _time(
            lambda: treatment_patterns(j, mask, control, max_lines=3, breakdown=years),
            args.repeat,
        ),
        "survival_two_groups": _time(
            lambda: survival_answer(j, groups, control, kind="os_from_diagnosis"), args.repeat
        ),
        "survival_adjusted": _time(
            lambda: survival_answer(
                j, groups, control, kind="os_from_diagnosis", adjust=("age", "sex", "stage")
            ),
            args.repeat,
        ),
    }
    report["ours"] = ours
    report["ours_max_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    report["ours_rss_growth_store_and_queries_mib"] = round(
        (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0) / 1024
    )
    if args.peer:
        w = args.work
        w.mkdir(parents=True, exist_ok=True)
        pq.write_table(tables["lines_of_therapy"].drop(["drugs"]), w / "lines.parquet")
        pq.write_table(tables["patients"], w / "patients.parquet")
        pq.write_table(tables["conditions"], w / "conditions.parquet")
        pq.write_table(
            pa.table({"patient_id": ids.take(pa.array(chosen)), "grp": grp}), w / "cohort.parquet"
        )
        script = HERE / "peer_lifelines.py"
        proc = subprocess.run(
            [args.peer, str(script), str(w), str(args.peer_repeat)], capture_output=True, text=True
        )
        if proc.returncode:
            print(proc.stderr, file=sys.stderr)
            return 1
        peer = json.loads(proc.stdout.strip().splitlines()[-1])
        report["peer"] = peer
        report["speedup"] = {
            k: round(peer[k]["p50_ms"] / v["p50_ms"], 1) for k, v in ours.items() if k in peer
        }
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
