"""``oncolake pipeline``: run the harmonised dna_seq workflow and check its tool versions."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Annotated

import typer
import yaml
from rich.console import Console
from rich.table import Table

from oncolake.errors import fail, user_errors

app = typer.Typer(no_args_is_help=True)
console = Console(highlight=False)

WORKFLOW_ROOT = Path(__file__).resolve().parents[2] / "workflows" / "dna_seq"
SNAKEFILE = WORKFLOW_ROOT / "workflow" / "Snakefile"
HELPERS = WORKFLOW_ROOT / "workflow" / "scripts" / "oncolake_dna_seq.py"


def _helpers() -> ModuleType:
    """The workflow's own helper module (tool versions, lock, fingerprint)."""
    spec = importlib.util.spec_from_file_location("oncolake_dna_seq", HELPERS)
    if spec is None or spec.loader is None:  # pragma: no cover - the file ships with us
        raise FileNotFoundError(f"{HELPERS} is missing: reinstall oncolake from a full clone")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _environment() -> dict[str, str]:
    """PATH with this interpreter's bin directory first (snakemake, multiqc)."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return env


def _read_centre_config(path: Path) -> dict[str, object]:
    if not path.is_file():
        raise FileNotFoundError(f"centre config {path} does not exist; pass --config CENTRE.yaml")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ValueError(f"centre config {path} is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError(f"centre config {path} must be a YAML mapping of keys to values")
    return data


#: Centre-config keys that name files: (key path, what it is).
_PATH_KEYS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("samples",), "sample sheet"),
    (("units",), "unit sheet"),
    (("regions",), "regions BED"),
    (("reference", "fasta"), "reference FASTA"),
    (("reference", "gff3"), "GFF3"),
)


def resolve_config_paths(
    data: dict[str, object], config: Path, directory: Path
) -> tuple[dict[str, object], bool]:
    """The centre config with each relative file path made absolute where it exists: under
    the working directory (Snakemake's rule: paths are relative to ``--directory``),
    else beside the config file. Returns (config, whether anything changed); raises
    FileNotFoundError naming the key and both places when the file is in neither."""
    out = {k: (dict(v) if isinstance(v, dict) else v) for k, v in data.items()}
    changed = False
    for keys, what in _PATH_KEYS:
        holder: object = out
        for key in keys[:-1]:
            holder = holder.get(key) if isinstance(holder, dict) else None
        if not isinstance(holder, dict) or not isinstance(holder.get(keys[-1]), str):
            continue
        value = Path(str(holder[keys[-1]]))
        if value.is_absolute():
            if not value.exists():
                raise FileNotFoundError(
                    f"centre config {config}: {'.'.join(keys)} ({what}) {value} does not exist"
                )
            continue
        if (directory / value).exists():
            continue
        beside = config.resolve().parent / value
        if beside.exists():
            holder[keys[-1]] = str(beside)
            changed = True
            continue
        raise FileNotFoundError(
            f"centre config {config}: {'.'.join(keys)} ({what}) '{value}' is neither in the "
            f"working directory {directory} nor beside the config ({beside.parent})"
        )
    return out, changed


def snakemake_command(
    config: Path,
    cores: int,
    directory: Path,
    *,
    allow_tool_version_mismatch: bool = False,
    profile: Path | None = None,
    dry_run: bool = False,
    targets: list[str] | None = None,
) -> list[str]:
    """The snakemake command line that runs the workflow on a centre config."""
    exe = shutil.which("snakemake", path=_environment()["PATH"]) or "snakemake"
    cmd = [
        exe,
        "--snakefile",
        str(SNAKEFILE),
        "--directory",
        str(directory),
        "--configfile",
        str(config.resolve()),
        "--cores",
        str(cores),
    ]
    if allow_tool_version_mismatch:
        cmd += ["--config", "allow_tool_version_mismatch=true"]
    if profile is not None:
        cmd += ["--profile", str(profile.resolve())]
    if dry_run:
        cmd.append("--dry-run")
    return cmd + list(targets or [])


def _snakemake_reason(output: str) -> str:
    """The message line of a snakemake error report (the line after 'XError in ...')."""
    lines = [ln.strip() for ln in output.splitlines() if ln.strip()]
    for i, line in enumerate(lines):
        if re.match(r"^\w+(Error|Exception)\b.*:$", line) and i + 1 < len(lines):
            return lines[i + 1]
    return lines[-1] if lines else "snakemake failed without a message"


@app.command("run")
def run(
    config: Annotated[Path, typer.Option("--config", help="The centre config (YAML).")],
    cores: Annotated[int, typer.Option("--cores", min=1, help="Cores to use.")] = 1,
    directory: Annotated[
        Path, typer.Option("--directory", help="Working directory (results/, logs/, resources/).")
    ] = Path("."),
    allow_tool_version_mismatch: Annotated[
        bool,
        typer.Option(
            "--allow-tool-version-mismatch",
            help="Run with tools that differ from the lock; results are marked not harmonised.",
        ),
    ] = False,
    profile: Annotated[
        Path | None,
        typer.Option(
            "--profile", help="A Snakemake profile, e.g. workflows/dna_seq/profiles/slurm."
        ),
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only show what would run.")] = False,
) -> None:
    """Run workflows/dna_seq on a centre's samples (Snakemake shows its progress)."""
    with user_errors():
        data = _read_centre_config(config)
        resolved, changed = resolve_config_paths(data, config, directory)
        directory.mkdir(parents=True, exist_ok=True)
        if changed:
            # Relative paths that exist beside the config, not under --directory: run on a
            # copy with those made absolute (paths never enter the fingerprint).
            copy = directory / ".oncolake" / f"{config.stem}.resolved.yaml"
            copy.parent.mkdir(parents=True, exist_ok=True)
            copy.write_text(
                f"# {config.resolve()} with its paths resolved (oncolake pipeline run)\n"
                + yaml.safe_dump(resolved, sort_keys=False)
            )
            config = copy
        cmd = snakemake_command(
            config,
            cores,
            directory,
            allow_tool_version_mismatch=allow_tool_version_mismatch,
            profile=profile,
            dry_run=dry_run,
        )
    code = subprocess.call(cmd, env=_environment())
    if code != 0:
        raise fail(
            f"the dna_seq workflow failed (snakemake exit {code}); the reason is in the "
            f"snakemake output above and the rule logs under {directory / 'logs'}",
            code,
        )
    if not dry_run:
        console.print(f"QC report:  {directory / 'results/qc/multiqc/multiqc_report.html'}")
        console.print(f"provenance: {directory / 'results/provenance/provenance.json'}")


@app.command("check")
def check(
    config: Annotated[
        Path | None,
        typer.Option("--config", help="Also validate this centre config and its sample sheets."),
    ] = None,
) -> None:
    """Tool versions on PATH vs the workflow's lock, and whether a run would be harmonised."""
    os.environ["PATH"] = _environment()["PATH"]
    dna = _helpers()
    lock = dna.load_lock()
    found = dna.found_versions(lock)
    table = Table(title="oncolake/dna_seq tool versions")
    for col in ("tool", "on PATH", "lock", ""):
        table.add_column(col)
    for tool, want in sorted(lock.items()):
        ok = found[tool] == want
        table.add_row(tool, found[tool], want, "ok" if ok else "[red]MISMATCH[/]")
    console.print(table)
    bad = dna.version_mismatches(lock, found)
    if config is not None:
        with user_errors():
            _read_centre_config(config)
        cmd = snakemake_command(
            config, 1, Path.cwd(), allow_tool_version_mismatch=True, dry_run=True
        )
        proc = subprocess.run(
            [*cmd, "--quiet", "all"],
            env=_environment(),
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            reason = _snakemake_reason(proc.stdout + "\n" + proc.stderr)
            raise fail(f"centre config {config} is refused: {reason}")
        console.print(f"centre config {config}: valid")
    if bad:
        raise fail(
            "a run would NOT be harmonised: " + "; ".join(bad) + ". Install the locked "
            "versions, or run with --allow-tool-version-mismatch (results marked "
            "harmonised: false)."
        )
    console.print("a run would be harmonised: all tool versions match the lock")
