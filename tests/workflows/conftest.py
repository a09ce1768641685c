"""Fixtures for the workflows/dna_seq tests: workdirs, snakemake runs, a SLURM cluster."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
WORKFLOW = REPO / "workflows" / "dna_seq"
SNAKEFILE = WORKFLOW / "workflow" / "Snakefile"
DOT_TEST = WORKFLOW / ".test"
SHARED_DATA = (REPO / ".." / "shared" / "data").resolve()
VENV_BIN = Path(sys.executable).parent


def tool_env() -> dict[str, str]:
    """The environment with this interpreter's bin (snakemake, multiqc) first on PATH."""
    env = dict(os.environ)
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    return env


def snakemake(
    workdir: Path,
    *args: str,
    snakefile: Path = SNAKEFILE,
    configfile: Path | None = None,
    check: bool = True,
    timeout: int = 600,
) -> subprocess.CompletedProcess[str]:
    """Run snakemake on ``workdir``; its stdout and stderr are both in ``.stdout``."""
    cmd = [str(VENV_BIN / "snakemake"), "--snakefile", str(snakefile), "--directory", str(workdir)]
    if configfile is not None:
        cmd += ["--configfile", str(configfile)]
    cmd += list(args)
    proc = subprocess.run(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=tool_env(),
        timeout=timeout,
        check=False,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake failed ({proc.returncode}):\n{proc.stdout[-4000:]}")
    return proc


def copy_dot_test(dest: Path) -> Path:
    """A copy of the workflow's .test folder (config + data), without earlier results."""
    shutil.copytree(
        DOT_TEST,
        dest,
        ignore=shutil.ignore_patterns("results", "logs", "resources", ".snakemake"),
    )
    return dest


def vcf_records(path: Path) -> list[str]:
    """The variant records of a VCF (no header lines)."""
    out = subprocess.run(
        ["bcftools", "view", "-H", str(path)], capture_output=True, text=True, check=True
    )
    return out.stdout.splitlines()


@dataclass(frozen=True)
class Run:
    """A finished .test run: its working directory."""

    workdir: Path

    @property
    def results(self) -> Path:
        return self.workdir / "results"

    def vcf(self, patient: str = "TINY01", kind: str = "somatic") -> Path:
        return self.results / "annotated" / "bcftools_csq" / f"{patient}.{kind}.annotated.vcf.gz"


# ``local_run`` (the .test workflow run once per session) lives in tests/conftest.py: the
# harmonise end-to-end test ingests its output too.


@pytest.fixture
def workflow_copy(tmp_path: Path) -> Path:
    """A private copy of workflows/dna_seq/workflow that a test may edit."""
    dest = tmp_path / "dna_seq" / "workflow"
    shutil.copytree(WORKFLOW / "workflow", dest, ignore=shutil.ignore_patterns("__pycache__"))
    return dest


def write_config(path: Path, data: dict[str, object]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


# ---- SLURM ---------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class SlurmCluster:
    """A running single-node SLURM cluster (config, log and environment)."""

    conf: Path
    ctld_log: Path
    env: dict[str, str]


def _wait_for(predicate: object, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.5)
    return False


def _kill_pidfile(pidfile: Path) -> None:
    if pidfile.exists():
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(pidfile.read_text().strip()), 15)


@pytest.fixture(scope="session")
def slurm_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SlurmCluster]:
    """Start munged (if not running), slurmctld and slurmd; stop what was started."""
    if os.geteuid() != 0:
        pytest.skip("the SLURM test starts slurmctld/slurmd/munged and needs root")
    for binary in ("slurmctld", "slurmd", "munged", "sbatch", "squeue", "sinfo"):
        if shutil.which(binary) is None:
            pytest.skip(f"{binary} is not installed (apt-get install slurm-wlm munge)")
    base = tmp_path_factory.mktemp("slurm")
    started_munge = False
    munge_pid = Path("/run/munge/munged.pid")
    if subprocess.run(["pgrep", "-x", "munged"], capture_output=True).returncode != 0:
        Path("/run/munge").mkdir(parents=True, exist_ok=True)
        shutil.chown("/run/munge", "munge", "munge")
        if not Path("/etc/munge/munge.key").exists():
            subprocess.run(["mungekey", "-c"], check=True)
            shutil.chown("/etc/munge/munge.key", "munge", "munge")
        subprocess.run(["runuser", "-u", "munge", "--", "munged"], check=True)
        started_munge = True
    host = socket.gethostname().split(".")[0]
    cpus = os.cpu_count() or 1
    mem = int(
        subprocess.run(["free", "-m"], capture_output=True, text=True)
        .stdout.split("\n")[1]
        .split()[1]
    )
    for sub in ("state", "spool"):
        (base / sub).mkdir()
    conf = base / "slurm.conf"
    conf.write_text(
        "\n".join(
            [
                "ClusterName=oncolaketest",
                f"SlurmctldHost={host}",
                "SlurmUser=root",
                f"SlurmctldPort={_free_port()}",
                f"SlurmdPort={_free_port()}",
                "AuthType=auth/munge",
                f"StateSaveLocation={base / 'state'}",
                f"SlurmdSpoolDir={base / 'spool'}",
                f"SlurmctldPidFile={base / 'slurmctld.pid'}",
                f"SlurmdPidFile={base / 'slurmd.pid'}",
                f"SlurmctldLogFile={base / 'slurmctld.log'}",
                f"SlurmdLogFile={base / 'slurmd.log'}",
                "ProctrackType=proctrack/linuxproc",
                "TaskPlugin=task/none",
                "SelectType=select/cons_tres",
                "SelectTypeParameters=CR_CPU_Memory",
                "AccountingStorageType=accounting_storage/none",
                "JobCompType=jobcomp/none",
                "SchedulerType=sched/backfill",
                "MpiDefault=none",
                "ReturnToService=2",
                "SlurmctldDebug=info",
                f"NodeName={host} CPUs={cpus} RealMemory={int(mem * 0.8)} State=UNKNOWN",
                f"PartitionName=main Nodes={host} Default=YES MaxTime=INFINITE State=UP",
                "",
            ]
        )
    )
    # srun inside the jobs reads the default path, not SLURM_CONF: install the config
    # there unless the machine has its own (then leave it alone and skip).
    system_conf = Path("/etc/slurm/slurm.conf")
    if system_conf.exists():
        pytest.skip(f"{system_conf} exists: not replacing this machine's SLURM configuration")
    system_conf.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(conf, system_conf)
    env = tool_env()
    env["SLURM_CONF"] = str(conf)
    subprocess.run(["slurmctld", "-f", str(conf)], check=True, env=env)
    subprocess.run(["slurmd", "-f", str(conf)], check=True, env=env)

    def idle() -> bool:
        out = subprocess.run(
            ["sinfo", "-h", "-o", "%t"], capture_output=True, text=True, env=env
        ).stdout
        return "idle" in out

    try:
        if not _wait_for(idle, 60):
            raise AssertionError(
                "SLURM node did not become idle:\n" + (base / "slurmctld.log").read_text()[-3000:]
            )
        yield SlurmCluster(conf, base / "slurmctld.log", env)
    finally:
        _kill_pidfile(base / "slurmd.pid")
        _kill_pidfile(base / "slurmctld.pid")
        system_conf.unlink(missing_ok=True)
        if started_munge:
            _kill_pidfile(munge_pid)


# ---- issue 23 (cnv23): one centre of two truth instances, run once per session --------


@dataclass(frozen=True)
class Truth23:
    """A finished run of a centre with two simulated patients: SIM01 (an amplification, a
    deep deletion and coding SNVs; microsatellite-stable) and SIM02 (MSI-like)."""

    workdir: Path
    instances: dict[str, Path]


#: The two instances (truth/simulate.py options), by patient.
TRUTH23 = {
    "SIM01": {"seed": 1, "cnv": 1, "coding_snvs": 10, "start": 100_001, "end": 160_000,
              "tumour_depth": 80.0, "normal_depth": 40.0},
    "SIM02": {"seed": 2, "msi": 0.6, "start": 100_001, "end": 160_000,
              "tumour_depth": 80.0, "normal_depth": 40.0},
}  # fmt: skip


@pytest.fixture(scope="session")
def truth23_run(tmp_path_factory: pytest.TempPathFactory) -> Truth23:
    """Both instances simulated, the workflow run to its copy-number and biomarker outputs
    (2 cores). Skips without ART or ../shared/data."""
    import importlib.util

    if shutil.which("art_illumina") is None or not SHARED_DATA.is_dir():
        pytest.skip("art_illumina (make tools) and ../shared/data are needed")
    spec = importlib.util.spec_from_file_location(
        "dna_seq_truth_simulate", WORKFLOW / "truth" / "simulate.py"
    )
    assert spec is not None and spec.loader is not None
    simulate = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = simulate
    spec.loader.exec_module(simulate)
    base = tmp_path_factory.mktemp("truth23")
    instances = {}
    units = ["sample_name\tunit_name\tplatform\tfq1\tfq2"]
    sheet = ["sample_name\tpatient\ttype"]
    for patient, options in TRUTH23.items():
        inst = base / patient
        simulate.simulate(simulate.Options(**options), inst)
        instances[patient] = inst
        for line in (inst / "config" / "units.tsv").read_text().splitlines()[1:]:
            sample, lane, platform, fq1, fq2 = line.split("\t")
            units.append(f"{sample}\t{lane}\t{platform}\t{inst / fq1}\t{inst / fq2}")
        sheet += (inst / "config" / "samples.tsv").read_text().splitlines()[1:]
    centre = base / "centre"
    centre.mkdir()
    (centre / "units.tsv").write_text("\n".join(units) + "\n")
    (centre / "samples.tsv").write_text("\n".join(sheet) + "\n")
    ref = next(iter(instances.values())) / "data" / "reference"  # all share contig 1
    config = write_config(
        centre / "config.yaml",
        {
            "samples": str(centre / "samples.tsv"),
            "units": str(centre / "units.tsv"),
            "reference": {
                "fasta": str(ref / "genome.fa.gz"),
                "gff3": str(ref / "annotation.gff3"),
                "build": "GRCh37",
            },
            "regions": str(ref / "regions.bed"),
            "threads": 2,
            "memory_mb": 1000,
        },
    )
    targets = [
        f"results/{kind}/{patient}.{suffix}"
        for patient in TRUTH23
        for kind, suffix in (
            ("cnv", "genes.tsv"),
            ("cnv", "segments.tsv"),
            ("biomarkers", "tmb_msi.json"),
        )
    ]
    snakemake(centre, "--cores", "2", *targets, configfile=config, timeout=1200)
    return Truth23(centre, instances)
