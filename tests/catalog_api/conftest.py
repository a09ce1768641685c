"""Shared fixtures of the catalogue tests: a real lake, the app under uvicorn, users.

* ``network_lake`` — a lake (SQLite catalog, local warehouse) with two centres, built once
  per session; tests must not write to it (use ``make_network_lake`` for a private one).
* ``backend`` — ``"sqlite"`` (a fresh file per test) by default; parametrise it
  indirectly with :data:`BACKENDS` to run a test on PostgreSQL too. PostgreSQL uses one
  throwaway database per test session (created here, dropped at the end), emptied
  between tests.
* ``server`` — the real app under uvicorn on a free loopback port; ``http`` — an httpx
  client on it.
* ``api_user(roles, centres=())`` — creates a user and returns an :class:`ApiUser` with
  an API token and ready-made headers; this is how other tests get an authenticated
  caller (e.g. ``http.get(url, headers=api_user("researcher").headers)``).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx
import pyarrow as pa
import pytest
import sqlalchemy as sa
import uvicorn
from fastapi import FastAPI

from catalog_api.auth import tokens
from catalog_api.core.config import ApiConfig
from catalog_api.db import make_engine, upgrade
from catalog_api.main import create_app
from catalog_api.models import Base, User
from harmonise.lake import Lake, LakeConfig, Submission
from tests.conftest import TAG_KEY, free_port
from tests.harmonise.lakefixtures import make_submission

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
#: The append-only trigger of migration 0001 (re-created between PostgreSQL tests).
PG_AUDIT_TRIGGER = """CREATE TRIGGER audit_entries_no_change
    BEFORE UPDATE OR DELETE ON audit_entries
    FOR EACH ROW EXECUTE FUNCTION audit_entries_append_only()"""
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]

#: Patients of the two-centre network (C1 has 8, C2 has 6).
C1_PATIENTS = [f"C1-p{i:02d}" for i in range(8)]
C2_PATIENTS = [f"C2-p{i:02d}" for i in range(6)]


#: C1 patients whose consent is disease-specific for breast cancer (DS, OncoTree BRCA):
#: it permits no general or health research.
C1_DS_ONLY = C1_PATIENTS[6:]
HEALTH = {"primary": "health"}


def c1_submission(revision: int = 0) -> Submission:
    """Dataset D1 of centre C1; the last two patients consented to breast cancer research only."""
    sub = make_submission("D1", "C1", C1_PATIENTS, revision=revision)
    consents = sub.tables["consents"].to_pylist()
    for row in consents:
        if row["patient_id"] in C1_DS_ONLY:
            row["permissions"] = ["DUO:0000007"]
            row["disease_codes"] = ["BRCA"]
    sub.tables = {**sub.tables, "consents": pa.Table.from_pylist(consents)}
    return sub


def make_network_lake(root: Path) -> Lake:
    """A lake with datasets ``D1`` (centre C1, 8 patients) and ``D2`` (centre C2, 6)."""
    root.mkdir(parents=True, exist_ok=True)
    lake = Lake(
        LakeConfig(catalog_uri=f"sqlite:///{root / 'catalog.db'}", warehouse=str(root / "wh")),
        TAG_KEY,
    )
    lake.init()
    lake.commit(c1_submission())
    lake.commit(make_submission("D2", "C2", C2_PATIENTS))
    return lake


@pytest.fixture(scope="session")
def network_lake(tmp_path_factory: pytest.TempPathFactory) -> Lake:
    """The shared two-centre lake (read-only for tests)."""
    return make_network_lake(tmp_path_factory.mktemp("network-lake"))


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """One throwaway PostgreSQL database for the session, migrated; dropped afterwards."""
    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    name = f"oncolake_api_{uuid.uuid4().hex[:10]}"
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError:
        admin.dispose()
        pytest.skip("PostgreSQL is not running on 127.0.0.1:5432 (make test starts it)")
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    yield url
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _empty_postgres(url: str) -> None:
    engine = sa.create_engine(url)
    names = ", ".join(t.name for t in Base.metadata.sorted_tables if t.name != "audit_head")
    with engine.begin() as conn:
        conn.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        conn.execute(
            sa.text(f"UPDATE audit_head SET seq = 0, keyed_from = 0, digest = '{'0' * 64}'")
        )
        # a tampering test may have dropped the append-only trigger: put it back
        conn.execute(sa.text("DROP TRIGGER IF EXISTS audit_entries_no_change ON audit_entries"))
        conn.execute(sa.text(PG_AUDIT_TRIGGER))
    engine.dispose()


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    """The application database backend of this test (``sqlite`` unless parametrised)."""
    return str(getattr(request, "param", "sqlite"))


@pytest.fixture
def database_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """An empty, migrated-on-start application database on ``backend``."""
    if backend == "postgresql":
        url: str = request.getfixturevalue("pg_database")
        _empty_postgres(url)
        return url
    return f"sqlite:///{tmp_path / 'app.db'}"


@pytest.fixture
def api_config(database_url: str, tmp_path: Path) -> ApiConfig:
    """The app's configuration for one test."""
    return ApiConfig(
        database_url=database_url,
        secret_key=b"test-secret-key-0123456789abcdef",
        tag_signing_key=TAG_KEY,
        home=tmp_path,
        exports_dir=tmp_path / "exports",
    )


@pytest.fixture
def lake(network_lake: Lake) -> Lake:
    """The lake the app serves (the shared network lake unless a test overrides it)."""
    return network_lake


@pytest.fixture
def app(api_config: ApiConfig, lake: Lake) -> FastAPI:
    """The catalogue app (its database migrated)."""
    return create_app(api_config, lake)


class _Server(uvicorn.Server):
    def install_signal_handlers(self) -> None:  # running in a thread
        return None


@pytest.fixture
def server(app: FastAPI) -> Iterator[str]:
    """The app served by uvicorn on a free loopback port; yields its base URL."""
    port = free_port()
    srv = _Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not srv.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("uvicorn did not start within 10 s")
        time.sleep(0.01)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def http(server: str) -> Iterator[httpx.Client]:
    """An HTTP client on the running app."""
    with httpx.Client(base_url=server, timeout=30) as client:
        yield client


@dataclass(frozen=True)
class ApiUser:
    """A user made by :func:`api_user` with a fresh API token."""

    id: int
    username: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        """``Authorization: Bearer …`` for this user."""
        return {"Authorization": f"Bearer {self.token}"}


ApiUserFactory = Callable[..., ApiUser]


@pytest.fixture
def api_user(app: FastAPI) -> ApiUserFactory:
    """Make users: ``api_user("reviewer", centres=["C1"])`` or ``api_user(["admin"])``."""
    counter = iter(range(1, 10_000))

    def make(
        roles: str | Sequence[str] = (), centres: Sequence[str] = (), username: str | None = None
    ) -> ApiUser:
        role_list = [roles] if isinstance(roles, str) else list(roles)
        name = username or f"{'-'.join(role_list) or 'nobody'}{next(counter)}"
        with app.state.sessionmaker() as session:
            user = User(username=name, roles=sorted(role_list), centres=sorted(centres))
            session.add(user)
            session.flush()
            _row, token = tokens.create_token(session, user=user, name="test")
            session.commit()
            return ApiUser(id=user.id, username=name, token=token)

    return make


@pytest.fixture(scope="session")
def chromium() -> Iterator[object]:
    """Headless Chromium for the web-page tests (``web_fixtures.launch_chromium``)."""
    from tests.catalog_api.web_fixtures import launch_chromium

    yield from launch_chromium()
