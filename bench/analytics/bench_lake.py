"""Analytics on a network lake, in-process and over HTTP, beside the peer (DuckDB extract of
the lake + pandas + lifelines), with the peak memory of each.

    flock /tmp/oncolake-bench.lock .venv/bin/python bench/analytics/bench_lake.py \
        --lake /tmp/bench-lake --state /tmp/bench-state --peer /tmp/peer/bin/python

Over ``--lake`` (``bench/synthetic_network.py``, e.g. 1,000,000 patients) with the
application state ``--state`` of an earlier ``bench/serving/bench_restart.py --state`` run
(its persisted index and journeys, its numbered patients; a fresh state works too, it
only takes the first build), for a cohort of two tumour types (``--cohort``: bowel, COAD
or READ, about 110,000 of a million; nsclc, LUAD or LUSC, about 180,000; general
research use):

1. in-process: the app's engine, journeys and disclosure control, the same calls as the
   routes (``treatment_patterns_query`` / ``survival_query``, audited), ``--repeat``
   times each after one warm call: p50/p95; the process's peak RSS;
2. over HTTP: ``serve_app.py`` (uvicorn, another process) on the same state, one client,
   ``--repeat`` requests each: p50/p95, and the server's peak RSS (VmHWM);
3. the peer (``--peer``: a Python with pandas < 3, lifelines and duckdb): the cohort's
   patients, conditions and lines read from the lake (``Lake.read``) into Parquet, then
   ``peer_lifelines.py`` (DuckDB extract, pandas counts, lifelines KM/log-rank/Cox),
   in its own process: its times and its peak RSS (VmHWM).

Two-group survival: OS from diagnosis, one type against the other. Prints one JSON report.
"""

from __future__ import annotations

import argparse
import json
import resource
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from serving.bench_restart import peak_rss_mb
from synthetic_network import open_bench_lake

from catalog_api.analytics.service import (
    journeys_for,
    start_journeys,
    survival_query,
    treatment_patterns_query,
)
from catalog_api.core.config import ApiConfig
from catalog_api.discovery.definition import parse_definition
from catalog_api.main import create_app
from catalog_api.models import User
from consent.purpose import ResearchPurpose

HERE = Path(__file__).resolve().parent
PURPOSE = {"primary": "general"}
#: --cohort: the cohort's two tumour types (the survival groups; the cohort is both)
COHORTS = {"bowel": ("COAD", "READ"), "nsclc": ("LUAD", "LUSC")}


def _codes(*codes: str) -> dict[str, Any]:
    return {"criteria": {"type": "tumour_type", "codes": list(codes)}}


A, B = COHORTS["bowel"]  # set by main() from --cohort


def pct(xs: list[float]) -> dict[str, float]:
    """p50 and p95 of ``xs`` seconds, in milliseconds."""
    a = np.array(xs) * 1000
    return {
        "p50_ms": round(float(np.percentile(a, 50)), 1),
        "p95_ms": round(float(np.percentile(a, 95)), 1),
        "n": len(xs),
    }


def config(state: Path) -> ApiConfig:
    """The bench server's configuration (as ``serve_app.py``)."""
    return ApiConfig(
        database_url=f"sqlite:///{state / 'app.db'}",
        secret_key=b"bench-secret-key-0123",
        tag_signing_key=b"bench-tag-key",
        home=state,
        exports_dir=state / "exports",
        query_budget=10_000_000,
    )


def in_process(lake_home: Path, state: Path, repeat: int) -> tuple[dict[str, Any], list[str]]:
    """Time the routes' calls in this process; the figures and the cohort's patient ids."""
    out: dict[str, Any] = {}
    t0 = time.perf_counter()
    lake = open_bench_lake(lake_home)
    app = create_app(config(state), lake)
    engine = app.state.discovery_engine
    engine.start()
    engine.wait_ready(1800)
    sync = start_journeys(engine)
    store = journeys_for(engine)
    while store.get(engine.index) is None:
        time.sleep(0.2)
    out["ready_s"] = round(time.perf_counter() - t0, 1)
    out["journeys_adopted"] = store.adopted
    j = store.get(engine.index)
    assert j is not None
    out["journeys_mib"] = round(j.nbytes / 2**20, 1)
    out["lines"] = len(j.l_slot)
    control = app.state.disclosure_control
    purpose = ResearchPurpose.model_validate(PURPOSE)
    with app.state.sessionmaker() as session:
        user = session.query(User).filter_by(username="bench").one_or_none()
        if user is None:
            user = User(username="bench", roles=["researcher"], centres=[])
            session.add(user)
            session.commit()

        def patterns() -> dict[str, Any]:
            return treatment_patterns_query(
                session,
                user=user,
                engine=engine,
                store=store,
                control=control,
                definition=parse_definition(_codes(A, B)),
                purpose=purpose,
                max_lines=3,
            ).result()

        def survival() -> dict[str, Any]:
            return survival_query(
                session,
                user=user,
                engine=engine,
                store=store,
                control=control,
                groups=[(A, parse_definition(_codes(A))), (B, parse_definition(_codes(B)))],
                purpose=purpose,
                endpoint="os_from_diagnosis",
            ).result()

        for name, fn in (("patterns", patterns), ("survival_two_groups", survival)):
            first = fn()
            if name == "patterns":
                out["cohort_count_disclosed"] = first["count"]
            xs = []
            for _ in range(repeat):
                t = time.perf_counter()
                fn()
                xs.append(time.perf_counter() - t)
            out[name] = pct(xs)
        r = engine.count(parse_definition(_codes(A, B)), purpose)
        out["cohort_patients"] = len(r.permitted)
        slots = np.frombuffer(r.permitted.to_array(), dtype=np.uint32)
        ids = engine.index.patient_ids
        cohort = [ids[int(s)] for s in slots]
    sync.stop()
    engine.stop()
    out["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return out, cohort


def over_http(lake_home: Path, state: Path, repeat: int, port: int) -> dict[str, Any]:
    """Time the two requests against ``serve_app.py`` in another process."""
    out: dict[str, Any] = {}
    patterns = {"definition": _codes(A, B), "purpose": PURPOSE, "max_lines": 3}
    survival = {
        "groups": [{"name": A, "definition": _codes(A)}, {"name": B, "definition": _codes(B)}],
        "purpose": PURPOSE,
        "endpoint": "os_from_diagnosis",
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            str(HERE.parent / "serving" / "serve_app.py"),
            "--lake",
            str(lake_home),
            "--state",
            str(state),
            "--port",
            str(port),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        token = proc.stdout.readline().strip()
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120) as http:
            t0 = time.perf_counter()
            while True:
                try:
                    r = http.post(
                        "/api/v1/cohorts/treatment-patterns", json=patterns, headers=headers
                    )
                    if r.status_code == 200:
                        break
                    assert r.status_code == 503, r.text
                except httpx.TransportError:
                    pass
                assert time.perf_counter() - t0 < 1800, "no answer within 30 min"
                time.sleep(0.5)
            out["first_answer_after_s"] = round(time.perf_counter() - t0, 1)
            for name, path, body in (
                ("patterns", "/api/v1/cohorts/treatment-patterns", patterns),
                ("survival_two_groups", "/api/v1/cohorts/survival", survival),
            ):
                assert http.post(path, json=body, headers=headers).status_code == 200
                xs = []
                for _ in range(repeat):
                    t = time.perf_counter()
                    r = http.post(path, json=body, headers=headers)
                    xs.append(time.perf_counter() - t)
                    assert r.status_code == 200, r.text
                out[name] = pct(xs)
                out[name]["bytes"] = len(r.content)
        out["server_peak_rss_mib"] = peak_rss_mb(proc.pid)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return out


def peer(lake_home: Path, cohort: list[str], python: str, repeat: int) -> dict[str, Any]:
    """The cohort's rows read from the lake into Parquet, then the peer in its process."""
    lake = open_bench_lake(lake_home)
    version = lake.current_version()
    work = Path(tempfile.mkdtemp(prefix="scale-peer-"))
    ids = pa.array(cohort, pa.string())
    t0 = time.perf_counter()

    def rows(name: str, cols: list[str]) -> pa.Table:
        t = lake.read(name, version, columns=cols)
        return t.filter(pc.is_in(t.column("patient_id"), value_set=ids))

    pats = rows("patients", ["patient_id", "anchor", "death_day", "last_known_alive_day", "sex"])
    cond = rows("conditions", ["patient_id", "kind", "age_at_diagnosis", "stage_group"])
    cond = cond.filter(pc.equal(cond.column("kind"), "primary")).drop(["kind"])
    lot = rows(
        "lines_of_therapy",
        ["patient_id", "line", "regimen_name", "start_day", "end_day", "end_reason",
         "next_line_start_day"],
    )  # fmt: skip
    # the peer's two groups: A / B by the primary condition's code
    codes = rows("conditions", ["patient_id", "kind", "oncotree_code"])
    codes = codes.filter(pc.equal(codes.column("kind"), "primary"))
    grp = pc.cast(pc.equal(codes.column("oncotree_code"), B), pa.int8())
    pq.write_table(pats, work / "patients.parquet")
    pq.write_table(cond, work / "conditions.parquet")
    pq.write_table(lot, work / "lines.parquet")
    pq.write_table(
        pa.table({"patient_id": codes.column("patient_id"), "grp": grp}), work / "cohort.parquet"
    )
    out: dict[str, Any] = {"lake_read_to_parquet_s": round(time.perf_counter() - t0, 1)}
    proc = subprocess.run(
        [python, str(HERE / "peer_lifelines.py"), str(work), str(repeat)],
        capture_output=True,
        text=True,
    )
    if proc.returncode:
        raise SystemExit(proc.stderr)
    out.update(json.loads(proc.stdout.strip().splitlines()[-1]))
    out["patients"] = pats.num_rows
    out["lines"] = lot.num_rows
    return out


def main() -> int:
    """In-process, HTTP, peer; print the report."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lake", type=Path, required=True)
    ap.add_argument("--state", type=Path, required=True)
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--peer", default=None, help="python with pandas<3, lifelines, duckdb")
    ap.add_argument("--peer-repeat", type=int, default=3)
    ap.add_argument("--port", type=int, default=19321)
    ap.add_argument("--skip-http", action="store_true")
    ap.add_argument("--cohort", choices=sorted(COHORTS), default="bowel")
    args = ap.parse_args()
    global A, B
    A, B = COHORTS[args.cohort]
    args.state.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {"lake": str(args.lake)}
    report["in_process"], cohort = in_process(args.lake, args.state, args.repeat)
    print(json.dumps({"in_process": report["in_process"]}), flush=True)
    if not args.skip_http:
        report["http"] = over_http(args.lake, args.state, args.repeat, args.port)
        print(json.dumps({"http": report["http"]}), flush=True)
    if args.peer:
        report["peer"] = peer(args.lake, cohort, args.peer, args.peer_repeat)
        ours = report["in_process"]
        report["peer_over_ours_p50"] = {
            k: round(report["peer"][k]["p50_ms"] / ours[k]["p50_ms"], 1)
            for k in ("patterns", "survival_two_groups")
            if k in report["peer"]
        }
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
