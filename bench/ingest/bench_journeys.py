"""Derivation time of regimens and lines of therapy (``harmonise.journeys``) at scale.

Journeys are drawn by ``oncolake.demo.journeys`` (the synthetic network's pathways; not
timed) in chunks of patients; only ``journey_rows`` (what ingest runs on a submission's
treatments) is timed, chunk by chunk, so memory stays bounded.

    flock /tmp/oncolake-bench.lock .venv/bin/python bench/ingest/bench_journeys.py \\
        --patients 1000000
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time

import numpy as np

from harmonise.journeys import PatientFacts, journey_rows
from oncolake.demo.journeys import PATHWAYS, draw_journey


def main(argv: list[str] | None = None) -> int:
    """Draw and derive; print patients, records, lines and the derivation seconds."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--patients", type=int, default=1_000_000)
    ap.add_argument("--chunk", type=int, default=20_000)
    ap.add_argument("--seed", type=int, default=22)
    args = ap.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    pathways = [p for options in PATHWAYS.values() for p in options]
    stages = np.array(["I", "II", "III", "IV"])
    derive = draw = 0.0
    records = lines = regimens = 0
    done = 0
    while done < args.patients:
        n = min(args.chunk, args.patients - done)
        t0 = time.perf_counter()
        treat: list[dict[str, object]] = []
        facts: dict[str, PatientFacts] = {}
        for i in range(n):
            pid = f"P{done + i}"
            dx = dt.date(2015, 1, 1) + dt.timedelta(days=int(rng.integers(0, 3650)))
            path = pathways[int(rng.integers(len(pathways)))]
            j = draw_journey(rng, dx, str(rng.choice(stages, p=[0.25, 0.3, 0.27, 0.18])), path)
            for r in j.records:
                treat.append(
                    {"patient_id": pid, "kind": "medication", "drug": r.drug,
                     "drug_mapped": True, "start_day": (r.start - dx).days,
                     "end_day": (r.end - dx).days if r.end else None,
                     "status": "active" if r.active else "completed"}
                )  # fmt: skip
            facts[pid] = PatientFacts(
                [(p - dx).days for p in j.progressions],
                (j.death - dx).days if j.death else None,
                (j.last_contact - dx).days,
            )
        t1 = time.perf_counter()
        lot, reg = journey_rows(treat, facts)
        t2 = time.perf_counter()
        draw += t1 - t0
        derive += t2 - t1
        records += len(treat)
        lines += len(lot)
        regimens += len(reg)
        done += n
    print(
        f"{done} patients, {records} medication records → {lines} lines, {regimens} "
        f"regimens: derivation {derive:.1f} s ({done / derive:,.0f} patients/s); "
        f"drawing (not ingest work) {draw:.1f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
