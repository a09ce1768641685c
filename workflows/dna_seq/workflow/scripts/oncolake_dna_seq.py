"""Helpers shared by the dna_seq workflow and ``oncolake pipeline``: tool versions vs the
lock, checksums and the pipeline fingerprint. Standard library + PyYAML only."""

from __future__ import annotations

import gzip
import hashlib
import json
import math
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
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
    "delly": (["delly", "--version"], r"Delly version:\s*v?(\S+)"),
    "dnacopy": (
        ["Rscript", "-e", "cat('DNAcopy', format(packageVersion('DNAcopy')))"],
        r"DNAcopy\s+(\S+)",
    ),
}
#: Python packages whose version is read from their installed metadata.
_PY_PACKAGES = ("pysam", "snakemake", "cnvkit")


class ToolVersionMismatch(RuntimeError):
    """The tools on PATH are not the versions this workflow release is locked to."""


class PairIdentityMismatch(RuntimeError):
    """A tumour and its matched normal do not look like one person."""


#: Tools that are Python console scripts: their version is the installed distribution's
#: metadata, read by the script's own interpreter (``multiqc --version`` imports all of
#: MultiQC, about a second, at every workflow start and in every cluster job).
_PY_SCRIPTS: dict[str, str] = {"multiqc": "multiqc"}


def _script_interpreter(executable: str) -> str | None:
    """The Python interpreter of a console script (its ``#!`` line), else None."""
    try:
        with open(executable, "rb") as fh:
            first = fh.readline(512)
    except OSError:
        return None
    if not first.startswith(b"#!"):
        return None
    parts = first[2:].decode(errors="replace").split()
    if not parts:
        return None
    if Path(parts[0]).name == "env" and len(parts) > 1:
        found = shutil.which(parts[1])
        return found if found and "python" in Path(parts[1]).name else None
    return parts[0] if "python" in Path(parts[0]).name else None


def _same_environment(python: str) -> bool:
    """Whether ``python`` is this interpreter: the same path, or a python in the same
    ``bin`` directory of the same environment (a venv's ``python`` and ``python3``)."""
    here = Path(sys.executable).absolute()
    there = Path(python).absolute()
    if there == here:
        return True
    return there.parent == here.parent and Path(sys.prefix) == here.parent.parent


def _run(cmd: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        cmd, capture_output=True, text=True, errors="replace", check=False, stdin=subprocess.DEVNULL
    )


def _r_package_version(name: str) -> str | None:
    """An R package's version from its DESCRIPTION in R's library folders (R_LIBS,
    R_LIBS_SITE, R_LIBS_USER, then Debian's), without starting R (1-2 s under load)."""
    dirs = [
        d
        for v in ("R_LIBS", "R_LIBS_SITE", "R_LIBS_USER")
        for d in os.environ.get(v, "").split(":")
        if d
    ]
    dirs += ["/usr/local/lib/R/site-library", "/usr/lib/R/site-library", "/usr/lib/R/library"]
    for d in dirs:
        desc = Path(d) / name / "DESCRIPTION"
        if desc.is_file():
            match = re.search(r"^Version:\s*(\S+)", desc.read_text(errors="replace"), re.M)
            if match:
                return match.group(1)
    return None


def probe_version(tool: str) -> str:
    """The version of ``tool`` as found on PATH, or ``"missing"``."""
    if tool in _PY_PACKAGES:
        try:
            return metadata.version(tool)
        except metadata.PackageNotFoundError:
            return "missing"
    if tool == "dnacopy" and shutil.which("Rscript"):  # issue 23: CNVkit's CBS (R DNAcopy)
        found = _r_package_version("DNAcopy")
        if found:
            return found
    cmd, pattern = _PROBES[tool]
    executable = shutil.which(cmd[0])
    if executable is None:
        return "missing"
    if tool in _PY_SCRIPTS:
        python = _script_interpreter(executable)
        if python is not None and _same_environment(python):
            # The script runs on this very interpreter (e.g. the same venv): read the
            # metadata here instead of starting a second interpreter.
            try:
                return metadata.version(_PY_SCRIPTS[tool])
            except metadata.PackageNotFoundError:
                pass
        elif python is not None:
            proc = _run(
                [
                    python,
                    "-c",
                    "import sys; from importlib.metadata import version; "
                    "print(version(sys.argv[1]))",
                    _PY_SCRIPTS[tool],
                ]
            )
            if proc.returncode == 0 and proc.stdout.strip():
                return proc.stdout.strip()
    proc = _run(cmd)
    match = re.search(pattern, proc.stdout + "\n" + proc.stderr, re.MULTILINE)
    return match.group(1) if match else "unknown"


def load_lock(path: Path = LOCK_FILE) -> dict[str, str]:
    """The locked tool versions (tool -> version string)."""
    data = yaml.safe_load(path.read_text())
    return {str(k): str(v) for k, v in data.items()}


def found_versions(tools: Iterable[str]) -> dict[str, str]:
    """The versions of ``tools`` found in this environment."""
    names = sorted(tools)
    # The probes are independent subprocesses: run them side by side.
    with ThreadPoolExecutor(max_workers=max(1, len(names))) as pool:
        return dict(zip(names, pool.map(probe_version, names), strict=True))


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


# ---- bookkeeping steps (run in the workflow's own process: no interpreter start-up) ----


def contig_naming(contigs: list[str]) -> str:
    """``ucsc`` when the contigs carry the ``chr`` prefix, else ``ensembl``."""
    return "ucsc" if any(c.startswith("chr") for c in contigs) else "ensembl"


def write_software_versions(
    *,
    versions_path: str,
    mqc_path: str,
    steps: Iterable[tuple[str, str]],
    tool_versions: Mapping[str, str],
    harmonised: bool,
) -> int:
    """software_versions.yaml (step, tool, version for every step) and the MultiQC
    software-versions section. Returns the number of steps."""
    versions = dict(tool_versions)
    rows = [{"step": step, "tool": tool, "version": versions[tool]} for step, tool in steps]
    doc = {"harmonised": bool(harmonised), "tool_versions": versions, "steps": rows}
    with open(versions_path, "w") as fh:
        yaml.safe_dump(doc, fh, sort_keys=False)
    # MultiQC: {group: {tool: version}} in a *_mqc_versions.yml file.
    mqc: dict[str, dict[str, str]] = {}
    for row in rows:
        mqc.setdefault(row["step"], {})[row["tool"]] = row["version"]
    with open(mqc_path, "w") as fh:
        yaml.safe_dump(mqc, fh, sort_keys=False)
    return len(rows)


def write_fingerprint(
    *,
    json_path: str,
    header_path: str,
    ref: str,
    gff: str,
    analysis: Mapping[str, Any],
    code_digest: str,
    tool_versions: Mapping[str, str],
    harmonised: bool,
    mismatches: Iterable[str],
    build: str,
) -> str:
    """fingerprint.json and the VCF header lines; the fingerprint = digest of (workflow
    code, tool versions, reference sequence checksum, GFF3 checksum, analysis
    parameters). Returns the fingerprint."""
    tools = dict(tool_versions)
    ref_digest, contigs = reference_digest(ref)
    gff_sha = sha256_file(gff)
    fp = fingerprint(
        code_digest=code_digest,
        tool_versions=tools,
        reference_sha256=ref_digest,
        annotation_sha256=gff_sha,
        parameters=analysis["parameters"],
    )
    names = [name for name, _ in contigs]
    doc = {
        "pipeline_id": analysis["pipeline_id"],
        "pipeline_version": str(analysis["pipeline_version"]),
        "fingerprint": fp,
        "harmonised": bool(harmonised),
        "tool_version_mismatches": list(mismatches),
        "fingerprint_parts": {
            "workflow_code_sha256": code_digest,
            "reference_sequence_sha256": ref_digest,
            "gff3_sha256": gff_sha,
        },
        "tool_versions": tools,
        "parameters": analysis["parameters"],
        "reference": {
            "build": build,
            "contig_naming": contig_naming(names),
            "contigs": names,
            "sequence_sha256": ref_digest,
        },
    }
    Path(json_path).write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")
    lines = [
        f"##oncolake_pipeline_id={doc['pipeline_id']}",
        f"##oncolake_pipeline_version={doc['pipeline_version']}",
        f"##oncolake_pipeline_fingerprint={fp}",
        f"##oncolake_harmonised={'true' if doc['harmonised'] else 'false'}",
        f"##oncolake_reference_build={build}",
        "##oncolake_tool_versions="
        + ",".join(f"{tool}:{version}" for tool, version in sorted(tools.items())),
    ]
    Path(header_path).write_text("\n".join(lines) + "\n")
    return fp


def _rel(path: str) -> str:
    """The path relative to the working directory when it lies inside it."""
    resolved = Path(path).resolve()
    try:
        return resolved.relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return os.path.normpath(path)


def _checksums(paths: Iterable[str]) -> list[dict[str, str]]:
    """[{path, sha256}] in order; the files are hashed side by side (hashlib releases
    the GIL on large blocks)."""
    paths = list(paths)
    with ThreadPoolExecutor(max_workers=min(4, max(1, len(paths)))) as pool:
        digests = list(pool.map(sha256_file, paths))
    return [{"path": _rel(p), "sha256": d} for p, d in zip(paths, digests, strict=True)]


def write_provenance(
    *,
    out: str,
    fingerprint_json: str,
    versions_yaml: str,
    fasta: str,
    gff3: str,
    fastqs: Iterable[str],
    vcfs: Iterable[str],
    samples: Iterable[Mapping[str, str]],
    qc: Mapping[str, Any] | None = None,
) -> tuple[int, int]:
    """provenance.json: what ran, with which tools, on what inputs, and the run's QC
    summary. A pair whose identity mismatch was allowed makes the run not harmonised.
    Returns (inputs, patients)."""
    fp = json.loads(Path(fingerprint_json).read_text())
    versions = yaml.safe_load(Path(versions_yaml).read_text())
    identity_ok = all(
        (pair.get("identity") or {}).get("status") != "mismatch"
        for pair in (qc or {}).get("pairs", [])
    )
    doc = {
        "pipeline_id": fp["pipeline_id"],
        "pipeline_version": fp["pipeline_version"],
        "fingerprint": fp["fingerprint"],
        "harmonised": bool(fp["harmonised"] and identity_ok),
        "tool_version_mismatches": fp["tool_version_mismatches"],
        "tool_versions": versions["tool_versions"],
        "steps": versions["steps"],
        "reference": {"path": _rel(fasta), "sha256": sha256_file(fasta), **fp["reference"]},
        "gff3": {"path": _rel(gff3), "sha256": sha256_file(gff3)},
        "parameters": fp["parameters"],
        "fingerprint_parts": fp["fingerprint_parts"],
        "inputs": _checksums(fastqs),
        "samples": [dict(s) for s in samples],
        "outputs": _checksums(vcfs),
    }
    if qc is not None:
        doc["qc"] = dict(qc)
    Path(out).write_text(json.dumps(doc, indent=2) + "\n")
    return len(doc["inputs"]), len(doc["samples"])


# ---- the `run:` bodies of rules/provenance.smk (Snakemake's input/output/params/log) ----


def job_record_software_versions(output: Any, params: Any, log: Any) -> None:
    n = write_software_versions(
        versions_path=output.versions,
        mqc_path=output.mqc,
        steps=params.steps,
        tool_versions=params.tool_versions,
        harmonised=params.harmonised,
    )
    Path(log[0]).write_text(f"{n} steps recorded\n")


def job_compute_fingerprint(input: Any, output: Any, params: Any, log: Any) -> None:
    fp = write_fingerprint(
        json_path=output.json,
        header_path=output.header,
        ref=input.ref,
        gff=input.gff,
        analysis=params.analysis,
        code_digest=params.code_digest,
        tool_versions=params.tool_versions,
        harmonised=params.harmonised,
        mismatches=params.mismatches,
        build=params.build,
    )
    Path(log[0]).write_text(f"{fp}\n")


def job_write_provenance(input: Any, output: Any, params: Any, log: Any) -> None:
    qc = qc_summary(
        report=input.report,
        markdup=input.markdup,
        flagstat=input.flagstat,
        stats=input.stats,
        mosdepth=input.mosdepth,
        identity=input.identity,
        pairs=params.samples,
        contamination=input.contamination,
        gene_regions=input.gene_regions,
        gene_thresholds=input.gene_thresholds,
        depth_thresholds=params.gene_depths,
    )
    n_inputs, n_patients = write_provenance(
        qc=qc,
        out=output[0],
        fingerprint_json=input.fingerprint,
        versions_yaml=input.versions,
        fasta=input.fasta,
        gff3=input.gff3,
        fastqs=input.fastqs,
        vcfs=[*input.vcfs, *input.get("cnv23", [])],
        samples=params.samples,
    )
    Path(log[0]).write_text(f"{n_inputs} inputs, {n_patients} patients\n")


# ---- QC: tumour/normal identity and the run's QC summary --------------------------------


def parse_gtcheck(text: str) -> tuple[int, int]:
    """(discordant, compared) sites from ``bcftools gtcheck -e 0 -u GT,GT`` of two samples
    (the DC line: discordance count, then -log P(HWE), then the number of sites)."""
    for line in text.splitlines():
        if line.startswith("DC\t"):
            fields = line.split("\t")
            return round(float(fields[3])), int(fields[5])
    return 0, 0


def allele_discordance(text: str, identity: Mapping[str, Any]) -> tuple[int, int]:
    """(discordant, compared) sites of the allele-presence rule, from the rows of
    ``bcftools query -f '%CHROM\t%POS\t%REF\t%ALT[\t%AD]\n'`` (tumour, normal).

    A site is compared when both samples have at least ``min_depth`` reads of its
    alleles (mpileup's ``<*>`` left out); it is discordant when one sample carries an
    allele (a share of at least ``present_fraction`` of its reads, and 2 reads) that the
    other lacks (a share below ``absent_fraction``). A copy-number change moves allele
    shares (a het under a 10-copy amplification of one homolog reads 0.11/0.89 at
    purity 0.9, which ``bcftools call`` genotypes as a homozygote) but neither adds a
    germline allele nor, while normal cells remain in the tumour, removes one; a second
    person's genotype does both. Copy-neutral LOH in a tumour purer than about 0.98
    does remove one (1 - purity of the lost allele's share), and still counts."""
    present = float(identity["present_fraction"])
    absent = float(identity["absent_fraction"])
    min_depth = int(identity["min_depth"])
    discordant = compared = 0
    for line in text.splitlines():
        fields = line.split("\t")
        if len(fields) < 6:
            continue
        alts = fields[3].split(",")
        keep = [0] + [i + 1 for i, alt in enumerate(alts) if alt != "<*>"]
        depths = []
        for ad in fields[4:6]:
            counts = [int(x) if x not in (".", "") else 0 for x in ad.split(",")]
            counts += [0] * (len(alts) + 1 - len(counts))
            depths.append([counts[i] for i in keep])
        totals = [sum(d) for d in depths]
        if min(totals) < min_depth:
            continue
        compared += 1
        shares = [[c / t for c in d] for d, t in zip(depths, totals, strict=True)]
        for one, other in ((0, 1), (1, 0)):
            if any(
                depths[one][k] >= 2 and shares[one][k] >= present and shares[other][k] < absent
                for k in range(len(keep))
            ):
                discordant += 1
                break
    return discordant, compared


def judge_identity(
    discordant: int,
    compared: int,
    identity: Mapping[str, Any],
    gt: tuple[int, int] | None = None,
) -> dict[str, Any]:
    """The identity verdict: ``match``, ``mismatch`` or ``insufficient`` (fewer than
    ``min_sites`` sites compared), with the figures and the thresholds; ``gt`` is
    gtcheck's exact-genotype (discordant, compared), recorded beside it."""
    fraction = discordant / compared if compared else None
    if compared < int(identity["min_sites"]):
        status = "insufficient"
    elif fraction is not None and fraction > float(identity["max_discordance"]):
        status = "mismatch"
    else:
        status = "match"
    out: dict[str, Any] = {
        "status": status,
        "discordant_sites": discordant,
        "compared_sites": compared,
        "discordance": round(fraction, 4) if fraction is not None else None,
        "max_discordance": float(identity["max_discordance"]),
        "min_sites": int(identity["min_sites"]),
        "method": "allele presence (an allele >= {p:g} of one sample's reads and < {a:g} "
        "of the other's) at the normal's germline SNVs, both samples >= {d} reads".format(
            p=float(identity["present_fraction"]),
            a=float(identity["absent_fraction"]),
            d=int(identity["min_depth"]),
        ),
    }
    if gt is not None:
        out["gtcheck_discordant_sites"], out["gtcheck_compared_sites"] = gt
        out["gtcheck_discordance"] = round(gt[0] / gt[1], 4) if gt[1] else None
    return out


def job_check_pair_identity(input: Any, output: Any, params: Any, log: Any, wildcards: Any) -> None:
    gt = parse_gtcheck(Path(input.gtcheck).read_text())
    discordant, compared = allele_discordance(Path(input.alleles).read_text(), params.identity)
    verdict = judge_identity(discordant, compared, params.identity, gt)
    verdict.update(
        patient=wildcards.patient,
        tumour=params.tumour,
        normal=params.normal,
        allowed=bool(params.allow),
    )
    message = (
        f"patient {wildcards.patient}: tumour {params.tumour} and normal {params.normal} do "
        f"not look like one person: at {discordant} of {compared} germline sites one "
        f"carries an allele the other lacks (more than {verdict['max_discordance']:.0%} "
        f"of at least {verdict['min_sites']} sites is a mismatch). Check the sample "
        "sheet; to go on anyway set allow_identity_mismatch: true in the centre config "
        "(the results are then marked harmonised: false)."
    )
    Path(log[0]).write_text(json.dumps(verdict) + "\n")
    if verdict["status"] == "mismatch" and not params.allow:
        raise PairIdentityMismatch(message)
    Path(output[0]).write_text(json.dumps(verdict, indent=2) + "\n")


def estimate_tumour_in_normal(
    text: str, tumour: str, normal: str, p: Mapping[str, Any]
) -> dict[str, Any]:
    """The share of the normal's reads that come from the tumour (TiN), from the rows of
    ``bcftools query -f '%CHROM\t%POS[\t%SAMPLE=%AD]\n'`` of the PASS somatic SNVs:
    the maximum-likelihood TiN of the normal's ALT reads, binomial with p = TiN x the
    tumour's VAF (DeTiN's relation), on a grid of 0.001, with the 95 % likelihood-ratio
    interval (analysis.yaml ``contamination``)."""
    sites: list[tuple[int, int, float]] = []  # (normal ALT, normal depth, tumour VAF)
    for line in text.splitlines():
        fields = line.split("\t")
        ad: dict[str, list[int]] = {}
        for cell in fields[2:]:
            name, _, value = cell.partition("=")
            ad[name] = [int(x) if x not in (".", "") else 0 for x in value.split(",")]
        t, n = ad.get(tumour), ad.get(normal)
        if not t or not n or len(t) < 2 or len(n) < 2:
            continue
        t_depth, n_depth = sum(t[:2]), sum(n[:2])
        if t_depth < int(p["min_tumour_depth"]) or n_depth < int(p["min_normal_depth"]):
            continue
        vaf = t[1] / t_depth
        if vaf >= float(p["min_tumour_vaf"]):
            sites.append((n[1], n_depth, vaf))
    out: dict[str, Any] = {
        "method": "ML tumour-in-normal: normal ALT reads ~ Binomial(depth, TiN x tumour "
        "VAF) at PASS somatic SNVs (DeTiN, Taylor-Weiner et al. 2018)",
        "sites": len(sites),
        "normal_alt_reads": sum(a for a, _, _ in sites),
        "tumour_in_normal": None,
        "ci95": None,
    }
    if len(sites) < int(p["min_sites"]):
        out["status"] = "insufficient"
        return out

    def loglik(c: float) -> float:
        total = 0.0
        for alt, depth, vaf in sites:
            q = c * vaf
            if alt and q <= 0:
                return -math.inf
            total += (alt * math.log(q) if alt else 0.0) + (depth - alt) * math.log1p(-q)
        return total

    grid = [k / 1000 for k in range(1000)]  # TiN < 1: the normal is not all tumour
    values = [loglik(c) for c in grid]
    best = max(range(len(grid)), key=lambda k: values[k])
    inside = [grid[k] for k, v in enumerate(values) if 2 * (values[best] - v) <= 3.841]
    out.update(
        status="estimated",
        tumour_in_normal=grid[best],
        ci95=[min(inside), max(inside)],
    )
    return out


def job_estimate_contamination(input: Any, output: Any, params: Any, log: Any) -> None:
    doc = estimate_tumour_in_normal(
        Path(input[0]).read_text(), params.tumour, params.normal, params.contamination
    )
    Path(output[0]).write_text(json.dumps(doc, indent=2) + "\n")
    Path(log[0]).write_text(json.dumps(doc) + "\n")


def gene_coverage(
    regions_bed: str, thresholds_bed: str, thresholds: Iterable[int]
) -> list[dict[str, Any]]:
    """Per gene, from ``mosdepth --by genes.bed --thresholds``: its territory in bp, the
    mean depth over it and the share of its bases at >= each threshold (sorted by gene;
    the rows of one gene, its exons, pooled)."""
    wanted = [int(t) for t in thresholds]
    acc: dict[str, dict[str, Any]] = {}
    with gzip.open(regions_bed, "rt") as fh:
        for line in fh:
            _chrom, start, end, name, mean = line.rstrip("\n").split("\t")[:5]
            row = acc.setdefault(name, {"bp": 0, "depth_bp": 0.0, "at": [0] * len(wanted)})
            bp = int(end) - int(start)
            row["bp"] += bp
            row["depth_bp"] += float(mean) * bp
    with gzip.open(thresholds_bed, "rt") as fh:
        header = fh.readline().rstrip("\n").split("\t")
        columns = [header.index(f"{t}X") for t in wanted]
        for line in fh:
            fields = line.rstrip("\n").split("\t")
            row = acc[fields[3]]
            for k, col in enumerate(columns):
                row["at"][k] += int(fields[col])
    return [
        {
            "gene": name,
            "bp": row["bp"],
            "mean_depth": round(row["depth_bp"] / row["bp"], 2) if row["bp"] else 0.0,
            "fraction_at_depth": {
                str(t): round(row["at"][k] / row["bp"], 4) if row["bp"] else 0.0
                for k, t in enumerate(wanted)
            },
        }
        for name, row in sorted(acc.items())
    ]


def _mqc_table(
    ident: str, name: str, description: str, header: list[str], rows: list[list[Any]]
) -> str:
    """A MultiQC custom-content table (``*_mqc.tsv``) with its configuration header."""
    lines = [
        f"# id: {json.dumps(ident)}",
        f"# section_name: {json.dumps(name)}",
        f"# description: {json.dumps(description)}",
        '# plot_type: "table"',
        "# pconfig:",
        f"#     id: {json.dumps(ident + '_table')}",
        "\t".join(header),
    ]
    lines += ["\t".join("" if v is None else str(v) for v in row) for row in rows]
    return "\n".join(lines) + "\n"


def write_qc_tables(
    *,
    pairs_out: str,
    genes_out: str,
    identity: Iterable[str],
    contamination: Iterable[str],
    gene_regions: Iterable[str],
    gene_thresholds: Iterable[str],
    depth_thresholds: Iterable[int],
) -> tuple[int, int]:
    """The MultiQC sections of the pair checks (one row per patient: identity by allele
    presence and by gtcheck's genotypes, tumour-in-normal with its interval) and of the
    per-gene coverage (one row per sample: genes measured, genes whose mean depth reaches
    each threshold, the lowest-covered gene). Returns (patients, samples)."""
    depths = [int(d) for d in depth_thresholds]
    tin = {
        _sample_of(p, ".contamination.json"): json.loads(Path(p).read_text()) for p in contamination
    }
    rows = []
    for path in identity:
        v = json.loads(Path(path).read_text())
        c = tin.get(v["patient"]) or {}
        ci = c.get("ci95") or [None, None]
        rows.append(
            [
                v["patient"], v["tumour"], v["normal"], v["status"],
                v["discordance"], v["compared_sites"], v.get("gtcheck_discordance"),
                c.get("tumour_in_normal"), ci[0], ci[1], c.get("sites"),
            ]
        )  # fmt: skip
    Path(pairs_out).write_text(
        _mqc_table(
            "oncolake_pair_qc",
            "Tumour/normal identity and contamination",
            "Identity: share of the normal germline SNVs where one sample carries an allele "
            "the other lacks (gtcheck: exact genotypes, for comparison). Tumour in normal: "
            "ML estimate over the PASS somatic SNVs, 95 % interval.",
            [
                "Patient",
                "Tumour",
                "Normal",
                "Identity",
                "Discordance",
                "Sites",
                "gtcheck discordance",
                "Tumour in normal",
                "TiN low",
                "TiN high",
                "TiN SNVs",
            ],
            rows,
        )
    )
    gene_rows = []
    for regions_bed, thresholds_bed in zip(gene_regions, gene_thresholds, strict=True):
        genes = gene_coverage(regions_bed, thresholds_bed, depths)
        lowest = min(genes, key=lambda g: g["mean_depth"]) if genes else None
        gene_rows.append(
            [
                _sample_of(regions_bed, ".regions.bed.gz"),
                len(genes),
                *[sum(g["mean_depth"] >= d for g in genes) for d in depths],
                lowest["gene"] if lowest else None,
                lowest["mean_depth"] if lowest else None,
            ]
        )
    Path(genes_out).write_text(
        _mqc_table(
            "oncolake_gene_coverage",
            "Per-gene coverage",
            "mosdepth over the exons of each GFF3 gene in the assay regions (reads with MAPQ >= "
            "20); provenance.json lists every gene.",
            [
                "Sample",
                "Genes",
                *[f"Genes mean >= {d}x" for d in depths],
                "Lowest gene",
                "Its mean depth",
            ],
            gene_rows,
        )
    )
    return len(rows), len(gene_rows)


def job_write_qc_tables(input: Any, output: Any, params: Any, log: Any) -> None:
    n = write_qc_tables(
        pairs_out=output.pairs,
        genes_out=output.genes,
        identity=input.identity,
        contamination=input.contamination,
        gene_regions=input.gene_regions,
        gene_thresholds=input.gene_thresholds,
        depth_thresholds=params.gene_depths,
    )
    Path(log[0]).write_text(f"{n[0]} patients, {n[1]} samples\n")


def _key_values(path: str, sep: str) -> dict[str, str]:
    out = {}
    for line in Path(path).read_text().splitlines():
        if sep in line:
            key, value = line.split(sep, 1)
            out[key.strip()] = value.strip()
    return out


def _sample_of(path: str, suffix: str) -> str:
    return Path(path).name[: -len(suffix)]


def qc_summary(
    *,
    report: str,
    markdup: Iterable[str],
    flagstat: Iterable[str],
    stats: Iterable[str],
    mosdepth: Iterable[str],
    identity: Iterable[str],
    pairs: Iterable[Mapping[str, str]],
    contamination: Iterable[str] = (),
    gene_regions: Iterable[str] = (),
    gene_thresholds: Iterable[str] = (),
    depth_thresholds: Iterable[int] = (),
) -> dict[str, Any]:
    """The run's QC in provenance.json: the MultiQC report (path, SHA-256) and, per
    tumour/normal pair in the order of provenance's ``samples``, each sample's duplication
    rate (samtools markdup), mapped share and insert size (samtools stats), mean coverage
    over the assay regions (mosdepth) and per gene (mosdepth over each gene's exons in
    the regions), the pair's identity verdict and its tumour-in-normal estimate. No sample or
    patient names: this part travels with the submission; the names stay in ``samples``."""
    per: dict[str, dict[str, Any]] = {}
    for path in markdup:
        kv = _key_values(path, ":")
        examined = int(kv.get("EXAMINED", "0"))
        dups = int(kv.get("DUPLICATE TOTAL", "0"))
        per.setdefault(_sample_of(path, ".markdup.txt"), {})["duplication_rate"] = (
            round(dups / examined, 4) if examined else None
        )
    for path in stats:
        sn = {}
        for line in Path(path).read_text().splitlines():
            if line.startswith("SN\t"):
                fields = line.split("\t")
                sn[fields[1].rstrip(":")] = fields[2]
        row = per.setdefault(_sample_of(path, ".stats.txt"), {})
        total = int(sn.get("raw total sequences", "0"))
        row["reads"] = total
        row["mapped_rate"] = round(int(sn.get("reads mapped", "0")) / total, 4) if total else None
        row["insert_size_mean"] = float(sn["insert size average"]) if total else None
        row["insert_size_sd"] = float(sn["insert size standard deviation"]) if total else None
    for path in flagstat:
        per.setdefault(_sample_of(path, ".flagstat.txt"), {})
    for path in mosdepth:
        rows = [ln.split("\t") for ln in Path(path).read_text().splitlines()[1:]]
        by = {r[0]: r for r in rows}
        region = by.get("total_region") or by.get("total")
        per.setdefault(_sample_of(path, ".mosdepth.summary.txt"), {})["mean_coverage"] = (
            float(region[3]) if region else None
        )
    for regions_bed, thresholds_bed in zip(gene_regions, gene_thresholds, strict=True):
        per.setdefault(_sample_of(regions_bed, ".regions.bed.gz"), {})["genes"] = gene_coverage(
            regions_bed, thresholds_bed, depth_thresholds
        )
    contaminations = {
        _sample_of(path, ".contamination.json"): json.loads(Path(path).read_text())
        for path in contamination
    }
    verdicts = {}
    for path in identity:
        verdict = json.loads(Path(path).read_text())
        verdicts[verdict["patient"]] = {
            k: v for k, v in verdict.items() if k not in ("patient", "tumour", "normal")
        }
    return {
        "report": {"path": _rel(report), "sha256": sha256_file(report)},
        "pairs": [
            {
                "tumour": per.get(p["tumour"], {}),
                "normal": per.get(p["normal"], {}),
                "identity": verdicts.get(p["patient"]),
                "contamination": contaminations.get(p["patient"]),
            }
            for p in pairs
        ],
    }


def tame_scheduler_timers() -> bool:
    """Fewer, daemonic scheduler wake-up timers (see rules/common.smk).

    Snakemake 9's ``JobScheduler._schedule_reevalutation(delay)`` starts a plain
    ``threading.Timer(delay, release)`` at the end of every scheduling round while jobs
    wait for cores (the ``--max-jobs-per-timespan`` limiter, default 100/1s), and the
    round that timer wakes arms another: every job that finishes while others wait starts
    one more 1-Hz chain, so after n jobs the scheduler runs n rounds a second (each
    stats the inputs of every waiting job), on the cores the tools need. And interpreter
    exit waits for the last timer (up to a second).

    The replacement keeps at most one wake-up pending (an earlier deadline still arms a
    timer), as a daemon thread: a round still follows within ``delay`` of every round,
    as the rate limiter needs, but the rounds no longer multiply. Applied only where that
    method exists with that signature; returns whether it was applied."""
    try:
        from snakemake.scheduling import job_scheduler
    except ImportError:
        return False
    import inspect
    import threading
    import time

    cls = getattr(job_scheduler, "JobScheduler", None)
    original = getattr(cls, "_schedule_reevalutation", None)
    if original is None or getattr(original, "_oncolake_tamed", False):
        return False
    if list(inspect.signature(original).parameters) != ["self", "delay"]:
        return False
    guard = threading.Lock()

    def _schedule_reevalutation(self: Any, delay: float) -> None:
        due = time.monotonic() + delay
        with guard:
            pending = getattr(self, "_oncolake_wakeup_due", None)
            if pending is not None and pending <= due:
                return  # a wake-up at or before `due` is already armed
            self._oncolake_wakeup_due = due

        def wake() -> None:
            with guard:
                if getattr(self, "_oncolake_wakeup_due", None) == due:
                    self._oncolake_wakeup_due = None
            self._open_jobs.release()

        timer = threading.Timer(delay, wake)
        timer.daemon = True
        timer.start()

    _schedule_reevalutation._oncolake_tamed = True  # type: ignore[attr-defined]
    cls._schedule_reevalutation = _schedule_reevalutation  # type: ignore[union-attr]
    return True
