"""Run every benchmark in turn (``make bench``): the figures the issues ask for.

    .venv/bin/python -m bench [--only ingest|pipeline|discovery ...] [--work DIR]

Each benchmark is a script of its own (run them directly for other sizes); this runs them
one after the other, never side by side (they measure ratios against a peer on the same
2-core machine), under the same lock file the scripts document, so that a benchmark
started by hand meanwhile waits. The synthetic network for discovery (1,000,000 patients,
200 centres: about 20 minutes) is generated once into ``--work``/network and reused.
"""

from __future__ import annotations

import argparse
import fcntl
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
LOCK = Path(tempfile.gettempdir()) / "oncolake-bench.lock"


def _run(title: str, args: list[str]) -> None:
    print(f"\n== {title}\n$ {' '.join(args)}", flush=True)
    t0 = time.perf_counter()
    subprocess.run([sys.executable, *args], check=True, cwd=HERE.parent)
    print(f"({time.perf_counter() - t0:.0f} s)", flush=True)


def main() -> int:
    """Run the chosen benchmarks (all by default) in order."""
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    ap.add_argument(
        "--only", action="append", choices=["ingest", "pipeline", "discovery"], default=None
    )
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "oncolake-bench")
    args = ap.parse_args()
    only = set(args.only or ["ingest", "pipeline", "discovery"])
    args.work.mkdir(parents=True, exist_ok=True)
    with LOCK.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if "ingest" in only:
            b = str(HERE / "ingest" / "bench_vcf.py")
            work = ["--work", str(args.work / "ingest")]
            title = "ingest: 1M-record VCF committed vs bcftools query"
            _run(title, [b, "large", "--commit", *work])
            _run("ingest: 2,000 small VCFs vs bcftools per file", [b, "small", *work])
        if "pipeline" in only:
            walltime = str(HERE / "pipeline" / "walltime.py")
            datasets = ["--dataset", "test", "--dataset", "scaled"]
            _run("pipeline: workflow vs the same commands by hand", [walltime, *datasets])
            _run(
                "pipeline: somatic calls vs Strelka's on the Strelka demo",
                [str(HERE / "pipeline" / "strelka_concordance.py")],
            )
        if "discovery" in only:
            home = args.work / "network"
            if not (home / "done").exists():
                _run(
                    "discovery: generate the synthetic network (once)",
                    [str(HERE / "synthetic_network.py"), "--home", str(home)],
                )
                (home / "done").touch()
            counts = str(HERE / "discovery" / "bench_counts.py")
            title = "discovery: counts vs DuckDB SQL, HTTP latency, wrk throughput"
            _run(title, [counts, "--home", str(home), "--http", "--wrk"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
