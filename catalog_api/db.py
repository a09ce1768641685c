"""The application database: engine, sessions and migrations (SQLAlchemy 2 + Alembic).

SQLite by default (a file under ``ONCOLAKE_HOME``), PostgreSQL (``postgresql+psycopg://``)
in production. The schema is owned by the Alembic migrations shipped in
``catalog_api/migrations`` (``catalog_api/alembic.ini``); :func:`upgrade` brings any
database to the newest revision and is run on app start and by ``oncolake db upgrade``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

PACKAGE_DIR = Path(__file__).resolve().parent
ALEMBIC_INI = PACKAGE_DIR / "alembic.ini"


class DatabaseError(ValueError):
    """The application database cannot be used (bad URL, unreachable, wrong revision)."""


def utcnow() -> dt.datetime:
    """The current time, timezone-aware UTC (the only clock the app uses)."""
    return dt.datetime.now(dt.UTC)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cur = dbapi_connection.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.close()


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite gets foreign keys, WAL and a busy timeout."""
    if not url:
        raise DatabaseError(
            "the application database URL is empty; set ONCOLAKE_DATABASE_URL "
            "(sqlite:///path or postgresql+psycopg://user@host/db)"
        )
    try:
        if url.startswith("sqlite"):
            if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
                Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
            # a connection per worker thread kept open (anyio's pool has 40 threads): with
            # the default 5 (+10 overflow, closed after use) a loaded server reconnects and
            # re-runs the pragmas on most requests
            engine = create_engine(
                url, connect_args={"check_same_thread": False}, pool_size=20, max_overflow=20
            )
            event.listen(engine, "connect", _sqlite_pragmas)
        else:
            engine = create_engine(url, pool_pre_ping=True)
    except Exception as exc:  # the driver's message names what is wrong with the URL
        raise DatabaseError(f"cannot use the database URL {url!r}: {exc}") from exc
    return engine


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded objects usable after commit."""
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session that commits on success and rolls back on error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def alembic_config(engine: Engine) -> Config:
    """The packaged Alembic configuration, bound to ``engine``."""
    cfg = Config(str(ALEMBIC_INI))
    cfg.set_main_option("script_location", str(PACKAGE_DIR / "migrations"))
    cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate the database to ``revision`` (default: the newest); idempotent."""
    try:
        command.upgrade(alembic_config(engine), revision)
    except Exception as exc:
        raise DatabaseError(
            f"cannot migrate the application database {engine.url!r}: {exc}"
        ) from exc


def current_revision(engine: Engine) -> str | None:
    """The database's Alembic revision (``None`` for an empty database)."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision(engine: Engine) -> str | None:
    """The newest revision shipped with the package."""
    return ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
