"""Wall time of the dna_seq workflow vs the same tool commands in one shell script.

Runs both on the same data, alternately, REPS times each in fresh working directories
(the workflow first in odd repetitions, the script first in even ones),
and prints per dataset the medians side by side with the ratio and the load average.
Run it under the shared benchmark lock so that benchmarks never overlap:

    flock /tmp/oncolake-bench.lock .venv/bin/python bench/pipeline/walltime.py \
        [--reps 3] [--threads 2] [--dataset test --dataset tiny --dataset scaled] [--scale 100]

Datasets (default: test and tiny):

* ``truth``: the default truth instance of workflows/dna_seq/truth/simulate.py (seed
  ``--truth-seed``; 100 kb of GRCh37 1, tumour ~150x, normal ~50x, 2+2 lanes), the
  instance issue 21 measures on; generated once into ``--cache`` and not timed;

* ``test``: the workflow's .test (2+2 lanes, 2,223 read pairs);
* ``tiny``: all 11 Sarek "tiny" lanes (5 normal + 6 tumour, 5,533 pairs) from
  ../shared/data;
* ``scaled``: the same 11 lanes, each read pair written ``--scale`` K times (read names
  made unique with a ``_c<k>`` suffix), so the tools do K times the work on the same
  DAG (11 units, 2 samples, 1 patient): the workflow's fixed cost (Snakemake start-up,
  scheduling, version check, provenance) is amortised as on real data. The copies are
  PCR-duplicate-like (same sequence and position): markdup flags all but one of each
  K, so pileup, calls and coverage see the depth of the tiny data, while trimming,
  mapping, sorting, duplicate marking and alignment statistics scale with K. The reads
  are generated once per K into ``--cache`` (gzip level 6) and not timed.
"""

from __future__ import annotations

import argparse
import gzip
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
WORKFLOW = REPO / "workflows" / "dna_seq"
SHARED = (REPO / ".." / "shared" / "data" / "genome" / "sarek-data" / "testdata" / "tiny").resolve()


def env() -> dict[str, str]:
    e = dict(os.environ)
    e["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{e['PATH']}"
    return e


def tiny_lanes() -> list[tuple[str, str, Path, Path]]:
    """(sample, lane, R1, R2) of all 11 Sarek tiny lanes."""
    lanes = []
    for sample, sub, tag in (("tiny_N", "normal", "n"), ("tiny_T", "tumor", "t")):
        for r1 in sorted((SHARED / sub).glob(f"tiny_{tag}_L00*_R1_xxx.fastq.gz")):
            lane = r1.name.split("_")[2]
            lanes.append((sample, lane, r1, Path(str(r1).replace("_R1_", "_R2_"))))
    return lanes


def _unique_name(header: str, copy: int) -> str:
    """``@name/1 comment`` -> ``@name_c<copy>/1 comment`` (mate suffix kept for bwa)."""
    name, sep, comment = header.partition(" ")
    base, slash, mate = name.rpartition("/")
    unique = f"{base}_c{copy}/{mate}" if slash and mate in {"1", "2"} else f"{name}_c{copy}"
    return unique + sep + comment


def replicate_fastq(src: Path, dest: Path, copies: int) -> Path:
    """Write every record of ``src`` ``copies`` times with unique read names."""
    with gzip.open(src, "rt") as fh:
        lines = fh.read().splitlines()
    records = [lines[i : i + 4] for i in range(0, len(lines), 4)]
    part = dest.with_name(dest.name + ".part")
    with gzip.open(part, "wt", compresslevel=6) as out:
        for k in range(copies):
            out.write("".join(f"{_unique_name(h, k)}\n{s}\n+\n{q}\n" for h, s, _, q in records))
    part.rename(dest)
    return dest


def scaled_reads(cache: Path, copies: int) -> list[tuple[str, str, Path, Path]]:
    """The 11 tiny lanes with every read pair ``copies`` times (generated once, cached)."""
    cache.mkdir(parents=True, exist_ok=True)
    jobs: list[tuple[Path, Path]] = []
    lanes = []
    for sample, lane, r1, r2 in tiny_lanes():
        d1, d2 = cache / f"x{copies}_{r1.name}", cache / f"x{copies}_{r2.name}"
        jobs += [(src, dst) for src, dst in ((r1, d1), (r2, d2)) if not dst.exists()]
        lanes.append((sample, lane, d1, d2))
    if jobs:
        print(f"generating {len(jobs)} FASTQs x{copies} in {cache} ...", flush=True)
        with ProcessPoolExecutor(max_workers=2) as pool:
            list(pool.map(replicate_fastq, *zip(*jobs, strict=True), [copies] * len(jobs)))
    return lanes


def truth_instance(cache: Path, seed: int) -> Path:
    """The default truth instance of seed ``seed`` (generated once, cached)."""
    inst = cache / f"truth-seed{seed}"
    if not (inst / "truth" / "truth.json").exists():
        shutil.rmtree(inst, ignore_errors=True)
        print(f"generating the truth instance of seed {seed} in {inst} ...", flush=True)
        simulate = WORKFLOW / "truth" / "simulate.py"
        subprocess.run(
            [sys.executable, str(simulate), "--seed", str(seed), "--out", str(inst)],
            env=env(),
            check=True,
            stdout=subprocess.DEVNULL,
        )
    return inst


def make_dataset(
    dest: Path, lanes: list[tuple[str, str, Path, Path]] | None, source: Path | None = None
) -> Path:
    """A working directory like .test (or a copy of ``source``, a truth instance: its
    config and data); ``lanes`` replace its units when given."""
    if source is not None:
        shutil.copytree(source, dest, ignore=shutil.ignore_patterns("truth"))
        return dest
    shutil.copytree(
        WORKFLOW / ".test",
        dest,
        ignore=shutil.ignore_patterns("results", "logs", "resources", ".snakemake"),
    )
    if lanes is not None:
        rows = ["sample_name\tunit_name\tplatform\tfq1\tfq2"]
        rows += [f"{s}\t{lane}\tILLUMINA\t{r1}\t{r2}" for s, lane, r1, r2 in lanes]
        (dest / "config" / "units.tsv").write_text("\n".join(rows) + "\n")
    return dest


def workflow_command(workdir: Path, threads: int) -> list[str]:
    """The peer run by Snakemake: the workflow on ``workdir``'s config."""
    return [
        str(Path(sys.executable).parent / "snakemake"),
        *("--snakefile", str(WORKFLOW / "workflow" / "Snakefile")),
        *("--directory", str(workdir), "--cores", str(threads)),
        *("--config", f"threads={threads}", "--quiet"),
    ]


def shell_command(workdir: Path, threads: int) -> list[str]:
    """The peer run by hand: the same tool commands in one shell script."""
    return ["bash", str(Path(__file__).with_name("by_hand.sh")), str(workdir), str(threads)]


def timed(cmd: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(
        cmd, cwd=cwd, env=env(), check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    return time.perf_counter() - start


def load() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument(
        "--dataset",
        action="append",
        choices=["test", "tiny", "scaled", "truth"],
        help="repeatable; default: test and tiny",
    )
    ap.add_argument("--scale", type=int, default=100, help="copies per read pair (scaled)")
    ap.add_argument("--truth-seed", type=int, default=1, help="seed of the truth instance")
    ap.add_argument(
        "--cache",
        type=Path,
        default=Path(tempfile.gettempdir()) / "oncolake-walltime-reads",
        help="where the scaled reads are generated once",
    )
    args = ap.parse_args()
    wanted = args.dataset or ["test", "tiny"]
    if not SHARED.is_dir():
        wanted = [d for d in wanted if d == "test"]
    names = {
        "test": ".test (2+2 lanes)",
        "tiny": "tiny, all 11 lanes",
        "scaled": f"11 lanes x{args.scale}",
        "truth": f"truth seed {args.truth_seed}",
    }
    print(f"command: {' '.join(sys.argv)}")
    print(
        f"{'dataset':<22}{'workflow s':>12}{'shell s':>10}{'ratio':>8}"
        f"   (median of {args.reps}, {args.threads} threads; load 1/5/15 min before -> after)"
    )
    for dataset in wanted:
        lanes = None
        source = truth_instance(args.cache, args.truth_seed) if dataset == "truth" else None
        if dataset == "tiny":
            lanes = tiny_lanes()
        elif dataset == "scaled":
            lanes = scaled_reads(args.cache, args.scale)
        before = load()
        wf, sh = [], []
        for rep in range(args.reps):
            with tempfile.TemporaryDirectory() as tmp:
                a = make_dataset(Path(tmp) / "wf", lanes, source)
                b = make_dataset(Path(tmp) / "sh", lanes, source)
                workflow_cmd = workflow_command(a, args.threads)
                shell_cmd = shell_command(b, args.threads)
                # Alternate which peer goes first, so that a drift in the machine's
                # speed within a pair (another process, page cache, clock) does not
                # always fall on the same peer.
                if rep % 2 == 0:
                    wf.append(timed(workflow_cmd, a))
                    sh.append(timed(shell_cmd, b))
                else:
                    sh.append(timed(shell_cmd, b))
                    wf.append(timed(workflow_cmd, a))
        w, s = statistics.median(wf), statistics.median(sh)
        print(
            f"{names[dataset]:<22}{w:>12.1f}{s:>10.1f}{w / s:>8.2f}"
            f"   runs wf={[round(x, 1) for x in wf]} sh={[round(x, 1) for x in sh]}"
            f" load {before} -> {load()}",
            flush=True,
        )


if __name__ == "__main__":
    main()
