"""Where the workflow's extra wall time goes: per-step timelines of both peers.

Runs the dna_seq workflow and by_hand.sh once each (same data as walltime.py) with every
tool (gzip, fastp, bwa, samtools, bcftools, tabix, mosdepth, multiqc, python3) behind a
PATH shim that appends ``start end tool args`` to a trace file, and the workflow's main
process's own CPU time sampled from /proc while it runs. Prints per step the wall
time in each peer, the busy time (union of tool intervals), the idle time (no tool
running) and Snakemake's main-process CPU. Run it under the benchmark lock:

    flock /tmp/oncolake-bench.lock .venv/bin/python bench/pipeline/steps.py \
        [--dataset scaled] [--scale 100] [--threads 2] [--keep DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from walltime import (
    env,
    make_dataset,
    scaled_reads,
    shell_command,
    tiny_lanes,
    workflow_command,
)

TOOLS = ["gzip", "fastp", "bwa", "samtools", "bcftools", "tabix", "mosdepth", "multiqc"]

SHIM = """#!/bin/bash
s=$EPOCHREALTIME
{real} "$@"
rc=$?
e=$EPOCHREALTIME
a="$*"
printf '%s %s {name} %s\\n' "$s" "$e" "${{a:0:160}}" >> "$STEPTRACE"
exit $rc
"""


PY_SHIM = """{shebang}
import os, subprocess, sys, time
s = time.time()
rc = subprocess.call([{real!r}, *sys.argv[1:]])
a = " ".join(sys.argv[1:])[:160]
with open(os.environ["STEPTRACE"], "a") as fh:
    fh.write(f"{{s}} {{time.time()}} {name} {{a}}\\n")
sys.exit(rc)
"""


def shims(dest: Path, path: str) -> Path:
    """Timing shims; a Python console script gets a Python shim with its own ``#!`` line,
    so that the workflow's version probe still reads its version in process."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in [*TOOLS, "python3"]:
        real = shutil.which(name, path=path)
        if real is None:
            continue
        shim = dest / name
        with open(real, "rb") as fh:
            first = fh.readline(512).decode(errors="replace").strip()
        if first.startswith("#!") and "python" in first:
            shim.write_text(PY_SHIM.format(shebang=first, real=real, name=name))
        else:
            shim.write_text(SHIM.format(real=real, name=name))
        shim.chmod(0o755)
    return dest


def step_of(tool: str, args: str) -> str:
    """A coarse step name shared by both peers."""
    first = args.split(" ")[0] if args else ""
    if tool in {"gzip"}:
        return "reference"
    if tool == "samtools" and first in {"faidx", "dict"}:
        return "reference"
    if tool == "bwa" and first == "index":
        return "reference"
    if tool == "bwa" and first == "mem":
        return "map"
    if tool == "samtools" and first in {"fixmate", "sort"}:
        return "map"
    if tool == "samtools" and first in {"merge", "markdup"}:
        return "markdup"
    if tool == "samtools" and first == "index":
        return "index"
    if tool == "samtools" and first in {"stats", "flagstat"}:
        return "stats"
    if tool == "bcftools" and first in {"mpileup", "call", "view"}:
        return "pileup/call"
    if tool == "bcftools" and first in {"norm", "csq", "annotate"}:
        return "norm/csq"
    if tool == "tabix":
        return "norm/csq"
    if tool == "bcftools" and first == "stats":
        return "vcf stats"
    if tool == "python3":
        return "call_somatic"
    if "--version" in args or first in {"version", "-v", "-V"} or args == "":
        return "version probe"
    return tool


def union(intervals: list[tuple[float, float]]) -> float:
    total, end = 0.0, float("-inf")
    for s, e in sorted(intervals):
        if s > end:
            total += e - s
            end = e
        elif e > end:
            total += e - end
            end = e
    return total


def analyse(trace: Path, t0: float, t1: float, label: str) -> dict[str, float]:
    rows = []
    for line in trace.read_text().splitlines():
        s, e, tool, *rest = line.split(" ", 3)
        rows.append((float(s), float(e), tool, rest[0] if rest else ""))
    steps: dict[str, list[tuple[float, float]]] = {}
    for s, e, tool, args in rows:
        steps.setdefault(step_of(tool, args), []).append((s, e))
    busy = union([(s, e) for s, e, _, _ in rows])
    first = min(s for s, _, _, _ in rows)
    last = max(e for _, e, _, _ in rows)
    out = {"total": t1 - t0, "before first tool": first - t0, "after last tool": t1 - last}
    out["idle between tools"] = (last - first) - busy
    for name, iv in steps.items():
        out[f"step {name}"] = union(iv)
    print(f"-- {label}: {len(rows)} tool processes", flush=True)
    return out


def report(tmp: Path) -> None:
    results = {}
    for peer in ("workflow", "shell"):
        t0, t1, *cpu = (float(x) for x in (tmp / f"{peer}.times").read_text().split())
        results[peer] = analyse(tmp / f"{peer}.trace", t0, t1, peer)
        tick = os.sysconf("SC_CLK_TCK")
        results[peer]["main process CPU"] = sum(cpu) / tick
    keys = list(results["workflow"])
    keys += [k for k in results["shell"] if k not in results["workflow"]]
    print(f"{'':<26}{'workflow s':>12}{'shell s':>10}{'diff':>8}")
    for k in keys:
        w, sh = results["workflow"].get(k, 0.0), results["shell"].get(k, 0.0)
        print(f"{k:<26}{w:>12.2f}{sh:>10.2f}{w - sh:>8.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--dataset", choices=["test", "tiny", "scaled"], default="scaled")
    ap.add_argument("--scale", type=int, default=100)
    ap.add_argument("--keep", type=Path, help="keep the working directories here")
    ap.add_argument(
        "--cache", type=Path, default=Path(tempfile.gettempdir()) / "oncolake-walltime-reads"
    )
    ap.add_argument("--report", type=Path, help="only print the table of a --keep directory")
    args = ap.parse_args()
    if args.report:
        report(args.report)
        return
    lanes = None
    if args.dataset == "tiny":
        lanes = tiny_lanes()
    elif args.dataset == "scaled":
        lanes = scaled_reads(args.cache, args.scale)
    tmp = Path(tempfile.mkdtemp(prefix="oncolake-steps-"))
    try:
        e = env()
        sh_dir = shims(tmp / "shims", e["PATH"])
        e["PATH"] = f"{sh_dir}:{e['PATH']}"
        for peer in ("workflow", "shell"):
            work = make_dataset(tmp / peer, lanes)
            trace = tmp / f"{peer}.trace"
            trace.touch()
            e["STEPTRACE"] = str(trace)
            if peer == "workflow":
                cmd = workflow_command(work, args.threads)
            else:
                cmd = shell_command(work, args.threads)
            t0 = time.time()
            proc = subprocess.Popen(
                cmd, cwd=work, env=e, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            cpu = "0 0"
            while proc.poll() is None:
                with contextlib.suppress(OSError):  # utime, stime of this process (ticks)
                    cpu = " ".join(Path(f"/proc/{proc.pid}/stat").read_text().split()[13:15])
                time.sleep(0.1)
            t1 = time.time()
            if proc.returncode:
                raise SystemExit(f"{peer} failed ({proc.returncode})")
            (tmp / f"{peer}.times").write_text(f"{t0} {t1} {cpu}\n")
        report(tmp)
    finally:
        if args.keep:
            shutil.copytree(tmp, args.keep, dirs_exist_ok=True, symlinks=True)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
