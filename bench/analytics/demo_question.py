"""The demo question over HTTP, timed: "BRAF V600E melanoma: first-line regimens and
overall survival by first-line regimen", on a lake with journeys (for example one made by
``bench/synthetic_network.py``), through the real app under uvicorn.

    .venv/bin/python bench/analytics/demo_question.py --home /tmp/net [--repeat 20]

Prints the first-line regimen table, then the survival answer of the two most frequent
first-line regimens with disjoint drugs (OS from the start of line 1, adjusted for age,
sex and stage), then HTTP p50/p95 of each request (after one warm request).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import uvicorn

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from synthetic_network import open_bench_lake

from catalog_api.auth import tokens
from catalog_api.core.config import ApiConfig
from catalog_api.main import create_app
from catalog_api.models import User
from tests.conftest import free_port

BRAF_MEL = {
    "criteria": {
        "type": "and",
        "criteria": [
            {"type": "variant", "gene": "BRAF", "protein_change": "V600E"},
            {"type": "tumour_type", "codes": ["MEL"]},
        ],
    }
}
PURPOSE = {"primary": "health"}


def _first_line(cohort: dict[str, Any], drugs: list[str]) -> dict[str, Any]:
    crit = [{"type": "treatment", "drug": d, "line_of_therapy": 1} for d in drugs]
    return {"criteria": {"type": "and", "criteria": [cohort["criteria"], *crit]}}


def _timed(client: httpx.Client, path: str, body: dict[str, Any], n: int) -> dict[str, float]:
    client.post(path, json=body)
    xs = []
    for _ in range(n):
        t0 = time.perf_counter()
        r = client.post(path, json=body)
        xs.append(time.perf_counter() - t0)
        r.raise_for_status()
    a = np.array(xs) * 1000
    return {
        "p50_ms": round(float(np.percentile(a, 50)), 1),
        "p95_ms": round(float(np.percentile(a, 95)), 1),
    }


def main() -> int:
    """Serve the lake, ask the question, print the answers and the timings."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--home", type=Path, required=True)
    ap.add_argument("--repeat", type=int, default=20)
    args = ap.parse_args()
    lake = open_bench_lake(args.home)
    state = Path(tempfile.mkdtemp(prefix="analytics-demo-"))
    cfg = ApiConfig(
        database_url=f"sqlite:///{state / 'app.db'}",
        secret_key=b"bench-secret-key-0123",
        tag_signing_key=b"bench-tag-key",
        home=state,
        exports_dir=state / "exports",
        query_budget=10_000_000,
    )
    app = create_app(cfg, lake)
    with app.state.sessionmaker() as session:
        user = User(username="demo", roles=["researcher"], centres=[])
        session.add(user)
        session.flush()
        _row, token = tokens.create_token(session, user=user, name="demo")
        session.commit()
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=120) as c:
        patterns = {"definition": BRAF_MEL, "purpose": PURPOSE, "max_lines": 3}
        r = c.post("/api/v1/cohorts/treatment-patterns", json=patterns)
        r.raise_for_status()
        ans = r.json()
        print(
            f"BRAF V600E melanoma: {ans['count']} patients, {ans['patients_with_a_line']} treated"
        )
        print("first-line regimens:")
        for row in ans["lines"][0]["regimens"]:
            tot = row.get("time_on_treatment") or {}
            print(
                f"  {row['regimen']:40} {row['patients']!s:>6}  median ToT {tot.get('median_days')}"
            )
        # the two most frequent first-line regimens with disjoint drug sets
        lot = lake.read("lines_of_therapy", columns=["line", "drugs", "regimen_name"])
        drugs_of: dict[str, list[str]] = {}
        for line, drugs, name in zip(
            *(lot.column(x).to_pylist() for x in lot.column_names), strict=True
        ):
            if line == 1 and drugs:
                drugs_of.setdefault(name or " + ".join(drugs), list(drugs))
        chosen: list[tuple[str, list[str]]] = []
        for row in ans["lines"][0]["regimens"]:
            d = drugs_of.get(row["regimen"])
            if d and all(not set(d) & set(o) for _, o in chosen):
                chosen.append((row["regimen"], d))
            if len(chosen) == 2:
                break
        survival = {
            "purpose": PURPOSE,
            "groups": [{"name": n, "definition": _first_line(BRAF_MEL, d)} for n, d in chosen],
            "endpoint": "os_from_line",
            "line": 1,
            "adjust_for": ["age", "sex", "stage"],
        }
        r = c.post("/api/v1/cohorts/survival", json=survival)
        r.raise_for_status()
        s = r.json()
        for curve in s["curves"]:
            print(
                f"OS from line 1, {curve['group']}: {curve['patients']} patients, "
                f"median {curve['median']}"
            )
        print("log-rank:", json.dumps(s["logrank"]))
        print("Cox:", json.dumps(s["cox"]))
        timing = {
            "treatment_patterns": _timed(
                c, "/api/v1/cohorts/treatment-patterns", patterns, args.repeat
            ),
            "survival_two_groups_adjusted": _timed(
                c, "/api/v1/cohorts/survival", survival, args.repeat
            ),
        }
        print("HTTP:", json.dumps(timing))
    server.should_exit = True
    return 0


if __name__ == "__main__":
    sys.exit(main())
