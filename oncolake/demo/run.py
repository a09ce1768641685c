"""Build the demo network on the embedded default (``ONCOLAKE_HOME``).

1. **Centre 1** runs the real ``workflows/dna_seq`` pipeline on real tumour/normal reads of
   two patients (HCC1954 breast cancer, and the Sarek "tiny" pair), then submits the
   pipeline's VCFs + provenance with its mCODE export and consents.
2. **Synthetic centres** (``oncolake.demo.network``) export a few thousand patients.
3. Every centre goes through the same path as real data: ``submit`` (pseudonymise,
   checksum, deliver to the inbox) → ``ingest`` (validate, one atomic lake commit).
4. Two synthetic patients withdraw their consent (applied to the lake and purged).
5. Demo users: a researcher, a reviewer per centre, a network-wide reviewer, a steward and
   an admin, with API tokens written to ``$HOME/demo-users.json`` (mode 600).

Re-running is safe and fast: the pipeline is re-run by Snakemake only where inputs
changed, exports are rewritten only when missing, an unchanged bundle is not re-ingested
(its dataset's manifest digest is already in the lake), and users and tokens are reused.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from consent.withdrawal import Withdrawal, list_withdrawals
from harmonise.bundle import SubmitInputs, build_bundle, deliver
from harmonise.ingest import ingest
from harmonise.lake import Lake
from oncolake.demo.network import CentreExport, default_centres, write_centre
from oncolake.settings import Settings

Say = Callable[[str], None]

DATA = Path(__file__).resolve().parent / "data" / "centre1"
WORKFLOW = Path(__file__).resolve().parents[2] / "workflows" / "dna_seq"
TEST_READS = WORKFLOW / ".test" / "data" / "reads"
TEST_GFF3 = WORKFLOW / ".test" / "data" / "reference" / "annotation.gff3"
CENTRE1 = {"id": "C1", "name": "Centre 1 (real reads)", "country": "NL"}
SEED = 20261122


@dataclass
class DemoResult:
    """What the demo built."""

    home: Path
    ingested: dict[str, str] = field(default_factory=dict)  # dataset id -> status
    users_file: Path | None = None
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    withdrawn: list[str] = field(default_factory=list)


# -- centre 1: the real pipeline -------------------------------------------------------


def centre1_config(workdir: Path) -> Path:
    """Write centre 1's pipeline config, sample sheet and unit sheet under ``workdir``."""
    workdir.mkdir(parents=True, exist_ok=True)
    samples = workdir / "samples.tsv"
    samples.write_text(
        "sample_name\tpatient\ttype\n"
        "HCC1954_T\tHCC1954\ttumour\nHCC1954_N\tHCC1954\tnormal\n"
        "TINY01_T\tTINY01\ttumour\nTINY01_N\tTINY01\tnormal\n"
    )
    reads = DATA / "reads"
    units = ["sample_name\tunit_name\tplatform\tfq1\tfq2"]
    for lane in ("3", "5"):
        stem = reads / f"C09D_T_111207.{lane}.ACCAACTG"
        units.append(
            f"HCC1954_T\tL{lane}\tILLUMINA\t{stem}_R1_xxx.fastq.gz\t{stem}_R2_xxx.fastq.gz"
        )
    for lane in ("1", "2"):
        stem = reads / f"D0F23_N_111212.{lane}.AGTTGCTT"
        units.append(
            f"HCC1954_N\tL{lane}\tILLUMINA\t{stem}_R1_xxx.fastq.gz\t{stem}_R2_xxx.fastq.gz"
        )
    for sample, prefix, lanes in (("TINY01_T", "tiny_t", "23"), ("TINY01_N", "tiny_n", "12")):
        for lane in lanes:
            stem = TEST_READS / f"{prefix}_L00{lane}"
            units.append(
                f"{sample}\tL{lane}\tILLUMINA\t{stem}_R1_xxx.fastq.gz\t{stem}_R2_xxx.fastq.gz"
            )
    (workdir / "units.tsv").write_text("\n".join(units) + "\n")
    regions = workdir / "regions.bed"
    regions.write_text("1\t0\t200000\n8\t0\t1282\n11\t0\t3696\n")
    config = workdir / "centre1.yaml"
    config.write_text(
        "# Centre 1 of the demo: sample sheets, paths and resources only.\n"
        f"samples: {samples}\nunits: {workdir / 'units.tsv'}\n"
        f"reference:\n  fasta: {DATA / 'reference' / 'genome.fa.gz'}\n"
        f"  gff3: {TEST_GFF3}\n  build: GRCh37\n"
        f"regions: {regions}\nthreads: 2\nmemory_mb: 2000\n"
        "# The Sarek tiny tumour and normal are two people (workflow identity check).\n"
        "allow_identity_mismatch: true\n"
    )
    return config


def run_centre1_pipeline(home: Path, cores: int, say: Say) -> Path:
    """Run workflows/dna_seq for centre 1; return its provenance.json (Snakemake skips
    every step whose outputs are up to date)."""
    from oncolake.commands.pipeline import _environment, snakemake_command

    workdir = home / "demo" / "centre1" / "pipeline"
    config = centre1_config(home / "demo" / "centre1" / "config")
    say(f"centre 1: running workflows/dna_seq on 2 tumour/normal pairs in {workdir}")
    workdir.mkdir(parents=True, exist_ok=True)
    cmd = snakemake_command(config, cores, workdir)
    proc = subprocess.run(cmd, env=_environment(), capture_output=True, text=True)
    log = workdir / "snakemake-demo.log"
    log.write_text(proc.stdout + proc.stderr)
    if proc.returncode != 0:
        raise RuntimeError(
            f"the dna_seq pipeline failed (exit {proc.returncode}); see {log} and the rule "
            f"logs under {workdir / 'logs'}"
        )
    provenance = workdir / "results" / "provenance" / "provenance.json"
    say(f"centre 1: pipeline done; provenance {provenance}")
    return provenance


def centre1_manifest(provenance: dict[str, Any]) -> dict[str, Any]:
    """Centre 1's draft manifest (local ids; submit pseudonymises them)."""
    samples: list[dict[str, Any]] = []
    for s in provenance["samples"]:
        assay = {"type": "WGS", "name": "demo-wgs-subset", "version": "1"}
        common = {
            "patient_id": s["patient"],
            "assay": assay,
            "platform": "Illumina HiSeq 2000",
            "collection_year": 2019,
        }
        samples.append(
            {
                "specimen_id": s["tumour"],
                "role": "tumour",
                "sample_type": "fresh_frozen",
                "matched_normal": s["normal"],
                **common,
            }
        )
        samples.append(
            {"specimen_id": s["normal"], "role": "normal", "sample_type": "blood", **common}
        )
    return {
        "format_version": 1,
        "dataset_id": "C1-dna-seq-demo",
        "title": "Centre 1: tumour/normal sequencing through workflows/dna_seq (real reads)",
        "centre": CENTRE1,
        "data_controller": {
            "name": CENTRE1["name"],
            "contact_name": "Data Protection Office",
            "contact_email": "dpo@c1.example",
        },
        "legal_basis": "consent",
        "data_types": ["variants", "clinical", "consent"],
        "analysis": "somatic",
        "samples": samples,
        "consent_form_version": "C1-research-2",
        "duo_codes": ["DUO:0000042"],
        "files": [],
    }


# -- submit and ingest -----------------------------------------------------------------


def _submit_and_ingest(
    lake: Lake,
    settings: Settings,
    inputs: SubmitInputs,
    dataset_id: str,
    result: DemoResult,
    say: Say,
) -> None:
    work = settings.home_path / "demo" / "work" / dataset_id
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    bundle, submitted = build_bundle(inputs, settings.secret("pseudonym_key"), work)
    inbox = settings.home_path / "inbox"
    committed = _committed_digests(lake)
    if committed.get(dataset_id) == submitted.digest:
        result.ingested[dataset_id] = "unchanged"
        say(f"{dataset_id}: already in the lake, unchanged")
        shutil.rmtree(work, ignore_errors=True)
        return
    location = deliver(bundle, str(inbox), settings.s3_storage_options())
    withdrawn = {w.patient_id for w in list_withdrawals(settings.home_path)}
    report, _ = ingest(lake, Path(location), withdrawn=withdrawn)
    result.ingested[dataset_id] = report.status
    say(
        f"{dataset_id}: {report.status}: {report.patients} patients, {report.variants} variant "
        f"rows ({report.seconds:.1f} s)"
    )
    shutil.rmtree(work, ignore_errors=True)


def _committed_digests(lake: Lake) -> dict[str, str]:
    rows = lake.visible_submissions().select(["dataset_id", "manifest_digest"]).to_pylist()
    return {r["dataset_id"]: r["manifest_digest"] for r in rows}


def _synthetic_exports(
    home: Path, patients: int, centres: int, pipeline: dict[str, Any], say: Say
) -> list[CentreExport]:
    out = home / "demo" / "exports"
    exports = []
    for spec in default_centres(patients, centres):
        target = out / spec.centre_id
        stamp = target / ".complete"
        key = json.dumps(
            {"spec": spec.__dict__, "seed": SEED, "pipeline": pipeline}, sort_keys=True
        )
        if not (stamp.exists() and stamp.read_text() == key):
            shutil.rmtree(target, ignore_errors=True)
            say(f"{spec.centre_id}: generating {spec.patients} synthetic patients")
            exports.append(write_centre(spec, target, SEED, pipeline))
            stamp.write_text(key)
        else:
            exports.append(
                CentreExport(
                    spec,
                    target / "manifest.draft.json",
                    target / "clinical.ndjson",
                    target / "consent.ndjson",
                    tuple(sorted((target / "vcf").glob("*.vcf.gz"))),
                )
            )
    return exports


# -- users -----------------------------------------------------------------------------


def demo_users(settings: Settings, centres: list[str], say: Say) -> tuple[Path, dict[str, Any]]:
    """Create the demo users and tokens (reused when the file and tokens are still valid)."""
    from catalog_api import audit, crud
    from catalog_api.auth import tokens
    from catalog_api.auth.schemas import UserCreate
    from catalog_api.db import make_engine, make_sessionmaker, session_scope, upgrade
    from catalog_api.governance.errors import NotAuthenticated
    from catalog_api.models import Role
    from oncolake.api_config import api_config

    path = settings.home_path / "demo-users.json"
    existing: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
    wanted: dict[str, tuple[list[str], list[str]]] = {
        "researcher": (["researcher"], []),
        "admin": (["admin"], []),
        "steward-c1": (["steward"], ["C1"]),
        "reviewer-network": (["reviewer"], ["*"]),
    }
    for c in centres:
        wanted[f"reviewer-{c.lower()}"] = (["reviewer"], [c])
    config = api_config(settings)
    engine = make_engine(config.database_url)
    upgrade(engine)
    audit.configure(engine, key=config.audit_key, anchors=config.home / audit.ANCHOR_DIR)
    factory = make_sessionmaker(engine)
    users: dict[str, Any] = {}
    with session_scope(factory) as session:
        for name, (roles, scope) in wanted.items():
            user = crud.get_user_by_username(session, username=name)
            if user is None:
                user = crud.create_user(
                    session,
                    user_in=UserCreate(
                        username=name, roles=[Role(r) for r in roles], centres=scope
                    ),
                    actor="demo",
                )
            token = existing.get(name, {}).get("token")
            try:
                valid = bool(token) and tokens.authenticate(session, token=token).id == user.id
            except NotAuthenticated:
                valid = False
            if not valid:
                _, token = tokens.create_token(
                    session, user=user, name="demo", ttl=dt.timedelta(days=30)
                )
            users[name] = {"token": token, "roles": roles, "centres": scope}
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(users, fh, indent=2)
    os.replace(tmp, path)
    say(f"demo users and tokens: {path}")
    return path, users


# -- the whole demo --------------------------------------------------------------------


def build_demo(
    settings: Settings,
    lake: Lake,
    *,
    patients: int = 3000,
    centres: int = 4,
    cores: int = 2,
    say: Say = print,
) -> DemoResult:
    """Build (or bring up to date) the demo network; see the module doc."""
    home = settings.ensure_home()
    lake.init()
    result = DemoResult(home=home)

    provenance_path = run_centre1_pipeline(home, cores, say)
    provenance = json.loads(provenance_path.read_text())
    c1 = SubmitInputs(
        centre1_manifest(provenance),
        provenance=provenance_path,
        clinical=[DATA / "clinical.json"],
        consent=[DATA / "consent.ndjson"],
    )
    _submit_and_ingest(lake, settings, c1, "C1-dna-seq-demo", result, say)

    pipeline = {k: provenance[k] for k in ("pipeline_version", "fingerprint", "harmonised")}
    pipeline_block = {
        "id": provenance["pipeline_id"],
        "version": pipeline["pipeline_version"],
        "fingerprint": pipeline["fingerprint"],
        "harmonised": pipeline["harmonised"],
        "tool_versions": provenance["tool_versions"],
    }
    exports = _synthetic_exports(home, patients, centres, pipeline_block, say)
    for exp in exports:
        inputs = SubmitInputs(
            json.loads(exp.manifest.read_text()),
            vcfs=list(exp.vcfs),
            clinical=[exp.clinical],
            consent=[exp.consent],
            results=exp.results,
        )
        _submit_and_ingest(
            lake, settings, inputs, f"{exp.spec.centre_id}-synthetic-2025", result, say
        )

    result.withdrawn = _demo_withdrawals(lake, settings, say)
    result.users_file, result.users = demo_users(
        settings, ["C1", *[e.spec.centre_id for e in exports]], say
    )
    return result


def _demo_withdrawals(lake: Lake, settings: Settings, say: Say) -> list[str]:
    """Two synthetic patients of the second centre withdraw (once), by the path of
    ``oncolake consent withdraw``: every export holding them re-made without them at its
    request's amended pin (or disabled), as on a live hub."""
    from oncolake.commands.consent import withdraw_everywhere

    already = {w.patient_id for w in list_withdrawals(settings.home_path)}
    if already:
        return sorted(already)
    patients = lake.read("patients", columns=["patient_id", "centre_id"]).to_pylist()
    chosen = sorted(p["patient_id"] for p in patients if p["centre_id"] != "C1")[:2]
    for pid in chosen:
        outcome = withdraw_everywhere(
            settings,
            lake,
            Withdrawal(
                patient_id=pid,
                date=dt.date(2025, 6, 1),
                reason="demo: the patient withdrew consent",
            ),
        )
        rows = sum(outcome.done.rows_removed.values())
        remade = ", ".join(f"export {k} {v}" for k, v in sorted(outcome.exports.items()))
        say(
            f"withdrawal of {pid}: {rows} rows removed and purged"
            + (f"; {remade}" if remade else "")
        )
    return chosen
