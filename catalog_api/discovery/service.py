"""Wiring of the discovery engine into the app: one engine per lake, one control per app.

The engine (index + background refresh) is shared by every app serving the same
:class:`~harmonise.lake.Lake` object; the disclosure control (per-user budgets and
recent answers) belongs to the app, configured from its :class:`ApiConfig`.
"""

from __future__ import annotations

import hashlib
import threading
import time
import weakref
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from sqlalchemy.orm import Session

from catalog_api import audit
from catalog_api.core.config import ApiConfig
from catalog_api.discovery.definition import CohortDefinition, describe_errors
from catalog_api.discovery.disclosure import DisclosureControl
from catalog_api.discovery.engine import DiscoveryEngine, disclose
from catalog_api.discovery.errors import DiscoveryError, IndexNotReadyError
from catalog_api.models import User
from consent.purpose import ResearchPurpose
from consent.tags import canonical_json
from harmonise.lake import Lake

_ENGINES: weakref.WeakKeyDictionary[Lake, DiscoveryEngine] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()
#: How long a request waits for the first index build before answering 503.
FIRST_BUILD_WAIT = 60.0


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
) -> None:
    if writer is not None:
        writer.submit(
            actor=user.username, action=action, subject=f"lake:{version}", details=details
        )
        return
    audit.record(session, actor=user, action=action, subject=f"lake:{version}", details=details)
    session.commit()


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
    """Count ``definition`` for ``purpose`` as ``user``: the disclosed answer.

    The one path of every count shown to a user (API and web pages): the query is charged
    to the user's budget and checked for differencing (a :class:`DiscoveryError` refuses
    it), and answered or refused, it is audited: committed at once, or queued to
    ``audit_writer`` (batched commits; the API's count endpoints use it).
    """
    query = {
        "definition": definition.model_dump(mode="json", exclude_none=True),
        "purpose": purpose.model_dump(mode="json", exclude_defaults=True),
    }
    digest = hashlib.sha256(canonical_json(query)).hexdigest()
    try:
        result = engine.count(definition, purpose)
        control.check(user.username, digest, result.permitted)
    except DiscoveryError as exc:
        _audit(
            session,
            user,
            "discovery.count_refused",
            engine.index.version_id,
            {**query, "status": exc.status_code, "reason": str(exc)},
            audit_writer,
        )
        raise
    answer = disclose(result, control)
    _audit(
        session,
        user,
        "discovery.count",
        result.version_id,
        {**query, "digest": digest, "answer": answer},
        audit_writer,
    )
    return answer


def error_response(exc: DiscoveryError) -> JSONResponse:
    """A discovery error as its HTTP answer (``detail`` is the message)."""
    headers = {"Retry-After": "5"} if isinstance(exc, IndexNotReadyError) else None
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
]


class AuditWriter:
    """Writes discovery audit entries from a queue in one background thread, committing in
    batches: every count query is audited without one database commit per request (a
    commit costs an fsync; batching keeps the count endpoint's throughput near that of a
    trivial endpoint). :meth:`flush` waits until everything queued is committed."""

    def __init__(self, sessionmaker: Any, batch: int = 1000, linger: float = 0.25) -> None:
        import queue

        self._sessionmaker = sessionmaker
        self._batch = batch
        self._linger = linger
        self._queue: queue.Queue[tuple[str, str, str, dict[str, Any]]] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="discovery-audit", daemon=True)
        self._thread.start()

    def submit(self, *, actor: str, action: str, subject: str, details: dict[str, Any]) -> None:
        """Queue one entry (``catalog_api.audit.record`` arguments)."""
        self._queue.put((actor, action, subject, details))

    def flush(self, timeout: float = 10.0) -> None:
        """Wait (up to ``timeout`` s) until every queued entry is committed."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.005)

    def _run(self) -> None:
        import logging
        import queue

        from catalog_api import audit

        log = logging.getLogger(__name__)
        while True:
            items = [self._queue.get()]
            # linger: collect a batch, so that this writer's commits are rare and seldom
            # wait on (or make wait) the request threads' own database writes
            time.sleep(self._linger)
            while len(items) < self._batch:
                try:
                    items.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            try:
                with self._sessionmaker() as session:
                    for actor, action, subject, details in items:
                        audit.record(
                            session, actor=actor, action=action, subject=subject, details=details
                        )
                    session.commit()
            except Exception:  # never lose the thread; the entries are logged instead
                log.exception("discovery audit entries could not be written: %s", items)
            finally:
                for _ in items:
                    self._queue.task_done()


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
