"""Authenticated vs public trivial endpoint under wrk, side by side, on one server.

    flock /tmp/oncolake-bench.lock .venv/bin/python bench/serving/bench_auth.py \
        [--pairs 5] [--duration 10] [--code DIR]

Serves the catalogue (``serve_app.py``, uvicorn, another process) over a small fresh lake
(300 patients: neither endpoint touches the index) and runs ``wrk -t2 -c16`` alternately on

* the public ``GET /api/beacon/v2/info`` (no token, no database), and
* the authenticated ``GET /api/v1/users/me`` (an API token verified on every request),

``--pairs`` times; prints each pair's rates and ratio (authenticated / public), their
median, and the server's peak RSS. ``--code DIR`` serves another checkout's code (the
baseline: ``git archive <commit> | tar -x -C DIR``). ``--oidc``: the bearer is an OpenID
Connect access token with a one-visa passport (``serve_app.py --oidc``: RS256, key set on
loopback) instead of an API token.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_restart import peak_rss_mb


def make_lake(home: Path) -> None:
    """A one-centre lake of 300 synthetic patients."""
    import numpy as np
    from synthetic_network import build_vocabulary, centre_submission, open_bench_lake

    lake = open_bench_lake(home)
    lake.commit(centre_submission(1, 300, build_vocabulary(np.random.default_rng(6)), seed=6))


def wrk(url: str, duration: int, script: Path | None) -> float:
    """Requests/s of one wrk run (2 threads, 16 connections); non-2xx answers fail it."""
    cmd = ["wrk", "-t2", "-c16", f"-d{duration}s", "--timeout", "5s"]
    if script is not None:
        cmd += ["-s", str(script)]
    text = subprocess.run([*cmd, url], capture_output=True, text=True, check=True).stdout
    if "Non-2xx" in text:
        raise SystemExit(f"wrk saw error answers:\n{text}")
    return float(next(x for x in text.splitlines() if x.startswith("Requests/sec")).split()[1])


def main() -> int:
    """Run the pairs and print the JSON summary."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--pairs", type=int, default=5)
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--code", type=Path, default=None, help="serve this checkout's code")
    ap.add_argument("--oidc", action="store_true", help="bearer: an OIDC access token")
    args = ap.parse_args()
    if shutil.which("wrk") is None:
        ap.error("needs wrk on PATH (Debian package wrk; `make setup` installs it)")
    work = Path(tempfile.mkdtemp(prefix="bench-auth-"))
    port = 18500 + os.getpid() % 1000
    cmd = [sys.executable, str(Path(__file__).with_name("serve_app.py"))]
    cmd += ["--lake", str(work / "lake"), "--state", str(work / "state"), "--port", str(port)]
    if args.code:
        cmd += ["--code", str(args.code)]
    if args.oidc:
        cmd += ["--oidc"]
    make_lake(work / "lake")
    server = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    res: dict[str, Any] = {"code": str(args.code or "this checkout"), "oidc": args.oidc}
    try:
        assert server.stdout is not None
        token = server.stdout.readline().strip()
        base = f"http://127.0.0.1:{port}"
        headers = {"Authorization": f"Bearer {token}"}
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{base}/api/v1/users/me", headers=headers).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("the server did not answer within 120 s")
            time.sleep(0.2)
        me = work / "me.lua"
        me.write_text(f'wrk.headers["Authorization"] = "Bearer {token}"\n')
        pairs = []
        for _ in range(args.pairs):
            public = wrk(f"{base}/api/beacon/v2/info", args.duration, None)
            authed = wrk(f"{base}/api/v1/users/me", args.duration, me)
            pairs.append({"public_rps": public, "authenticated_rps": authed})
            pairs[-1]["ratio"] = round(authed / public, 2)
            print(json.dumps(pairs[-1]), flush=True)
        res["pairs"] = pairs
        res["median_ratio"] = statistics.median(p["ratio"] for p in pairs)
        res["best_public_rps"] = max(p["public_rps"] for p in pairs)
        res["best_authenticated_rps"] = max(p["authenticated_rps"] for p in pairs)
        res["server_peak_rss_mb"] = peak_rss_mb(server.pid)
        res["load_average"] = os.getloadavg()
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(res, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
