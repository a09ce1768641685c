"""Wall time of the dna_seq workflow vs the same tool commands in one shell script.

Runs both on the same data, alternately, REPS times each in fresh copies, and prints the
medians side by side with the ratio. Datasets: the workflow's .test (2+2 lanes) and, when
../shared/data is present, all 11 Sarek "tiny" lanes (5 normal + 6 tumour).

    .venv/bin/python bench/pipeline/walltime.py [--reps 3] [--threads 2]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
WORKFLOW = REPO / "workflows" / "dna_seq"
SHARED = (REPO / ".." / "shared" / "data" / "genome" / "sarek-data" / "testdata" / "tiny").resolve()


def env() -> dict[str, str]:
    e = dict(os.environ)
    e["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{e['PATH']}"
    return e


def make_dataset(dest: Path, all_lanes: bool) -> Path:
    shutil.copytree(
        WORKFLOW / ".test",
        dest,
        ignore=shutil.ignore_patterns("results", "logs", "resources", ".snakemake"),
    )
    if all_lanes:
        rows = ["sample_name\tunit_name\tplatform\tfq1\tfq2"]
        for sample, sub, tag in (("tiny_N", "normal", "n"), ("tiny_T", "tumor", "t")):
            for r1 in sorted((SHARED / sub).glob(f"tiny_{tag}_L00*_R1_xxx.fastq.gz")):
                lane = r1.name.split("_")[2]
                rows.append(f"{sample}\t{lane}\tILLUMINA\t{r1}\t{str(r1).replace('_R1_', '_R2_')}")
        (dest / "config" / "units.tsv").write_text("\n".join(rows) + "\n")
    return dest


def timed(cmd: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(
        cmd, cwd=cwd, env=env(), check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    datasets = [(".test (2+2 lanes)", False)]
    if SHARED.is_dir():
        datasets.append(("tiny, all 11 lanes", True))
    print(
        f"{'dataset':<22}{'workflow s':>12}{'shell s':>10}{'ratio':>8}"
        f"   (median of {args.reps}, {args.threads} threads)"
    )
    for name, all_lanes in datasets:
        wf, sh = [], []
        for _ in range(args.reps):
            with tempfile.TemporaryDirectory() as tmp:
                a = make_dataset(Path(tmp) / "wf", all_lanes)
                b = make_dataset(Path(tmp) / "sh", all_lanes)
                wf.append(
                    timed(
                        [
                            str(Path(sys.executable).parent / "snakemake"),
                            "--snakefile",
                            str(WORKFLOW / "workflow" / "Snakefile"),
                            "--directory",
                            str(a),
                            "--cores",
                            str(args.threads),
                            "--config",
                            f"threads={args.threads}",
                            "--quiet",
                        ],
                        a,
                    )
                )
                sh.append(
                    timed(
                        [
                            "bash",
                            str(Path(__file__).with_name("by_hand.sh")),
                            str(b),
                            str(args.threads),
                        ],
                        b,
                    )
                )
        w, s = statistics.median(wf), statistics.median(sh)
        print(
            f"{name:<22}{w:>12.1f}{s:>10.1f}{w / s:>8.2f}"
            f"   runs wf={[round(x, 1) for x in wf]} sh={[round(x, 1) for x in sh]}"
        )


if __name__ == "__main__":
    main()
