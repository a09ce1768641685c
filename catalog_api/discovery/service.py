"""Wiring of the discovery engine into the app: one engine per lake, one control per app.

The engine (index + background refresh) is shared by every app serving the same
:class:`~harmonise.lake.Lake` object; the disclosure control (per-user budgets and
recent answers) belongs to the app, configured from its :class:`ApiConfig`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import queue
import threading
import time
import weakref
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

import orjson
from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from catalog_api import audit
from catalog_api.core.config import ApiConfig
from catalog_api.discovery.definition import CohortDefinition, describe_errors
from catalog_api.discovery.disclosure import DisclosureControl
from catalog_api.discovery.engine import DiscoveryEngine, disclose
from catalog_api.discovery.errors import AuditFailedError, DiscoveryError, IndexNotReadyError
from catalog_api.models import User
from consent.purpose import ResearchPurpose
from consent.tags import canonical_json
from harmonise.lake import Lake

log = logging.getLogger(__name__)
_ENGINES: weakref.WeakKeyDictionary[Lake, DiscoveryEngine] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()
#: How long a request waits for the first index build before answering 503.
FIRST_BUILD_WAIT = 60.0
#: How long a count waits for its audit entry to be committed before answering 503.
AUDIT_TIMEOUT = 30.0


def engine_for(lake: Lake) -> DiscoveryEngine:
    """The (started) discovery engine of ``lake``."""
    with _LOCK:
        eng = _ENGINES.get(lake)
        if eng is None:
            eng = _ENGINES[lake] = DiscoveryEngine(lake)
            eng.start()
        return eng


def ready_engine(request: Request) -> DiscoveryEngine:
    """The app's engine, waiting (up to :data:`FIRST_BUILD_WAIT` s) for its first index."""
    eng = engine_for(request.app.state.lake)
    deadline = time.monotonic() + FIRST_BUILD_WAIT
    while eng.indexer.index.version is None:
        if eng.indexer.last_error or time.monotonic() > deadline:
            _ = eng.index  # raises IndexNotReadyError with the reason
        time.sleep(0.05)
    return eng


def control_for(request: Request) -> DisclosureControl:
    """The app's disclosure control (created from its config on first use)."""
    state = request.app.state
    ctl: DisclosureControl | None = getattr(state, "disclosure_control", None)
    if ctl is None:
        with _LOCK:
            ctl = getattr(state, "disclosure_control", None)
            if ctl is None:
                cfg: ApiConfig = state.config
                ctl = DisclosureControl(
                    threshold=cfg.disclosure_threshold,
                    rounding=cfg.disclosure_rounding,
                    budget=cfg.query_budget,
                    window_seconds=cfg.query_window_seconds,
                )
                state.disclosure_control = ctl
    return ctl


def _audit(
    session: Session,
    user: User,
    action: str,
    version: str,
    details: dict[str, Any],
    writer: AuditWriter | None = None,
) -> Future[None] | None:
    """Write one count's audit entry: committed now (no ``writer``), or queued to ``writer``
    (the returned future is done once it is committed)."""
    if writer is not None:
        return writer.submit(
            actor=user.username, action=action, subject=f"lake:{version}", details=details
        )
    audit.record(session, actor=user, action=action, subject=f"lake:{version}", details=details)
    session.commit()
    return None


@dataclass
class PendingCount:
    """A count query answered (``answer``, and ``body``: its JSON as sent and audited) or
    refused (``error``) whose audit entry may not be committed yet (``audited``);
    :meth:`result` / :meth:`body_async` wait for it."""

    answer: dict[str, Any] | None
    body: bytes | None
    error: DiscoveryError | None
    audited: Future[None] | None

    def _outcome(self) -> dict[str, Any]:
        if self.error is not None:
            raise self.error
        assert self.answer is not None
        return self.answer

    def result(self, timeout: float | None = None) -> dict[str, Any]:
        """The answer once audited (blocking), or the refusal; :class:`AuditFailedError`
        if the audit entry could not be committed."""
        if self.audited is not None:
            AuditWriter.wait(self.audited, timeout)
        return self._outcome()

    async def body_async(self, timeout: float | None = None) -> bytes:
        """The answer's JSON once audited, without blocking the event loop; or the
        refusal (raised), or :class:`AuditFailedError`."""
        if self.audited is not None:
            await AuditWriter.wait_async(self.audited, timeout)
        self._outcome()
        assert self.body is not None
        return self.body


def start_count_query(
    session: Session,
    *,
    user: User,
    engine: DiscoveryEngine,
    control: DisclosureControl,
    definition: CohortDefinition,
    purpose: ResearchPurpose,
    audit_writer: AuditWriter | None = None,
) -> PendingCount:
    """Count ``definition`` for ``purpose`` as ``user`` and audit it; the pending answer.

    The one path of every count shown to a user (API and web pages): the query is charged
    to the user's budget and checked for differencing (a :class:`DiscoveryError` refuses
    it), and answered or refused, it is audited: committed at once, or queued to
    ``audit_writer`` (group commit); either way the answer must only be sent once the
    :class:`PendingCount` says its entry is committed.
    """
    query = {
        "definition": definition.model_dump(mode="json", exclude_none=True),
        "purpose": purpose.model_dump(mode="json", exclude_defaults=True),
    }
    digest = hashlib.sha256(canonical_json(query)).hexdigest()
    try:
        result = engine.count(definition, purpose)
        control.check(user.username, digest, result.permitted, result.version_id)
    except DiscoveryError as exc:
        fut = _audit(
            session,
            user,
            "discovery.count_refused",
            engine.index.version_id,
            {**query, "status": exc.status_code, "reason": str(exc)},
            audit_writer,
        )
        return PendingCount(None, None, exc, fut)
    answer = disclose(result, control)
    # serialised once, by orjson: the bytes sent are the bytes audited (a by-centre
    # breakdown has a cell per centre, thousands; json.dumps of it, twice, cost more than
    # the count itself)
    body = orjson.dumps(answer)
    fut = _audit(
        session,
        user,
        "discovery.count",
        result.version_id,
        {**query, "digest": digest, "answer": orjson.Fragment(body)},
        audit_writer,
    )
    return PendingCount(answer, body, None, fut)


def count_query(
    session: Session,
    *,
    user: User,
    engine: DiscoveryEngine,
    control: DisclosureControl,
    definition: CohortDefinition,
    purpose: ResearchPurpose,
    audit_writer: AuditWriter | None = None,
) -> dict[str, Any]:
    """The disclosed answer of :func:`start_count_query`, returned only once its audit entry
    is committed (blocking; async routes use ``start_count_query`` and ``body_async``)."""
    return start_count_query(
        session,
        user=user,
        engine=engine,
        control=control,
        definition=definition,
        purpose=purpose,
        audit_writer=audit_writer,
    ).result()


def error_response(exc: DiscoveryError) -> JSONResponse:
    """A discovery error as its HTTP answer (``detail`` is the message)."""
    retry = isinstance(exc, IndexNotReadyError | AuditFailedError)
    headers = {"Retry-After": "5"} if retry else None
    return JSONResponse({"detail": str(exc)}, status_code=exc.status_code, headers=headers)


class DiscoveryRoute(APIRoute):
    """Routes whose invalid request bodies are a 400 naming every problem (not a 422), and
    whose :class:`DiscoveryError` s become their 4xx answers."""

    def get_route_handler(self) -> Any:
        """Wrap FastAPI's handler with the error translation."""
        original = super().get_route_handler()

        async def handler(request: Request) -> Any:
            try:
                return await original(request)
            except RequestValidationError as exc:
                return JSONResponse({"detail": _validation_detail(exc)}, status_code=400)
            except DiscoveryError as exc:
                return error_response(exc)

        return handler


def _validation_detail(exc: RequestValidationError) -> str:
    problems = []
    for e in exc.errors():
        loc = [str(p) for p in e.get("loc", ()) if p != "body"]
        from catalog_api.discovery.definition import CRITERION_TYPES

        loc = [p for p in loc if p not in CRITERION_TYPES]
        path = ".".join(loc) or "body"
        msg = str(e.get("msg", "")).removeprefix("Value error, ")
        if e.get("type") == "extra_forbidden":
            msg = f"unknown field {loc[-1] if loc else ''!r}; remove it or fix its spelling"
        elif e.get("type") == "union_tag_invalid":
            given = e.get("input", {}).get("type") if isinstance(e.get("input"), dict) else None
            msg = f"unknown criterion type {given!r}; known: {', '.join(CRITERION_TYPES)}"
        elif e.get("type") == "json_invalid":
            msg = "the body is not valid JSON"
        problems.append(f"{path}: {msg}")
    return "; ".join(dict.fromkeys(problems)) or "invalid request"


__all__ = [
    "DiscoveryRoute",
    "control_for",
    "count_query",
    "describe_errors",
    "engine_for",
    "ready_engine",
    "start_count_query",
]


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


def audit_writer_for(app: Any) -> AuditWriter:
    """The app's discovery audit writer (created on first use)."""
    state = app.state
    writer: AuditWriter | None = getattr(state, "discovery_audit", None)
    if writer is None:
        with _LOCK:
            writer = getattr(state, "discovery_audit", None)
            if writer is None:
                writer = AuditWriter(state.sessionmaker)
                state.discovery_audit = writer
    return writer
