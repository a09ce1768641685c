"""Helpers shared by the dna_seq workflow and ``oncolake pipeline``: tool versions vs the
lock, checksums and the pipeline fingerprint. Standard library + PyYAML only."""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import shutil
import subprocess
from collections.abc import Iterable, Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml

WORKFLOW_DIR = Path(__file__).resolve().parents[1]
LOCK_FILE = WORKFLOW_DIR / "tools.lock.yaml"
ANALYSIS_FILE = WORKFLOW_DIR / "analysis.yaml"

#: tool -> (command, regex on stdout+stderr that captures the version)
_PROBES: dict[str, tuple[list[str], str]] = {
    "bwa": (["bwa"], r"Version:\s*(\S+)"),
    "samtools": (["samtools", "--version"], r"^samtools\s+(\S+)"),
    "bcftools": (["bcftools", "--version"], r"^bcftools\s+(\S+)"),
    "htslib": (["bgzip", "--version"], r"^bgzip \(htslib\)\s+(\S+)"),
    "fastp": (["fastp", "--version"], r"fastp\s+(\S+)"),
    "mosdepth": (["mosdepth", "--version"], r"mosdepth\s+(\S+)"),
    "multiqc": (["multiqc", "--version"], r"version\s+(\S+)"),
}
#: Python packages whose version is read from their installed metadata.
_PY_PACKAGES = ("pysam", "snakemake")


class ToolVersionMismatch(RuntimeError):
    """The tools on PATH are not the versions this workflow release is locked to."""


def probe_version(tool: str) -> str:
    """The version of ``tool`` as found on PATH, or ``"missing"``."""
    if tool in _PY_PACKAGES:
        try:
            return metadata.version(tool)
        except metadata.PackageNotFoundError:
            return "missing"
    cmd, pattern = _PROBES[tool]
    if shutil.which(cmd[0]) is None:
        return "missing"
    proc = subprocess.run(
        cmd, capture_output=True, text=True, errors="replace", check=False, stdin=subprocess.DEVNULL
    )
    match = re.search(pattern, proc.stdout + "\n" + proc.stderr, re.MULTILINE)
    return match.group(1) if match else "unknown"


def load_lock(path: Path = LOCK_FILE) -> dict[str, str]:
    """The locked tool versions (tool -> version string)."""
    data = yaml.safe_load(path.read_text())
    return {str(k): str(v) for k, v in data.items()}


def found_versions(tools: Iterable[str]) -> dict[str, str]:
    """The versions of ``tools`` found in this environment."""
    return {tool: probe_version(tool) for tool in sorted(tools)}


def version_mismatches(lock: Mapping[str, str], found: Mapping[str, str]) -> list[str]:
    """One human line per tool whose version differs from the lock."""
    return [
        f"{tool} {found.get(tool, 'missing')} (lock: {want})"
        for tool, want in sorted(lock.items())
        if found.get(tool) != want
    ]


def check_tools(allow_mismatch: bool) -> tuple[dict[str, str], bool, list[str]]:
    """Compare the tools on PATH with the lock.

    Returns (found versions, harmonised, mismatch lines). Raises
    :class:`ToolVersionMismatch` on a mismatch unless ``allow_mismatch``.
    """
    lock = load_lock()
    found = found_versions(lock)
    bad = version_mismatches(lock, found)
    if bad and not allow_mismatch:
        raise ToolVersionMismatch(
            "tool versions differ from workflows/dna_seq/workflow/tools.lock.yaml: "
            + "; ".join(bad)
            + ". Install the locked versions (or deploy with --sdm conda), or pass "
            "--config allow_tool_version_mismatch=true to run anyway; the results are "
            "then marked harmonised: false."
        )
    return found, not bad, bad


def load_analysis(path: Path = ANALYSIS_FILE) -> dict[str, Any]:
    """The workflow's analysis parameters document (pipeline id, version, parameters)."""
    data: dict[str, Any] = yaml.safe_load(path.read_text())
    return data


def sha256_file(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _open_text(path: Path) -> Any:
    with open(path, "rb") as fh:
        magic = fh.read(2)
    if magic == b"\x1f\x8b":
        return gzip.open(path, "rt")
    return open(path)


def reference_digest(fasta: str | Path) -> tuple[str, list[tuple[str, int]]]:
    """A digest of the reference *sequence* (independent of compression and line width).

    SHA-256 over ``name<TAB>length<TAB>sha256(uppercase sequence)`` lines in file order.
    Returns (hex digest, [(contig, length)]).
    """
    contigs: list[tuple[str, int, str]] = []
    name: str | None = None
    seq_hash = hashlib.sha256()
    length = 0
    with _open_text(Path(fasta)) as fh:
        for line in fh:
            if line.startswith(">"):
                if name is not None:
                    contigs.append((name, length, seq_hash.hexdigest()))
                name = line[1:].split()[0]
                seq_hash = hashlib.sha256()
                length = 0
            else:
                chunk = line.strip().upper()
                seq_hash.update(chunk.encode())
                length += len(chunk)
    if name is not None:
        contigs.append((name, length, seq_hash.hexdigest()))
    total = hashlib.sha256()
    for cname, clen, chash in contigs:
        total.update(f"{cname}\t{clen}\t{chash}\n".encode())
    return total.hexdigest(), [(c, n) for c, n, _ in contigs]


def workflow_code_files(workflow_dir: Path = WORKFLOW_DIR) -> list[Path]:
    """Every file that defines the workflow's behaviour (sorted, caches left out)."""
    return sorted(
        p
        for p in workflow_dir.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and not p.name.endswith(".pyc")
    )


def workflow_code_digest(workflow_dir: Path = WORKFLOW_DIR) -> str:
    """SHA-256 over (relative path, file SHA-256) of every workflow code file."""
    total = hashlib.sha256()
    for path in workflow_code_files(workflow_dir):
        rel = path.relative_to(workflow_dir).as_posix()
        total.update(f"{rel}\t{sha256_file(path)}\n".encode())
    return total.hexdigest()


def fingerprint(
    *,
    code_digest: str,
    tool_versions: Mapping[str, str],
    reference_sha256: str,
    annotation_sha256: str,
    parameters: Mapping[str, Any],
) -> str:
    """The pipeline fingerprint: ``sha256:`` + digest of the canonical JSON of its parts."""
    doc = {
        "workflow_code": code_digest,
        "tool_versions": dict(sorted(tool_versions.items())),
        "reference_sequence_sha256": reference_sha256,
        "gff3_sha256": annotation_sha256,
        "parameters": parameters,
    }
    canonical = json.dumps(doc, sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()
