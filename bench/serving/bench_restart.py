"""Restart benchmark: how soon a (re)started server answers counts, over a bench lake.

    flock /tmp/oncolake-bench.lock .venv/bin/python bench/serving/bench_restart.py \
        --lake /tmp/bench-lake [--restarts 2] [--append 2000]

Starts ``serve_app.py`` (uvicorn, another process) with a fresh application state and
home, and measures from the process's start:

1. ``first_count_s``: the first ``POST /api/v1/cohorts/count`` answered 200 (polled every
   0.25 s; a 503 "not ready" answer counts as not yet, and how long the slowest 503 took is
   reported: it must be quick, never a hang), and the first count's own latency;
2. ``second_count_ms``: the next count of another definition (warm);
3. then stops the server and starts it again on the same home ``--restarts`` times:
   ``restart_first_count_s`` each time (the persisted index loaded, not rebuilt);
4. with ``--append N``: a submission of N patients committed while the server is down,
   then one more restart (the persisted index loaded and brought up to date with the
   appended submission only).

Peak RSS of each server process (``VmHWM``) is reported. Prints one JSON summary.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

COUNT = {
    "definition": {"criteria": {"type": "variant", "gene": "BRAF", "protein_change": "V600E"}},
    "purpose": {"primary": "general"},
}
PATTERNS = {
    "definition": {"criteria": {"type": "tumour_type", "codes": ["COAD", "READ"]}},
    "purpose": {"primary": "general"},
}
SECOND = {
    "definition": {
        "criteria": {
            "type": "and",
            "criteria": [
                {"type": "variant", "gene": "KRAS"},
                {"type": "tumour_type", "codes": ["PANCREAS"]},
            ],
        }
    },
    "purpose": {"primary": "health"},
}


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident set (VmHWM) in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def run_server(
    lake: Path, state: Path, port: int, timeout: float, wait_save: bool = False
) -> dict[str, Any]:
    """Start the server, wait for its first count, make a second, stop it; the figures."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [
            sys.executable,
            str(Path(__file__).with_name("serve_app.py")),
            "--lake",
            str(lake),
            "--state",
            str(state),
            "--port",
            str(port),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    out: dict[str, Any] = {}
    try:
        assert proc.stdout is not None
        token = proc.stdout.readline().strip()
        headers = {"Authorization": f"Bearer {token}"}
        base = f"http://127.0.0.1:{port}"
        slowest_503 = 0.0
        not_ready = 0
        with httpx.Client(base_url=base, timeout=120) as http:
            while True:  # the process listens (imports, app, uvicorn)
                try:
                    if http.get("/api/v1/health").status_code == 200:
                        out["listening_s"] = round(time.perf_counter() - t0, 2)
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.1)
            while True:
                if time.perf_counter() - t0 > timeout:
                    raise SystemExit(f"no count within {timeout} s")
                t = time.perf_counter()
                try:
                    r = http.post("/api/v1/cohorts/count", json=COUNT, headers=headers)
                except httpx.TransportError:
                    time.sleep(0.25)
                    continue
                took = time.perf_counter() - t
                if r.status_code == 200:
                    out["first_count_s"] = round(time.perf_counter() - t0, 2)
                    out["first_count_latency_ms"] = round(took * 1000, 1)
                    break
                if r.status_code != 503:
                    raise SystemExit(f"count answered {r.status_code}: {r.text}")
                not_ready += 1
                slowest_503 = max(slowest_503, took)
                out.setdefault("first_503", {"retry_after": r.headers.get("retry-after")})
                out["first_503"]["detail"] = r.json().get("detail")
                time.sleep(0.25)
            out["not_ready_answers"] = not_ready
            out["slowest_503_ms"] = round(slowest_503 * 1000, 1)
            t = time.perf_counter()
            r = http.post("/api/v1/cohorts/count", json=SECOND, headers=headers)
            assert r.status_code == 200, r.text
            out["second_count_ms"] = round((time.perf_counter() - t) * 1000, 1)
            out["count"] = r.json()["count"]
            # a server lives longer than a bench: let it number every patient and keep the
            # keys with its index, as it does within seconds of start in service
            t = time.perf_counter()
            while time.perf_counter() - t < 600:
                st = http.get("/api/v1/ready").json()
                if st.get("numbering_complete"):
                    break
                time.sleep(0.5)
            out["numbered_all_after_s"] = round(time.perf_counter() - t0, 1)
            # the first treatment-patterns answer: the journeys read (or taken from the
            # index file) in the background; 503 "not ready" until then
            t = time.perf_counter()
            slow = 0.0
            while time.perf_counter() - t < 900:
                t1 = time.perf_counter()
                r = http.post("/api/v1/cohorts/treatment-patterns", json=PATTERNS, headers=headers)
                slow = max(slow, time.perf_counter() - t1)
                if r.status_code == 200:
                    break
                assert r.status_code == 503, r.text
                time.sleep(0.25)
            out["first_patterns_s"] = round(time.perf_counter() - t0, 2)
            out["first_patterns_latency_ms"] = round((time.perf_counter() - t1) * 1000, 1)
            out["slowest_patterns_503_ms"] = round(slow * 1000, 1)
            # the refresh loop saves the index with its keys and journeys (asked for once
            # both are complete): wait for a file written after that
            ready_at = time.time()
            t = time.perf_counter()
            while wait_save and time.perf_counter() - t < 180:
                files = sorted((state / "index").glob("index-*.olx"))
                if files and files[-1].stat().st_mtime > ready_at + 1:
                    break
                time.sleep(0.5)
            time.sleep(1)
            files = sorted((state / "index").glob("index-*.olx"))
            out["index_file_mb"] = round(files[-1].stat().st_size / 1e6, 1) if files else 0
        out["peak_rss_mb"] = peak_rss_mb(proc.pid)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return out


def main() -> int:
    """Cold start, restarts, optionally an append in between; print the JSON summary."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--lake", type=Path, required=True)
    ap.add_argument("--restarts", type=int, default=2)
    ap.add_argument("--append", type=int, default=0, help="patients committed while down")
    ap.add_argument("--timeout", type=float, default=1800)
    ap.add_argument("--state", type=Path, default=None, help="kept if given (else a temp dir)")
    args = ap.parse_args()
    state = args.state or Path(tempfile.mkdtemp(prefix="bench-restart-"))
    port = 19000 + os.getpid() % 1000
    res: dict[str, Any] = {"lake": str(args.lake)}
    try:
        res["cold"] = run_server(args.lake, state, port, args.timeout, wait_save=True)
        print(json.dumps({"cold": res["cold"]}), flush=True)
        res["restarts"] = []
        for _ in range(args.restarts):
            r = run_server(args.lake, state, port, args.timeout)
            res["restarts"].append(r)
            print(json.dumps({"restart": r}), flush=True)
        if args.append:
            import numpy as np
            from synthetic_network import build_vocabulary, centre_submission, open_bench_lake

            lake = open_bench_lake(args.lake)
            vocab = build_vocabulary(np.random.default_rng(6))
            sub = centre_submission(80_000 + int(time.time()) % 1000, args.append, vocab, seed=9)
            t = time.perf_counter()
            lake.commit(sub)
            res["append_commit_s"] = round(time.perf_counter() - t, 2)
            r = run_server(args.lake, state, port, args.timeout, wait_save=True)
            res["after_append"] = r
            print(json.dumps({"after_append": r}), flush=True)
    finally:
        if args.state is None:
            shutil.rmtree(state, ignore_errors=True)
    print(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
