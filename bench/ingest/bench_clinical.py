"""Clinical ingest rate, this tree against another checkout, on the same centre export.

One synthetic centre's mCODE export (``oncolake.demo.network``, with its treatment
journeys) is pseudonymised as ``oncolake submit`` does and then read, validated and
mapped as ``oncolake ingest`` does; each step is timed (wall and CPU time; CPU time is
steadier on a shared machine) in a fresh interpreter per tree, the trees alternating, with
the worker's peak RSS after submit and after the hub step, and the ratios of the medians
printed.

    git archive <commit> | tar -x -C /tmp/oncolake-old
    flock /tmp/oncolake-bench.lock .venv/bin/python bench/ingest/bench_clinical.py \\
        --other /tmp/oncolake-old --patients 500 --rounds 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parents[2]

WORKER = r"""
import json, sys, time
def hwm_mb():
    # VmHWM: the peak RSS of this process's own memory (ru_maxrss keeps the parent's
    # across fork + exec on Linux, so it showed the bench driver's size)
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")
from harmonise.fhir import full_urls, map_resources, read_resources
from harmonise.pseudonymise import Pseudonymiser
src = sys.argv[1]
t0, c0 = time.perf_counter(), time.process_time()
res = read_resources(src)
urls = full_urls(res)
for _, r in res:
    r.pop("_fullUrl", None)
clean = Pseudonymiser(key=b"bench", centre_id="NKI").resources(res, urls)
t1, c1 = time.perf_counter(), time.process_time()
rss_submit = hwm_mb()
out = sys.argv[2]
with open(out, "w") as fh:
    for r in clean:
        fh.write(json.dumps(r, sort_keys=True, separators=(",", ":")) + "\n")
del res, clean
t2, c2 = time.perf_counter(), time.process_time()
rows = map_resources(read_resources(out))
t3, c3 = time.perf_counter(), time.process_time()
import harmonise
print(json.dumps({"code": harmonise.__file__, "submit": t1 - t0, "hub": t3 - t2,
                  "submit_cpu": c1 - c0, "hub_cpu": c3 - c2,
                  "rss_submit_mb": rss_submit, "rss_peak_mb": hwm_mb(),
                  "resources": sum(1 for _ in open(out)),
                  "tables": {k: len(v) for k, v in rows.tables.items()}}))
"""


def run(tree: Path, src: Path, tmp: Path) -> dict[str, object]:
    """Time one submit + hub mapping with the code of ``tree``."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    out = subprocess.run(
        [sys.executable, "-c", WORKER, str(src), str(tmp / "pseudonymised.ndjson")],
        env=env, check=True, capture_output=True, text=True, cwd=tree,
    )  # fmt: skip
    # ``python -c`` puts the working directory first on sys.path: run in the tree
    result: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> int:
    """Generate the export, time both trees, print medians and ratios."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--other", type=Path, required=True, help="the other checkout (before)")
    ap.add_argument("--patients", type=int, default=500)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args(argv)
    from oncolake.demo.network import CentreSpec, write_centre

    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        pipeline = {"id": "oncolake/dna_seq", "version": "0.1.0", "fingerprint": "x"}
        spec = CentreSpec("NKI", "NKI", "NL", args.patients, "panel")
        export = write_centre(spec, tmp / "export", 6, pipeline)
        times: dict[str, list[dict[str, object]]] = {"other": [], "this": []}
        for _ in range(args.rounds):
            times["other"].append(run(args.other, export.clinical, tmp))
            times["this"].append(run(HERE, export.clinical, tmp))
    keys = ("submit", "hub", "submit_cpu", "hub_cpu", "rss_submit_mb", "rss_peak_mb")
    med = {
        k: {s: statistics.median(float(str(r.get(s, "nan"))) for r in v) for s in keys}
        for k, v in times.items()
    }
    n = times["this"][0]["resources"]
    print(f"{args.patients} patients, {n} resources, {args.rounds} rounds (medians):")
    for step, unit in zip(keys, ("s", "s", "s CPU", "s CPU", "MB", "MB"), strict=True):
        o, t = med["other"][step], med["this"][step]
        print(
            f"  {step:13s} other {o:7.2f} {unit:5s} this {t:7.2f} {unit:5s} this/other {t / o:.2f}"
        )
    print(f"  code: this {times['this'][0]['code']}, other {times['other'][0]['code']}")
    print(f"  tables this: {times['this'][0]['tables']}")
    print(f"  tables other: {times['other'][0]['tables']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
