"""The hash-chained audit log: appends, verification, tampering detected on both backends."""

from __future__ import annotations

import hashlib
import itertools

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from catalog_api import audit
from catalog_api.models import AuditEntry
from consent.tags import canonical_json
from tests.catalog_api.conftest import BACKENDS


def _fill(session: Session, n: int) -> None:
    for i in range(n):
        audit.record(
            session,
            actor="alice",
            action="cohort.counted",
            subject=f"cohort:{i}",
            details={"i": i, "centres": ["C1", "C2"]},
        )
    session.commit()


def _drop_guard(session: Session) -> None:
    """Remove the append-only triggers, as someone with DDL rights would."""
    if session.get_bind().dialect.name == "sqlite":
        session.execute(sa.text("DROP TRIGGER audit_entries_no_update"))
        session.execute(sa.text("DROP TRIGGER audit_entries_no_delete"))
    else:
        session.execute(sa.text("DROP TRIGGER audit_entries_no_change ON audit_entries"))


@pytest.mark.parametrize("backend", BACKENDS, indirect=True)
def test_chain_links_each_entry_to_the_previous(app: FastAPI) -> None:
    with app.state.sessionmaker() as s:
        _fill(s, 5)
        rows = s.execute(sa.select(AuditEntry).order_by(AuditEntry.seq)).scalars().all()
        assert [r.seq for r in rows] == [1, 2, 3, 4, 5]
        assert rows[0].prev_digest == audit.GENESIS
        assert all(b.prev_digest == a.digest for a, b in itertools.pairwise(rows))
        report = audit.verify(s)
        assert report.ok and report.entries == 5


@pytest.mark.parametrize("backend", BACKENDS, indirect=True)
def test_group_append_continues_the_chain(app: FastAPI) -> None:
    with app.state.sessionmaker() as s:
        _fill(s, 2)
        events = [audit.Event("bob", "discovery.count", f"q:{i}", {"i": i}) for i in range(3)]
        got = audit.record_many(s, events)
        s.commit()
        assert got == [3, 4, 5]
        _fill(s, 1)
        rows = s.execute(sa.select(AuditEntry).order_by(AuditEntry.seq)).scalars().all()
        assert [r.seq for r in rows] == [1, 2, 3, 4, 5, 6]
        assert [r.subject for r in rows[2:5]] == ["q:0", "q:1", "q:2"]
        assert all(b.prev_digest == a.digest for a, b in itertools.pairwise(rows))
        assert audit.verify(s).ok
        assert audit.record_many(s, []) == []


@pytest.mark.parametrize("backend", BACKENDS, indirect=True)
def test_database_refuses_update_and_delete(app: FastAPI) -> None:
    with app.state.sessionmaker() as s:
        _fill(s, 2)
        with pytest.raises(sa.exc.DBAPIError, match="append-only"):
            s.execute(sa.text("UPDATE audit_entries SET actor = 'mallory' WHERE seq = 1"))
        s.rollback()
        with pytest.raises(sa.exc.DBAPIError, match="append-only"):
            s.execute(sa.text("DELETE FROM audit_entries WHERE seq = 2"))


@pytest.mark.parametrize("backend", BACKENDS, indirect=True)
def test_edited_entry_is_detected(app: FastAPI) -> None:
    with app.state.sessionmaker() as s:
        _fill(s, 4)
        _drop_guard(s)
        s.execute(
            sa.text("UPDATE audit_entries SET details_json = :d WHERE seq = 2"), {"d": '{"i":99}'}
        )
        s.commit()
        report = audit.verify(s)
    assert not report.ok
    assert report.problems == [
        "entry 2 (cohort.counted on cohort:1): its content does not match its digest; it was edited"
    ]


@pytest.mark.parametrize("backend", BACKENDS, indirect=True)
def test_deleted_middle_and_tail_entries_are_detected(app: FastAPI) -> None:
    with app.state.sessionmaker() as s:
        _fill(s, 5)
        _drop_guard(s)
        s.execute(sa.text("DELETE FROM audit_entries WHERE seq IN (3, 5)"))
        s.commit()
        problems = audit.verify(s).problems
    assert any("entries 3–3 are missing" in p for p in problems)
    assert any("entry 4: its previous digest does not match" in p for p in problems)
    assert any(
        "the chain head records 5 entries but the log ends at entry 4" in p for p in problems
    )


def test_record_rolls_back_with_the_callers_transaction(app: FastAPI) -> None:
    with app.state.sessionmaker() as s:
        _fill(s, 1)
        audit.record(s, actor="bob", action="x", subject="y")
        s.rollback()
        audit.record(s, actor="bob", action="x", subject="z")
        s.commit()
        assert audit.verify(s).ok
        assert s.execute(sa.select(sa.func.count()).select_from(AuditEntry)).scalar() == 2


_TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)))


@settings(max_examples=300, deadline=None)
@given(
    seq=st.integers(1, 2**62),
    at=_TEXT,
    actor=_TEXT,
    action=_TEXT,
    subject=_TEXT,
    details=st.dictionaries(_TEXT, st.one_of(_TEXT, st.integers(-(2**62), 2**62)), max_size=5),
    prev=_TEXT,
)
def test_entry_digest_is_the_canonical_json_digest(
    seq: int, at: str, actor: str, action: str, subject: str, details: dict, prev: str
) -> None:
    # entries written before the digest moved to orjson must still verify: the digest is
    # SHA-256 of the canonical JSON (sorted keys, no spaces, UTF-8) of the entry
    details_json = canonical_json(details).decode()
    body = {
        "seq": seq, "at": at, "actor": actor, "action": action, "subject": subject,
        "details": details_json, "prev": prev,
    }  # fmt: skip
    want = hashlib.sha256(canonical_json(body)).hexdigest()
    got = audit.entry_digest(
        seq=seq, at=at, actor=actor, action=action, subject=subject,
        details_json=details_json, prev=prev,
    )  # fmt: skip
    assert got == want
