"""Accuracy of workflows/dna_seq on the seeded truth sets of workflows/dna_seq/truth/: per
seed, generate the default instance (tumour ~150x, normal ~50x, 100 kb of GRCh37 1), run
the real workflow on it with Snakemake, score the somatic calls; print one table.

    flock /tmp/oncolake-bench.lock .venv/bin/python bench/pipeline/truth.py --seeds 1 2 3 \
        --out /tmp/oncolake-truth
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TRUTH = REPO / "workflows" / "dna_seq" / "truth"
SNAKEFILE = REPO / "workflows" / "dna_seq" / "workflow" / "Snakefile"


def env() -> dict[str, str]:
    e = dict(os.environ)
    e["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{e['PATH']}"
    return e


def run_seed(seed: int, out: Path, cores: int) -> dict[str, object]:
    inst = out / f"seed{seed}"
    if not (inst / "truth" / "truth.json").exists():
        subprocess.run(
            [sys.executable, str(TRUTH / "simulate.py"), "--seed", str(seed), "--out", str(inst)],
            check=True,
            env=env(),
        )
    start = time.monotonic()
    subprocess.run(
        [
            str(Path(sys.executable).parent / "snakemake"),
            "--snakefile", str(SNAKEFILE), "--directory", str(inst),
            "--configfile", str(inst / "config" / "config.yaml"),
            "--cores", str(cores), "-q",
        ],
        check=True,
        env=env(),
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    wall = time.monotonic() - start
    scored = subprocess.run(
        [sys.executable, str(TRUTH / "score.py"), str(inst), "--json"],
        check=True,
        env=env(),
        capture_output=True,
        text=True,
    )
    result: dict[str, object] = json.loads(scored.stdout)
    result["seed"] = seed
    result["workflow_seconds"] = round(wall, 1)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--out", type=Path, default=Path("/tmp/oncolake-truth"))
    parser.add_argument("--cores", type=int, default=2)
    args = parser.parse_args()
    rows = [run_seed(s, args.out, args.cores) for s in args.seeds]
    bins = ["0.05", "0.10", "0.20", "0.40", "clonal", ">=0.10"]
    print("| seed | " + " | ".join(f"recall {b}" for b in bins)
          + " | precision | F1 | FP/Mb | artefacts called | SNV / indel recall |")  # fmt: skip
    print("|" + "---|" * (len(bins) + 6))
    for r in rows:
        by_bin = r["by_bin"]  # type: ignore[index]
        by_type = r["by_type"]  # type: ignore[index]
        cells = [
            f"{by_bin[b]['recall']:.3f} ({by_bin[b]['tp']}/{by_bin[b]['truth']})" for b in bins
        ]
        print(
            f"| {r['seed']} | " + " | ".join(cells)
            + f" | {r['precision']:.3f} ({r['tp']}/{r['calls']}) | {r['f1']:.3f} | "
            f"{r['fp_per_mb']:.1f} | "
            f"{r['artefacts_called']}/{r['artefacts']} | "
            f"{by_type['SNV']['recall']:.3f} / {by_type['INDEL']['recall']:.3f} |"
        )  # fmt: skip
    for r in rows:
        print(f"seed {r['seed']}: workflow {r['workflow_seconds']} s; FN {r['false_negatives']}")


if __name__ == "__main__":
    main()
