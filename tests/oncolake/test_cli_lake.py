"""The ``oncolake`` command as a user runs it: a real process, default and S3 warehouses."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from harmonise.model import TABLES
from tests.conftest import S3Server
from tests.harmonise.lakefixtures import make_submission

ONCOLAKE = str(Path(sys.executable).with_name("oncolake"))


def run(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "COLUMNS": "200", **(env or {})}
    return subprocess.run(
        [ONCOLAKE, *args], capture_output=True, text=True, env=full_env, cwd=cwd, timeout=300
    )


def test_help_lists_every_command_group() -> None:
    out = run("--help")
    assert out.returncode == 0
    for group in ("lake",):
        assert group in out.stdout
    lake_help = run("lake", "--help").stdout
    for cmd in ("init", "tables", "snapshots", "maintain"):
        assert cmd in lake_help


def test_lake_init_and_tables_on_the_embedded_default(tmp_path: Path) -> None:
    env = {"ONCOLAKE_HOME": str(tmp_path / "home")}
    first = run("lake", "init", env=env)
    assert first.returncode == 0, first.stderr
    assert f"created {len(TABLES)} table(s)" in first.stdout
    again = run("lake", "init", env=env)
    assert f"all {len(TABLES)} tables exist" in again.stdout
    tables = run("lake", "tables", env=env)
    assert tables.returncode == 0, tables.stderr
    for name in ("datasets", "patients", "variants", "consents"):
        assert f"oncolake.{name}" in tables.stdout
    assert (tmp_path / "home" / "catalog.db").exists()
    assert run("lake", "snapshots", env=env).returncode == 0
    maintain = run("lake", "maintain", env=env)
    assert maintain.returncode == 0, maintain.stderr
    assert "orphan files removed: 0" in maintain.stdout


def test_lake_maintain_says_what_it_did_once_and_snapshots_fit_80_columns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    env = {"ONCOLAKE_HOME": str(home), "COLUMNS": "80"}
    assert run("lake", "init", env=env).returncode == 0
    monkeypatch.setenv("ONCOLAKE_HOME", str(home))
    from oncolake.commands.lake import open_lake
    from oncolake.settings import Settings

    lake = open_lake(Settings())
    subs = [make_submission(f"ds-{i}", f"c{i}", [f"c{i}-p1"]) for i in range(2)]
    for sub in subs:
        lake.commit(sub)
    lake.pin(lake.current_version(), "export-1")

    out = run("lake", "snapshots", env=env)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80, out.stdout
    assert "…" not in out.stdout
    for snap in lake.snapshots():  # every id and time whole, once per snapshot
        stamp = snap["timestamp"].strftime("%Y-%m-%d %H:%M:%S")
        assert sum(str(snap["snapshot_id"]) in line and stamp in line for line in lines) == 1
    for sub in subs:
        assert f"    submission {sub.submission_id}" in lines
    assert "    pinned as pin-export-1" in lines
    only = run("lake", "snapshots", "--table", "datasets", env=env).stdout.splitlines()
    assert len([line for line in only if " datasets " in line]) == 2

    out = run("lake", "maintain", "--purge", env=env)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80, out.stdout
    heads = [line for line in lines if not line.startswith("      ")]
    assert heads == [
        "lake maintenance done",
        "  uncommitted rows removed: none",
        heads[2],
        heads[3],
        "  orphan files removed: " + heads[4].removeprefix("  orphan files removed: "),
    ]
    assert heads[2].startswith("  compaction: ") and "files into" in heads[2]
    assert "patients 2 → 1" in out.stdout
    assert heads[3].startswith("  snapshots expired: ") and "all but the current" in heads[3]
    assert sum("orphan" in line for line in lines) == 1  # said once
    again = run("lake", "maintain", env=env).stdout.splitlines()
    assert again[2] == "  compaction: none needed"
    assert again[3] == "  snapshots expired: none older than 7 day(s) (pinned ones kept)"


def test_lake_init_and_tables_on_s3(tmp_path: Path, s3_server: S3Server) -> None:
    bucket = s3_server.new_bucket()
    env = {
        "ONCOLAKE_HOME": str(tmp_path / "home"),
        "ONCOLAKE_WAREHOUSE": f"s3://{bucket}/lake",
        "ONCOLAKE_S3_ENDPOINT": s3_server.endpoint,
        "ONCOLAKE_S3_ACCESS_KEY_ID": s3_server.access_key,
        "ONCOLAKE_S3_SECRET_ACCESS_KEY": s3_server.secret_key,
        "ONCOLAKE_SECRET_KEY": "s" * 48,
        "ONCOLAKE_TAG_SIGNING_KEY": "t" * 48,
        "ONCOLAKE_PSEUDONYM_KEY": "p" * 48,
        "ONCOLAKE_AUDIT_KEY": "a" * 48,
    }
    out = run("lake", "init", env=env)
    assert out.returncode == 0, out.stderr
    assert f"warehouse: s3://{bucket}/lake" in out.stdout
    tables = run("lake", "tables", env=env)
    assert tables.returncode == 0, tables.stderr
    assert "oncolake.variants" in tables.stdout
    import boto3

    keys = [
        o["Key"]
        for o in boto3.client(
            "s3",
            endpoint_url=s3_server.endpoint,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        ).list_objects_v2(Bucket=bucket)["Contents"]
    ]
    assert any(k.endswith(".metadata.json") for k in keys)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"ONCOLAKE_WAREHOUSE": "s3://bucket/lake"}, "ONCOLAKE_SECRET_KEY is missing"),
        ({"ONCOLAKE_CATALOG_URL": "nosuchdriver://x"}, "cannot open the Iceberg catalog"),
    ],
)
def test_user_errors_are_one_line_without_traceback(
    tmp_path: Path, env: dict[str, str], message: str
) -> None:
    out = run("lake", "init", env={"ONCOLAKE_HOME": str(tmp_path / "h"), **env})
    assert out.returncode == 1
    assert message in out.stderr
    assert "Traceback" not in out.stderr
    assert out.stderr.strip().startswith("error:")


def test_tables_before_init_says_run_init(tmp_path: Path) -> None:
    out = run("lake", "tables", env={"ONCOLAKE_HOME": str(tmp_path / "h")})
    assert out.returncode == 1
    assert "run `oncolake lake init` first" in out.stderr
