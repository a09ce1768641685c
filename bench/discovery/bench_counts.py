"""Discovery benchmark: in-memory index vs DuckDB SQL over the lake's Parquet, side by side.

    .venv/bin/python bench/synthetic_network.py --home /tmp/bench-lake        # once
    .venv/bin/python bench/discovery/bench_counts.py --home /tmp/bench-lake [--http] [--wrk]

Measures, on the lake under ``--home``:

1. the index build time (cold start) and its memory;
2. per definition of a mix (single hotspot; gene + tumour type + stage; OR of genes; NOT;
   disease-specific purpose), the count latency in-process (p50/p95, leaf cache cleared
   before each run, i.e. cold) and of the same question written as DuckDB SQL over the
   Parquet data files of the same lake version; the counts must be identical;
3. the time from a new submission's commit to the refreshed index;
4. with ``--http``: p50/p95 of ``POST /api/v1/cohorts/count`` through uvicorn (server in
   another process); with ``--wrk``: ``wrk`` throughput of the count endpoint vs a trivial
   authenticated endpoint of the same app (``GET /api/v1/users/me``), in ``--wrk-pairs``
   alternating pairs (the median pair ratio is reported), and vs the public
   ``GET /api/beacon/v2/info``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import duckdb
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from synthetic_network import build_vocabulary, centre_submission, open_bench_lake

from catalog_api.discovery.definition import parse_definition
from catalog_api.discovery.engine import DiscoveryEngine
from consent import oncotree
from consent.purpose import ResearchPurpose
from harmonise.lake import Lake, LakeVersion

GRU = {"primary": "general"}
LUAD = {"primary": "disease", "disease_codes": ["LUAD"]}
HMB = {"primary": "health"}

# name, definition criteria, purpose, SQL WHERE over patient-level CTEs (see baseline_sql)
MIX: list[tuple[str, dict[str, Any], dict[str, Any], str]] = [
    (
        "hotspot BRAF V600E",
        {"type": "variant", "gene": "BRAF", "protein_change": "V600E"},
        GRU,
        "patient_id IN (SELECT patient_id FROM variants WHERE gene='BRAF' "
        "AND protein_change='V600E')",
    ),
    (
        "KRAS + PANCREAS + stage IV*",
        {
            "type": "and",
            "criteria": [
                {"type": "variant", "gene": "KRAS"},
                {"type": "tumour_type", "codes": ["PANCREAS"]},
                {"type": "stage_group", "values": ["IV"]},
            ],
        },
        HMB,
        "patient_id IN (SELECT patient_id FROM variants WHERE gene='KRAS') AND patient_id IN "
        "(SELECT patient_id FROM conditions WHERE oncotree_code IN ({pancreas}) AND "
        "stage_group LIKE 'IV%')",
    ),
    (
        "OR of genes EGFR|ALK|KRAS G12C",
        {
            "type": "or",
            "criteria": [
                {"type": "variant", "gene": "EGFR"},
                {"type": "variant", "gene": "ALK"},
                {"type": "variant", "gene": "KRAS", "protein_change": "G12C"},
            ],
        },
        GRU,
        "patient_id IN (SELECT patient_id FROM variants WHERE gene IN ('EGFR','ALK') OR "
        "(gene='KRAS' AND protein_change='G12C'))",
    ),
    (
        "PIK3CA H1047R + BREAST, NOT alpelisib",
        {
            "type": "and",
            "criteria": [
                {"type": "variant", "gene": "PIK3CA", "protein_change": "H1047R"},
                {"type": "tumour_type", "codes": ["BREAST"]},
                {"type": "not", "criterion": {"type": "treatment", "drug": "alpelisib"}},
            ],
        },
        GRU,
        "patient_id IN (SELECT patient_id FROM variants WHERE gene='PIK3CA' AND "
        "protein_change='H1047R') AND patient_id IN (SELECT patient_id FROM conditions WHERE "
        "oncotree_code IN ({breast})) AND patient_id NOT IN (SELECT patient_id FROM treatments "
        "WHERE drug='alpelisib')",
    ),
    (
        "EGFR L858R, disease purpose LUAD",
        {"type": "variant", "gene": "EGFR", "protein_change": "L858R"},
        LUAD,
        "patient_id IN (SELECT patient_id FROM variants WHERE gene='EGFR' AND "
        "protein_change='L858R')",
    ),
]


def pct(values: list[float], q: float) -> float:
    """The q-quantile (0..1) of ``values`` in ms."""
    s = sorted(values)
    return s[min(len(s) - 1, round(q * (len(s) - 1)))] * 1000


def codes_sql(code: str) -> str:
    """SQL list of an OncoTree code and its descendants."""
    return ",".join(f"'{c}'" for c in sorted({code} | oncotree.descendants(code)))


def duckdb_over_parquet(lake: Lake, version: LakeVersion) -> duckdb.DuckDBPyConnection:
    """DuckDB views over the Parquet data files of ``version`` (visible submissions only)."""
    con = duckdb.connect()
    visible = lake.visible_submissions(version).column("submission_id").to_pylist()
    con.execute("CREATE TABLE visible AS SELECT unnest(?) AS submission_id", [visible])
    for name in ("variants", "conditions", "treatments", "consents"):
        tbl = lake.table(name)
        files = [
            t.file.file_path.removeprefix("file://")
            for t in tbl.scan(snapshot_id=version.snapshots[name]).plan_files()
        ]
        con.execute(
            f"CREATE VIEW {name} AS SELECT * FROM read_parquet({files!r}) "
            "WHERE submission_id IN (SELECT submission_id FROM visible)"
        )
    return con


def baseline_sql(where: str, permitted_profiles: list[str]) -> tuple[str, list[Any]]:
    """The count question as SQL: matching patients whose consent profile is permitted."""
    where = where.format(pancreas=codes_sql("PANCREAS"), breast=codes_sql("BREAST"))
    sql = f"""
    WITH permitted AS (
      SELECT patient_id FROM consents
      WHERE coalesce(status,'') || chr(31) || array_to_string(permissions, ',') || chr(31)
            || array_to_string(modifiers, ',') || chr(31) || array_to_string(disease_codes, ',')
            IN (SELECT unnest(?::VARCHAR[]))
    )
    SELECT count(DISTINCT patient_id) FROM permitted WHERE {where}
    """
    return sql, [permitted_profiles]


def permitted_profile_keys(engine: DiscoveryEngine, purpose: ResearchPurpose) -> list[str]:
    """The consent profiles the purpose is permitted by, as the SQL baseline writes them."""
    idx = engine.index
    bm = engine.permitted_by(idx, purpose)
    keys = []
    for (status, perms, mods, dis, _until), pbm in idx.profiles.items():
        if pbm.issubset(bm):
            keys.append("\x1f".join([status, ",".join(perms), ",".join(mods), ",".join(dis)]))
    return keys


def main() -> int:
    """Run the benchmark and print the figures (and a JSON summary)."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--home", type=Path, required=True)
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--baseline-runs", type=int, default=3)
    ap.add_argument("--http", action="store_true")
    ap.add_argument("--wrk", action="store_true")
    ap.add_argument("--wrk-pairs", type=int, default=3, help="alternating trivial/count pairs")
    ap.add_argument("--no-refresh", action="store_true", help="skip the commit/refresh test")
    args = ap.parse_args()
    if args.wrk and shutil.which("wrk") is None:  # before minutes of work, not after
        ap.error("--wrk needs wrk on PATH: `make bench` installs it (Debian package wrk)")
    lake = open_bench_lake(args.home)
    out: dict[str, Any] = {}

    t0 = time.perf_counter()
    engine = DiscoveryEngine(lake)
    engine.refresh()
    out["index_build_s"] = round(time.perf_counter() - t0, 1)
    out["patients"] = len(engine.index.live)
    out["max_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    print(
        f"index built in {out['index_build_s']} s: {out['patients']} patients, "
        f"{len(engine.index.atoms)} variant atoms, max RSS {out['max_rss_mb']} MB"
    )

    version = engine.index.version
    assert version is not None
    con = duckdb_over_parquet(lake, version)
    rows = []
    for name, criteria, purpose_json, where in MIX:
        definition = parse_definition({"criteria": criteria})
        purpose = ResearchPurpose.model_validate(purpose_json)
        times = []
        total = -1
        for _ in range(args.runs):
            engine.index.memo.clear()  # cold: no memoised leaf or purpose bitmaps
            t = time.perf_counter()
            total = engine.count(definition, purpose).total
            times.append(time.perf_counter() - t)
        warm = []
        for _ in range(args.runs):
            t = time.perf_counter()
            engine.count(definition, purpose)
            warm.append(time.perf_counter() - t)
        sql, params = baseline_sql(where, permitted_profile_keys(engine, purpose))
        btimes = []
        expected = -1
        for _ in range(args.baseline_runs):
            t = time.perf_counter()
            expected = con.execute(sql, params).fetchone()[0]  # type: ignore[index]
            btimes.append(time.perf_counter() - t)
        row = {
            "definition": name,
            "count": total,
            "baseline_count": expected,
            "identical": total == expected,
            "index_p50_ms": round(pct(times, 0.5), 2),
            "index_p95_ms": round(pct(times, 0.95), 2),
            "index_warm_p50_ms": round(pct(warm, 0.5), 3),
            "duckdb_p50_ms": round(pct(btimes, 0.5), 1),
            "speedup_p50": round(pct(btimes, 0.5) / max(pct(times, 0.5), 1e-6), 1),
        }
        rows.append(row)
        print(json.dumps(row))
    out["mix"] = rows
    all_times = [r["index_p95_ms"] for r in rows]
    out["in_process_worst_p95_ms"] = max(all_times)
    out["min_speedup"] = min(r["speedup_p50"] for r in rows)
    out["all_identical"] = all(r["identical"] for r in rows)

    if not args.no_refresh:
        vocab = build_vocabulary(__import__("numpy").random.default_rng(6))
        sub = centre_submission(90_000 + int(time.time()) % 1000, 2000, vocab, seed=7)
        t = time.perf_counter()
        lake.commit(sub)
        committed = time.perf_counter()
        engine.refresh()
        done = time.perf_counter()
        out["commit_s"] = round(committed - t, 2)
        out["refresh_after_commit_s"] = round(done - committed, 2)
        out["patients_after"] = len(engine.index.live)
        print(
            f"commit of 2,000 patients {out['commit_s']} s; index refreshed "
            f"{out['refresh_after_commit_s']} s after the commit"
        )

    if args.http or args.wrk:
        out.update(http_bench(args, rows))
    print(json.dumps(out, indent=1))
    return 0


def http_bench(args: argparse.Namespace, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Latency through uvicorn (server in a subprocess) and wrk throughput."""
    res: dict[str, Any] = {}
    tmp = Path(tempfile.mkdtemp(prefix="bench-http-"))
    port = 18000 + os.getpid() % 1000
    server = subprocess.Popen(
        [
            sys.executable,
            str(Path(__file__).with_name("serve.py")),
            "--home",
            str(args.home),
            "--port",
            str(port),
            "--state",
            str(tmp),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        token = server.stdout.readline().strip()
        base = f"http://127.0.0.1:{port}"
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=base, timeout=300) as http:
            t = time.perf_counter()
            while True:
                try:
                    r = http.get("/api/v1/filtering-terms", headers=headers)
                    if r.status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.5)
            res["server_ready_s"] = round(time.perf_counter() - t, 1)
            lat: list[float] = []
            for _ in range(args.runs):
                for _name, criteria, purpose, _w in MIX:
                    body = {"definition": {"criteria": criteria}, "purpose": purpose}
                    t = time.perf_counter()
                    r = http.post("/api/v1/cohorts/count", json=body, headers=headers)
                    lat.append(time.perf_counter() - t)
                    assert r.status_code == 200, r.text
            res["http_p50_ms"] = round(pct(lat, 0.5), 2)
            res["http_p95_ms"] = round(pct(lat, 0.95), 2)
            print(
                f"HTTP count latency over {len(lat)} requests: p50 {res['http_p50_ms']} ms, "
                f"p95 {res['http_p95_ms']} ms"
            )
        if args.wrk:
            res.update(wrk_bench(base, token, tmp, args.wrk_pairs))
    finally:
        server.terminate()
        server.wait(timeout=30)
    return res


def wrk_bench(base: str, token: str, tmp: Path, pairs: int = 3) -> dict[str, Any]:
    """wrk (2 threads, 16 connections, 10 s) on the count vs the trivial endpoint, in
    ``pairs`` alternating pairs (the trivial endpoint's rate moves by ±20 % from one run to
    the next on a shared machine): each pair's ratio, their median, and the best rates."""
    body = json.dumps({"definition": {"criteria": MIX[0][1]}, "purpose": MIX[0][2]})
    script = tmp / "count.lua"
    script.write_text(
        'wrk.method = "POST"\n'
        f"wrk.body = {json.dumps(body)}\n"
        'wrk.headers["Content-Type"] = "application/json"\n'
        f'wrk.headers["Authorization"] = "Bearer {token}"\n'
    )

    def run(url: str, extra: list[str]) -> float:
        cmd = ["wrk", "-t2", "-c16", "-d10s", "--timeout", "5s", *extra, url]
        text = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
        print(text)
        line = next(x for x in text.splitlines() if x.startswith("Requests/sec"))
        return float(line.split()[1])

    me = tmp / "me.lua"
    me.write_text(f'wrk.headers["Authorization"] = "Bearer {token}"\n')
    info = run(f"{base}/api/beacon/v2/info", [])
    rates = []
    for _ in range(max(1, pairs)):
        trivial = run(f"{base}/api/v1/users/me", ["-s", str(me)])
        count = run(f"{base}/api/v1/cohorts/count", ["-s", str(script)])
        rates.append((trivial, count))
    ratios = sorted(round(c / t, 2) for t, c in rates)
    trivial, count = max(t for t, _ in rates), max(c for _, c in rates)
    return {
        "wrk_public_info_rps": info,
        "wrk_trivial_authenticated_rps": trivial,
        "wrk_count_rps": count,
        "wrk_pair_ratios": [round(c / t, 2) for t, c in rates],
        "wrk_ratio_vs_authenticated": ratios[len(ratios) // 2],
        "wrk_ratio_vs_public_info": round(count / info, 2),
    }


if __name__ == "__main__":
    sys.exit(main())
