"""Shared fixtures: an isolated environment, moto's S3 server, PostgreSQL databases, lakes.

Every test runs with the developer's own ``ONCOLAKE_*`` settings removed and
``ONCOLAKE_HOME`` in a fresh temporary folder (pyiceberg's habit of isolating config).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from harmonise.lake import Lake, LakeConfig

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = (REPO / ".." / "shared" / "data").resolve()
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
TAG_KEY = b"test-tag-key-0123456789"


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("ONCOLAKE_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("ONCOLAKE_HOME", str(tmp_path / "oncolake-home"))
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def shared_data(*parts: str) -> Path:
    """A path under ../shared/data, or skip the test naming what is missing."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"needs {path} (the shared real-data folder beside the repo), absent here")
    return path


# -- moto's S3 server ---------------------------------------------------------------------


@dataclass(frozen=True)
class S3Server:
    """A running moto S3 server on loopback."""

    endpoint: str
    access_key: str = "testing"
    secret_key: str = "testing"
    region: str = "us-east-1"

    def new_bucket(self) -> str:
        """Create a fresh bucket and return its name."""
        import boto3

        name = f"lake-{uuid.uuid4().hex[:12]}"
        client = boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name=self.region,
        )
        client.create_bucket(Bucket=name)
        return name


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """moto's S3 server on a free loopback port, for the whole session."""
    exe = Path(sys.executable).with_name("moto_server")
    if not exe.exists():
        pytest.skip("moto_server is not installed (pip install 'moto[server]')")
    port = free_port()
    proc = subprocess.Popen(
        [str(exe), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
        except OSError:
            time.sleep(0.1)
    else:
        proc.kill()
        pytest.fail("moto_server did not start within 20 s")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    yield S3Server(endpoint=f"http://127.0.0.1:{port}")
    proc.terminate()
    proc.wait(timeout=10)


# -- PostgreSQL ---------------------------------------------------------------------------


def _pg_available() -> bool:
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3):
            return True
    except Exception:
        return False


@pytest.fixture(scope="session")
def postgres_available() -> bool:
    """Whether PostgreSQL answers on 127.0.0.1:5432 (``make test`` starts it)."""
    return _pg_available()


@pytest.fixture
def postgres_url(postgres_available: bool) -> Iterator[str]:
    """A throwaway PostgreSQL database (dropped afterwards), as a SQLAlchemy URL."""
    if not postgres_available:
        pytest.skip("PostgreSQL is not running on 127.0.0.1:5432 (make test starts it)")
    import psycopg

    name = f"oncolake_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# -- lakes on every backend combination -----------------------------------------------------

BACKENDS = [("sqlite", "local"), ("sqlite", "s3"), ("postgres", "local"), ("postgres", "s3")]


@pytest.fixture(params=BACKENDS, ids=[f"{c}-{w}" for c, w in BACKENDS])
def lake_config(request: pytest.FixtureRequest, tmp_path: Path) -> LakeConfig:
    """A lake configuration on one backend combination (catalog × warehouse)."""
    catalog, warehouse = request.param
    if catalog == "sqlite":
        catalog_uri = f"sqlite:///{tmp_path / 'catalog.db'}"
    else:
        catalog_uri = request.getfixturevalue("postgres_url")
    if warehouse == "local":
        return LakeConfig(catalog_uri=catalog_uri, warehouse=str(tmp_path / "warehouse"))
    s3: S3Server = request.getfixturevalue("s3_server")
    bucket = s3.new_bucket()
    return LakeConfig(
        catalog_uri=catalog_uri,
        warehouse=f"s3://{bucket}/warehouse",
        properties={
            "s3.endpoint": s3.endpoint,
            "s3.access-key-id": s3.access_key,
            "s3.secret-access-key": s3.secret_key,
            "s3.region": s3.region,
        },
    )


@pytest.fixture
def lake(lake_config: LakeConfig) -> Lake:
    """An initialised, empty lake on one backend combination."""
    lk = Lake(lake_config, TAG_KEY)
    lk.init()
    return lk


@pytest.fixture
def local_lake(tmp_path: Path) -> Lake:
    """An initialised, empty lake on SQLite + a local folder (the embedded default)."""
    lk = Lake(
        LakeConfig(
            catalog_uri=f"sqlite:///{tmp_path / 'catalog.db'}",
            warehouse=str(tmp_path / "warehouse"),
        ),
        TAG_KEY,
    )
    lk.init()
    return lk


@pytest.fixture(scope="session")
def local_run(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The dna_seq .test workflow run once per session (a copy of .test, 2 cores).

    Used by the workflow tests and by the ingest's end-to-end test of real pipeline output.
    """
    for tool in ("bwa", "samtools", "bcftools", "fastp", "mosdepth"):
        if not have_tool(tool):
            pytest.skip(f"{tool} is not installed (make tools installs it)")
    from tests.workflows.conftest import Run, copy_dot_test, snakemake

    workdir = copy_dot_test(tmp_path_factory.mktemp("centre_a") / "dot_test")
    snakemake(workdir, "--cores", "2")
    return Run(workdir)


def have_tool(name: str) -> bool:
    """True if ``name`` is on PATH."""
    return shutil.which(name) is not None
