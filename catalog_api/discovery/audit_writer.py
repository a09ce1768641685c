"""The writer of discovery's audit entries: group commit in one background thread.

Every count shown to a user is audited before it is answered; under load one fsync per
count would bound the throughput, so entries queued while a commit runs are committed
together by the next one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError

from catalog_api import audit
from catalog_api.discovery.errors import AuditFailedError

log = logging.getLogger(__name__)
#: How long a count waits for its audit entry to be committed before answering 503.
AUDIT_TIMEOUT = 30.0


class AuditWriter:
    """Commits discovery audit entries by group commit, in one background thread.

    :meth:`submit` queues an entry and returns a future; the thread takes everything queued
    (up to ``batch``), writes it in one transaction, commits, and then completes each
    entry's future (with the error if the commit failed). A request waits on its future
    (:meth:`wait`, or :meth:`wait_async` without blocking the event loop) before it answers,
    so no answer is sent whose audit entry is not in the database; while one commit runs
    the next group gathers, so the commit cost (an fsync) is shared under load.
    """

    def __init__(self, sessionmaker: Any, batch: int = 1000) -> None:
        self._sessionmaker = sessionmaker
        self._batch = batch
        self._queue: queue.Queue[_Entry] = queue.Queue()
        self.commits = 0  # transactions committed (entries / commits = group size)
        self._conn: Connection | None = None  # the writer thread's own connection
        self._thread = threading.Thread(target=self._run, name="discovery-audit", daemon=True)
        self._thread.start()

    def submit(
        self, *, actor: str, action: str, subject: str, details: dict[str, Any]
    ) -> Future[None]:
        """Queue one entry (``catalog_api.audit.record`` arguments); done when committed."""
        fut: Future[None] = Future()
        self._queue.put(_Entry(audit.Event(actor, action, subject, details), fut))
        return fut

    def _append(self, events: list[audit.Event]) -> None:
        """Append ``events`` in one transaction on the writer's own connection, kept open
        between groups: checking one out of the pool and back in (with its reset) for every
        group cost about as much CPU as the group's statements."""
        if self._conn is None:
            self._conn = self._sessionmaker.kw["bind"].connect()
        with self._conn.begin():  # a Core transaction: no ORM session per group
            audit.record_many(self._conn, events)

    def _discard_connection(self) -> None:
        """Drop the writer's connection after a failure (a new one is opened for the next
        group), so that a broken connection is never reused."""
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.invalidate()
            with contextlib.suppress(Exception):
                conn.close()

    @staticmethod
    def wait(fut: Future[None], timeout: float | None = None) -> None:
        """Block until ``fut``'s entry is committed; :class:`AuditFailedError` otherwise."""
        try:
            fut.result(timeout=AUDIT_TIMEOUT if timeout is None else timeout)
        except Exception as exc:
            raise AuditFailedError(_failed(exc)) from exc

    @staticmethod
    async def wait_async(fut: Future[None], timeout: float | None = None) -> None:
        """:meth:`wait` for async code: the event loop keeps serving meanwhile."""
        try:
            # shielded: a timed-out or disconnected request must not cancel the entry
            await asyncio.wait_for(
                asyncio.shield(asyncio.wrap_future(fut)),
                AUDIT_TIMEOUT if timeout is None else timeout,
            )
        except Exception as exc:
            raise AuditFailedError(_failed(exc)) from exc

    def flush(self, timeout: float = 10.0) -> None:
        """Wait (up to ``timeout`` s) until every queued entry is committed."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.005)

    def _run(self) -> None:
        while True:
            items = [self._queue.get()]
            while len(items) < self._batch:
                try:
                    items.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            error: Exception | None = None
            for attempt in (1, 2):
                try:
                    self._append([e.event for e in items])
                    self.commits += 1
                    error = None
                    break
                except Exception as exc:  # never lose the thread; the requests answer 503
                    error = exc
                    self._discard_connection()
                    # a connection lost while idle (database restarted, connection killed)
                    # is replaced once (had it been cut during the commit itself, the
                    # entries may be appended twice: the trail may hold a query twice, but
                    # never miss one)
                    lost = isinstance(exc, DBAPIError) and exc.connection_invalidated
                    if not lost or attempt == 2:
                        log.exception("discovery audit entries could not be written: %s", items)
                        break
            for e in items:
                if not e.done.cancelled():
                    if error is None:
                        e.done.set_result(None)
                    else:
                        e.done.set_exception(error)
                self._queue.task_done()


@dataclass
class _Entry:
    event: audit.Event
    done: Future[None]


def _failed(exc: BaseException) -> str:
    why = "timed out" if isinstance(exc, TimeoutError) else f"{type(exc).__name__}: {exc}"
    return f"the query could not be audited ({why}), so it is not answered; retry in a moment"
