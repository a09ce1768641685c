"""The append-only, hash-chained audit trail.

Every query, request event, decision, export and download is one :class:`AuditEntry`.
Entry ``n`` stores the digest of entry ``n-1`` (``prev_digest``) and its own ``digest``:
SHA-256 over the canonical JSON of its sequence number, time, actor, action, subject,
details and ``prev_digest``. A one-row chain head (``audit_head``) holds the last sequence
number and digest; :func:`record` locks it (``UPDATE … RETURNING``) so that concurrent
writers on PostgreSQL or SQLite append one after the other, in the caller's transaction —
an event and its audit entry commit together or not at all.

:func:`verify` re-walks the chain: an edited entry no longer matches its digest, a deleted
entry leaves a gap in the sequence and a broken link, a deleted tail disagrees with the
head. The database also refuses UPDATE and DELETE on ``audit_entries`` (triggers created by
the migration), so tampering needs someone who can drop triggers — and is then detected.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import orjson
from sqlalchemy import Connection, Select, Table, bindparam, insert, select, update
from sqlalchemy.orm import Session

from catalog_api.db import utcnow
from catalog_api.models import AuditEntry, AuditHead, User

GENESIS = "0" * 64


def entry_digest(
    *, seq: int, at: str, actor: str, action: str, subject: str, details_json: str, prev: str
) -> str:
    """The digest an entry must carry (SHA-256 of its canonical JSON, previous digest included)."""
    body = {
        "seq": seq,
        "at": at,
        "actor": actor,
        "action": action,
        "subject": subject,
        "details": details_json,
        "prev": prev,
    }
    # orjson: byte for byte ``canonical_json`` for these str/int values (a property test
    # checks it, so chains written before verify), and the details string is long
    return hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()


def _actor_name(actor: User | str | None) -> str:
    if actor is None:
        return "system"
    if isinstance(actor, User):
        return actor.username
    return actor


def _details_json(details: Mapping[str, Any] | None) -> str:
    """An entry's details as JSON, keys sorted. orjson rather than ``json``: a count query's
    answer has a cell per centre, and this runs for every query; it also takes a part
    already serialised (``orjson.Fragment``), so an answer is stored as the bytes sent."""
    options = orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS
    return orjson.dumps(dict(details or {}), option=options).decode()


_HEAD = cast(Table, AuditHead.__table__)
# The statements of an append, built once: constructing them on every call (and their cache
# keys from scratch) cost more than executing them, and this runs for every count query.
#: Lock the head and reserve ``n`` sequence numbers: the new last number and the old digest.
_RESERVE = (
    update(_HEAD)
    .where(_HEAD.c.id == 1)
    .values(seq=_HEAD.c.seq + bindparam("n"))
    .returning(_HEAD.c.seq, _HEAD.c.digest)
)
_INSERT = insert(cast(Table, AuditEntry.__table__))
_ADVANCE = update(_HEAD).where(_HEAD.c.id == 1).values(digest=bindparam("new_digest"))


@dataclass(frozen=True)
class Event:
    """One entry to append (the arguments of :func:`record`)."""

    actor: User | str | None
    action: str
    subject: str
    details: Mapping[str, Any] | None = None
    at: dt.datetime | None = None


def record(
    session: Session,
    *,
    actor: User | str | None,
    action: str,
    subject: str,
    details: Mapping[str, Any] | None = None,
    at: dt.datetime | None = None,
) -> int:
    """Append one entry in ``session``'s transaction (the caller commits); its sequence number.

    ``actor`` is a user, a name (``"system"`` for jobs) or ``None``; ``action`` is a dotted
    verb such as ``access_request.submitted``; ``subject`` names the object, e.g.
    ``access_request:12``; ``details`` must be JSON-serialisable.
    """
    return record_many(session, [Event(actor, action, subject, details, at)])[0]


def record_many(session: Session | Connection, events: Sequence[Event]) -> list[int]:
    """Append ``events`` in order, in ``session``'s transaction (the caller commits); their
    sequence numbers. ``session`` may be a Core connection in a transaction.

    The chain head is locked and advanced once for the whole group (one ``UPDATE …
    RETURNING`` reserving ``len(events)`` sequence numbers, one head update at the end)
    and the entries are inserted together: the discovery audit writer's group commit
    costs three statements, not three per entry. The chain is the same as appending the
    events one by one. Core statements, not the ORM unit of work: this runs for every count
    query, and the ORM's flush machinery cost more than the statements themselves.
    """
    if not events:
        return []
    details_json = [_details_json(e.details) for e in events]
    head = session.execute(_RESERVE, {"n": len(events)}).one()
    seq, prev = int(head[0]) - len(events), str(head[1])
    rows: list[dict[str, Any]] = []
    for event, dj in zip(events, details_json, strict=True):
        seq += 1
        when = (event.at or utcnow()).astimezone(dt.UTC).isoformat(timespec="microseconds")
        name = _actor_name(event.actor)
        digest = entry_digest(
            seq=seq,
            at=when,
            actor=name,
            action=event.action,
            subject=event.subject,
            details_json=dj,
            prev=prev,
        )
        rows.append(
            {
                "seq": seq,
                "at": when,
                "actor": name,
                "action": event.action,
                "subject": event.subject,
                "details_json": dj,
                "prev_digest": prev,
                "digest": digest,
            }
        )
        prev = digest
    session.execute(_INSERT, rows)
    session.execute(_ADVANCE, {"new_digest": prev})
    return [r["seq"] for r in rows]


@dataclass
class VerifyReport:
    """Outcome of :func:`verify`: entries checked and every problem found (by sequence)."""

    entries: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True if the whole chain is intact."""
        return not self.problems


def verify(session: Session, *, max_problems: int = 100) -> VerifyReport:
    """Re-walk the whole chain and report every edited, inserted or deleted entry."""
    report = VerifyReport()
    expected_seq, prev = 1, GENESIS
    rows = session.execute(select(AuditEntry).order_by(AuditEntry.seq)).scalars()
    for e in rows.yield_per(1000):
        report.entries += 1
        if e.seq != expected_seq:
            report.problems.append(
                f"entries {expected_seq}–{e.seq - 1} are missing (deleted): the sequence "
                f"jumps from {expected_seq - 1} to {e.seq}"
            )
        if e.prev_digest != prev:
            report.problems.append(
                f"entry {e.seq}: its previous digest does not match entry {e.seq - 1}; an "
                "entry before it was edited or deleted"
            )
        want = entry_digest(
            seq=e.seq,
            at=e.at,
            actor=e.actor,
            action=e.action,
            subject=e.subject,
            details_json=e.details_json,
            prev=e.prev_digest,
        )
        if want != e.digest:
            report.problems.append(
                f"entry {e.seq} ({e.action} on {e.subject}): its content does not match its "
                "digest; it was edited"
            )
        expected_seq, prev = e.seq + 1, e.digest
        if len(report.problems) >= max_problems:
            return report
    head = session.get(AuditHead, 1)
    if head is None:
        report.problems.append("the audit chain head is missing; the database was altered")
    elif head.seq != expected_seq - 1 or head.digest != prev:
        report.problems.append(
            f"the chain head records {head.seq} entries but the log ends at entry "
            f"{expected_seq - 1}: entries at the end were deleted or the head was edited"
        )
    return report


def query(
    *,
    subjects: Sequence[str] | None = None,
    actor: str | None = None,
    action: str | None = None,
    after_seq: int = 0,
    limit: int = 100,
) -> Select[tuple[AuditEntry]]:
    """A query over the log, oldest first, filtered by subjects, actor, action prefix."""
    stmt = select(AuditEntry).where(AuditEntry.seq > after_seq)
    if subjects is not None:
        stmt = stmt.where(AuditEntry.subject.in_(list(subjects)))
    if actor:
        stmt = stmt.where(AuditEntry.actor == actor)
    if action:
        stmt = stmt.where(AuditEntry.action.startswith(action, autoescape=True))
    return stmt.order_by(AuditEntry.seq).limit(limit)
