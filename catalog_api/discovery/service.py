"""The count service: the one path of every count shown to a user (API and web pages).

A query is counted by the engine, charged to the user's budget and checked for
differencing by the disclosure control, disclosed, and audited; the answer is sent only
once its audit entry is committed (:class:`PendingCount`).
"""

from __future__ import annotations

import hashlib
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy.orm import Session

from catalog_api import audit
from catalog_api.discovery.audit_writer import AuditWriter
from catalog_api.discovery.definition import CohortDefinition
from catalog_api.discovery.disclosure import DisclosureControl, disclose
from catalog_api.discovery.engine import DiscoveryEngine
from catalog_api.discovery.errors import DiscoveryError
from catalog_api.models import User
from consent.purpose import ResearchPurpose
from consent.tags import canonical_json


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
        control.check_result(user.username, digest, result)
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
