"""The append-only, keyed, hash-chained and anchored audit trail.

Every query, request event, decision, export and download is one :class:`AuditEntry`.
Entry ``n`` stores the digest of entry ``n-1`` (``prev_digest``) and its own ``digest``:
HMAC-SHA256, under the audit key, of the canonical JSON of its sequence number, time,
actor, action, subject, details and ``prev_digest``. The key is one of the hub's secrets
(``ONCOLAKE_AUDIT_KEY``, or ``$HOME/secrets.json``), never stored in the database, so
someone who can write the database (drop the append-only triggers, edit an entry) cannot
recompute the digests that follow. Entries written before the chain was keyed (sequence
numbers up to ``audit_head.keyed_from``, set by migration 0003) keep their plain SHA-256
digests and still verify.

The head is anchored outside the database: :func:`write_anchor` writes ``(seq, digest,
keyed_from)`` with an HMAC under the same key as one file per anchor in the anchor folder
(``$HOME/audit-anchors``), which the server does every minute when the head moved
(:func:`anchoring`) and ``oncolake audit anchor`` / ``verify`` do on demand. Anchors catch
what a key alone cannot: a deleted tail (the head edited to match), or a keyed boundary
moved to make keyed entries look like plain ones.

A one-row chain head (``audit_head``) holds the last sequence number and digest;
:func:`record` locks it (``UPDATE … RETURNING``) so that concurrent writers on PostgreSQL or
SQLite append one after the other, in the caller's transaction — an event and its audit
entry commit together or not at all.

:func:`verify` re-walks the chain: an edited entry no longer matches its digest, a deleted
entry leaves a gap in the sequence and a broken link, a deleted tail disagrees with the
head or with an anchor. The database also refuses UPDATE and DELETE on ``audit_entries``
(triggers created by the migration). What this does and does not guarantee:
docs/governance.md, "Audit".
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
import json
import logging
import os
import weakref
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import orjson
from sqlalchemy import Connection, Engine, Select, Table, bindparam, insert, select, update
from sqlalchemy.orm import Session

from catalog_api.db import utcnow
from catalog_api.models import AuditEntry, AuditHead, User

_log = logging.getLogger(__name__)
GENESIS = "0" * 64
#: Folder (under the home) that holds the anchors of the chain head, one file each.
ANCHOR_DIR = "audit-anchors"
#: Seconds between the server's anchors of a moved head.
ANCHOR_SECONDS = 60.0


class AuditKeyError(ValueError):
    """The audit log cannot be written or verified: no audit key is configured."""


@dataclass(frozen=True)
class AuditSettings:
    """The audit key and the anchor folder of one application database."""

    key: bytes
    anchors: Path | None = None


_SETTINGS: weakref.WeakKeyDictionary[Engine, AuditSettings] = weakref.WeakKeyDictionary()


def configure(engine: Engine, *, key: bytes, anchors: Path | None) -> None:
    """Use ``key`` (the hub's audit secret) and the anchor folder ``anchors`` for every audit
    entry written or verified through ``engine``. The app factory and the command line call
    this for the engines they make; an engine without it refuses to append (fail closed)."""
    if len(key) < 16:
        raise AuditKeyError("the audit key is shorter than 16 bytes; set ONCOLAKE_AUDIT_KEY")
    _SETTINGS[engine] = AuditSettings(bytes(key), anchors)


def key_from_secret(secret_key: bytes) -> bytes:
    """An audit key derived from another secret (for configurations built without one)."""
    return hmac.new(secret_key, b"oncolake audit chain key v1", hashlib.sha256).digest()


def _settings(bind: Session | Connection) -> AuditSettings:
    target = bind.get_bind() if isinstance(bind, Session) else bind
    engine = getattr(target, "engine", target)
    found = _SETTINGS.get(engine) if isinstance(engine, Engine) else None
    if found is None:
        raise AuditKeyError(
            "no audit key is configured for this database (catalog_api.audit.configure); "
            "the audit log is neither written nor verified without it"
        )
    return found


def entry_digest(
    *,
    seq: int,
    at: str,
    actor: str,
    action: str,
    subject: str,
    details_json: str,
    prev: str,
    key: bytes | None = None,
) -> str:
    """The digest an entry must carry: HMAC-SHA256 under ``key`` of its canonical JSON
    (previous digest included), or its plain SHA-256 for entries written before the chain
    was keyed (``key`` None)."""
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
    canonical = orjson.dumps(body, option=orjson.OPT_SORT_KEYS)
    if key is None:
        return hashlib.sha256(canonical).hexdigest()
    return hmac.new(key, canonical, hashlib.sha256).hexdigest()


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
    key = _settings(session).key
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
            key=key,
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
    #: Entries up to this sequence number predate the keyed chain (plain SHA-256).
    keyed_from: int = 0
    #: Anchors read and checked, and the sequence number of the newest.
    anchors: int = 0
    anchored_seq: int = 0

    @property
    def ok(self) -> bool:
        """True if the whole chain is intact."""
        return not self.problems


@dataclass(frozen=True)
class Anchor:
    """One anchor of the chain head, as read from its file."""

    seq: int
    digest: str
    keyed_from: int
    written_at: str
    mac: str
    path: Path


def _anchor_mac(key: bytes, seq: int, digest: str, keyed_from: int) -> str:
    body = orjson.dumps(
        {"anchor": "oncolake-audit-v1", "seq": seq, "digest": digest, "keyed_from": keyed_from},
        option=orjson.OPT_SORT_KEYS,
    )
    return hmac.new(key, body, hashlib.sha256).hexdigest()


def _head(session: Session) -> AuditHead | None:
    return session.get(AuditHead, 1, populate_existing=True)


def write_anchor(session: Session) -> Path | None:
    """Anchor the committed chain head: one file ``<seq>-<digest16>.json`` in the anchor
    folder, created exclusively (an anchor is never rewritten); the path, or None when no
    anchor folder is configured or this head is anchored already."""
    conf = _settings(session)
    head = _head(session)
    if conf.anchors is None or head is None:
        return None
    path = conf.anchors / f"{head.seq:012d}-{head.digest[:16]}.json"
    if path.exists():
        return None
    conf.anchors.mkdir(parents=True, exist_ok=True)
    doc = {
        "seq": head.seq,
        "digest": head.digest,
        "keyed_from": head.keyed_from,
        "written_at": utcnow().isoformat(timespec="seconds"),
        "mac": _anchor_mac(conf.key, head.seq, head.digest, head.keyed_from),
    }
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(doc, sort_keys=True) + "\n")
    os.chmod(tmp, 0o444)
    try:
        os.link(tmp, path)  # exclusive: a replica that anchored the same head first wins
    except FileExistsError:
        return None
    finally:
        tmp.unlink()
    return path


def read_anchors(folder: Path) -> tuple[list[Anchor], list[str]]:
    """The anchors in ``folder`` by sequence number, and a problem per unreadable file."""
    out: list[Anchor] = []
    problems: list[str] = []
    if not folder.is_dir():
        return out, problems
    for p in sorted(folder.glob("*.json")):
        try:
            d = json.loads(p.read_text())
            out.append(
                Anchor(
                    int(d["seq"]),
                    str(d["digest"]),
                    int(d["keyed_from"]),
                    str(d.get("written_at", "")),
                    str(d["mac"]),
                    p,
                )
            )
        except (OSError, ValueError, KeyError, TypeError) as exc:
            problems.append(f"anchor {p}: unreadable ({exc}); it was altered")
    out.sort(key=lambda a: a.seq)
    return out, problems


def _check_anchors(
    session: Session, report: VerifyReport, conf: AuditSettings, head: AuditHead | None
) -> None:
    if conf.anchors is None:
        return
    anchors, problems = read_anchors(conf.anchors)
    report.problems += problems
    last = head.seq if head is not None else 0
    for a in anchors:
        report.anchors += 1
        if not hmac.compare_digest(a.mac, _anchor_mac(conf.key, a.seq, a.digest, a.keyed_from)):
            report.problems.append(
                f"anchor {a.path.name}: its MAC does not verify under the audit key; the "
                "anchor was forged or altered (or the key is not the one that wrote it)"
            )
            continue
        report.anchored_seq = max(report.anchored_seq, a.seq)
        if a.keyed_from != report.keyed_from:
            report.problems.append(
                f"the database says entries up to {report.keyed_from} predate the keyed chain, "
                f"the anchor of entry {a.seq} ({a.written_at}) says {a.keyed_from}: the "
                "boundary was moved to pass re-chained entries off as unkeyed"
            )
        if a.seq == 0:
            continue
        if a.seq > last:
            report.problems.append(
                f"the anchor of entry {a.seq} ({a.written_at}) is past the end of the log "
                f"(entry {last}): entries at the end were deleted"
            )
            continue
        entry = session.get(AuditEntry, a.seq)
        if entry is None or entry.digest != a.digest:
            report.problems.append(
                f"entry {a.seq} differs from its anchor written at {a.written_at}: the log "
                "was rewritten (re-chained) up to there"
            )


def verify(session: Session, *, max_problems: int = 100) -> VerifyReport:
    """Re-walk the whole chain and the anchors; report every edited, inserted or deleted
    entry, every re-chained stretch and every altered anchor."""
    conf = _settings(session)
    report = VerifyReport()
    head = _head(session)
    report.keyed_from = head.keyed_from if head is not None else 0
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
            key=conf.key if e.seq > report.keyed_from else None,
        )
        if not hmac.compare_digest(want, e.digest):
            report.problems.append(
                f"entry {e.seq} ({e.action} on {e.subject}): its content does not match its "
                "digest; it was edited"
            )
        expected_seq, prev = e.seq + 1, e.digest
        if len(report.problems) >= max_problems:
            return report
    if head is None:
        report.problems.append("the audit chain head is missing; the database was altered")
    elif head.seq != expected_seq - 1 or head.digest != prev:
        report.problems.append(
            f"the chain head records {head.seq} entries but the log ends at entry "
            f"{expected_seq - 1}: entries at the end were deleted or the head was edited"
        )
    _check_anchors(session, report, conf, head)
    return report


def anchor_now(sessionmaker: Any) -> Path | None:
    """Anchor the committed head in a session of its own (for the server's loop)."""
    with sessionmaker() as session:
        return write_anchor(session)


@asynccontextmanager
async def anchoring(sessionmaker: Any, every: float = ANCHOR_SECONDS) -> AsyncIterator[None]:
    """While the server runs, anchor the chain head every ``every`` seconds if it moved
    (and once at shutdown). A failed anchor is retried at the next tick, never fatal."""

    async def loop() -> None:
        while True:
            await asyncio.sleep(every)
            try:
                await asyncio.to_thread(anchor_now, sessionmaker)
            except Exception as exc:  # a full disk must not stop the service: logged, retried
                _log.warning("audit: cannot anchor the chain head (%s); retrying", exc)

    task = asyncio.create_task(loop())
    try:
        yield
    finally:
        task.cancel()
        try:
            await asyncio.to_thread(anchor_now, sessionmaker)
        except Exception as exc:  # shutting down: logged; the next start anchors
            _log.warning("audit: cannot anchor the chain head at shutdown (%s)", exc)


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
