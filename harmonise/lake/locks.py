"""One committer per dataset at a time, across processes: a lock held through the catalog.

The commit protocol's check for an earlier commit of a submission (and the per-table
"already appended" check) must still hold when the commit lands; two processes ingesting
the same bundle at once would otherwise both pass it, both append, and the one
``datasets`` row would make both copies visible. A lock per dataset serialises them: the
second waits, then finds the first's commit and changes nothing.

Where the lock lives follows the catalog, so that every process that can commit shares it
and a process that dies releases it (no stale lock to clean up):

* PostgreSQL: a session advisory lock (``pg_advisory_lock``) on a connection held for
  the commit; the server releases it when the session ends.
* SQLite (one host): ``flock`` on a file beside the catalog database; the kernel releases
  it when the process exits.
* anything else (an in-memory SQLite catalog): a lock within this process.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import sqlalchemy as sa
from pyiceberg.catalog import Catalog
from pyiceberg.catalog.sql import SqlCatalog

#: Lock files beside a SQLite catalog: datasets hash onto this many (a collision only
#: makes two unrelated commits wait for each other).
SQLITE_SLOTS = 256

_LOCAL: dict[str, threading.Lock] = {}
_LOCAL_GUARD = threading.Lock()


def _key(name: str) -> int:
    """A signed 64-bit advisory-lock key for ``name``."""
    return int.from_bytes(
        hashlib.sha256(f"oncolake:{name}".encode()).digest()[:8], "big", signed=True
    )


@contextlib.contextmanager
def dataset_lock(catalog: Catalog, dataset_id: str, waiting: Callable[[], None]) -> Iterator[None]:
    """Hold the commit lock of ``dataset_id`` (``waiting`` is called once if another
    process holds it, before blocking until it is released)."""
    engine = catalog.engine if isinstance(catalog, SqlCatalog) else None
    if engine is not None and engine.dialect.name == "postgresql":
        with _postgres(engine, _key(dataset_id), waiting):
            yield
        return
    database = (
        engine.url.database if engine is not None and engine.dialect.name == "sqlite" else None
    )
    if database and database != ":memory:" and not database.startswith("file::memory:"):
        with _flock(Path(database), dataset_id, waiting):
            yield
        return
    with _in_process(dataset_id, waiting):
        yield


@contextlib.contextmanager
def _postgres(engine: sa.Engine, key: int, waiting: Callable[[], None]) -> Iterator[None]:
    with engine.connect() as conn:
        got = conn.execute(sa.text("select pg_try_advisory_lock(:k)"), {"k": key}).scalar()
        if not got:
            waiting()
            conn.execute(sa.text("select pg_advisory_lock(:k)"), {"k": key})
        conn.commit()
        try:
            yield
        finally:
            conn.execute(sa.text("select pg_advisory_unlock(:k)"), {"k": key})
            conn.commit()


@contextlib.contextmanager
def _flock(database: Path, name: str, waiting: Callable[[], None]) -> Iterator[None]:
    folder = database.with_name(database.name + ".locks")
    folder.mkdir(exist_ok=True)
    slot = int(hashlib.sha256(name.encode()).hexdigest(), 16) % SQLITE_SLOTS
    fd = os.open(folder / f"{slot:03d}.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            waiting()
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


@contextlib.contextmanager
def _in_process(name: str, waiting: Callable[[], None]) -> Iterator[None]:
    with _LOCAL_GUARD:
        lock = _LOCAL.setdefault(name, threading.Lock())
    if not lock.acquire(blocking=False):
        waiting()
        lock.acquire()
    try:
        yield
    finally:
        lock.release()
