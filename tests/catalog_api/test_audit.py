"""The keyed, hash-chained, anchored audit log: appends, verification, tampering detected on
both backends, including a log re-chained by someone who dropped the append-only trigger."""

from __future__ import annotations

import hashlib
import itertools
import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from catalog_api import audit
from catalog_api.db import make_engine, make_sessionmaker, upgrade
from catalog_api.models import AuditEntry, AuditHead
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


# -- re-chaining (issue 19 item 5): the key and the anchors ---------------------------------


def _rechain(session: Session, key: bytes | None = None) -> None:
    """Recompute every digest from entry 1 with the project's own digest function (without
    the audit key unless given, as someone with only database rights would) and set the
    head to match: the attack that made the unkeyed chain say "intact"."""
    head = session.get(AuditHead, 1, populate_existing=True)
    assert head is not None
    rows = session.execute(sa.select(AuditEntry).order_by(AuditEntry.seq)).scalars().all()
    prev = audit.GENESIS
    for e in rows:
        digest = audit.entry_digest(
            seq=e.seq, at=e.at, actor=e.actor, action=e.action, subject=e.subject,
            details_json=e.details_json, prev=prev,
            key=key if e.seq > head.keyed_from else None,
        )  # fmt: skip
        session.execute(
            sa.text("UPDATE audit_entries SET prev_digest = :p, digest = :d WHERE seq = :s"),
            {"p": prev, "d": digest, "s": e.seq},
        )
        prev = digest
    session.execute(
        sa.text("UPDATE audit_head SET seq = :n, digest = :d WHERE id = 1"),
        {"n": len(rows), "d": prev},
    )
    session.commit()


def _edit(session: Session, seq: int, details: str) -> None:
    session.execute(
        sa.text("UPDATE audit_entries SET details_json = :d WHERE seq = :s"),
        {"d": details, "s": seq},
    )


@pytest.mark.parametrize("backend", BACKENDS, indirect=True)
def test_rechained_log_is_reported_tampered(app: FastAPI) -> None:
    with app.state.sessionmaker() as s:
        _fill(s, 4)
        _drop_guard(s)
        _edit(s, 2, '{"i":99}')
        _rechain(s)
        report = audit.verify(s)
    assert not report.ok
    # without the key the recomputed digests are plain SHA-256, not the keyed ones
    assert [p.split(" (")[0] for p in report.problems] == [f"entry {n}" for n in (1, 2, 3, 4)]
    assert all("does not match its digest" in p for p in report.problems)


def test_rechained_log_with_moved_boundary_is_caught_by_the_anchor(app: FastAPI) -> None:
    """Declaring every entry "written before the chain was keyed" would make plain digests
    acceptable again; the anchor, written outside the database, holds the boundary."""
    with app.state.sessionmaker() as s:
        _fill(s, 3)
        anchor = audit.write_anchor(s)
        assert anchor is not None and anchor.parent == app.state.config.home / audit.ANCHOR_DIR
        _fill(s, 2)
        _drop_guard(s)
        _edit(s, 2, '{"i":99}')
        s.execute(sa.text("UPDATE audit_head SET keyed_from = 5"))
        _rechain(s)
        problems = audit.verify(s).problems
    assert problems == [
        "the database says entries up to 5 predate the keyed chain, the anchor of entry 3 "
        f"({json.loads(anchor.read_text())['written_at']}) says 0: the boundary was moved to "
        "pass re-chained entries off as unkeyed",
        f"entry 3 differs from its anchor written at {json.loads(anchor.read_text())['written_at']}"
        ": the log was rewritten (re-chained) up to there",
    ]


@pytest.mark.parametrize("backend", BACKENDS, indirect=True)
def test_deleted_tail_with_matching_head_is_caught_by_the_anchor(app: FastAPI) -> None:
    with app.state.sessionmaker() as s:
        _fill(s, 5)
        assert audit.write_anchor(s) is not None
        assert audit.write_anchor(s) is None  # this head is anchored already
        third = s.get(AuditEntry, 3)
        assert third is not None
        _drop_guard(s)
        s.execute(sa.text("DELETE FROM audit_entries WHERE seq > 3"))
        s.execute(sa.text("UPDATE audit_head SET seq = 3, digest = :d"), {"d": third.digest})
        s.commit()
        problems = audit.verify(s).problems
    assert len(problems) == 1
    assert problems[0].startswith("the anchor of entry 5 (")
    assert problems[0].endswith(
        "is past the end of the log (entry 3): entries at the end were deleted"
    )


def test_forged_anchor_is_refused(app: FastAPI) -> None:
    with app.state.sessionmaker() as s:
        _fill(s, 2)
        path = audit.write_anchor(s)
        assert path is not None
        doc = json.loads(path.read_text())
        forged = path.with_name("000000000009-forged.json")
        forged.write_text(json.dumps({**doc, "seq": 9}))
        (path.parent / "000000000010-junk.json").write_text("not json")
        problems = audit.verify(s).problems
    assert any(
        p.startswith("anchor 000000000009-forged.json: its MAC does not verify") for p in problems
    )
    assert any("000000000010-junk.json: unreadable" in p for p in problems)
    assert len(problems) == 2


def test_attacker_with_the_key_and_the_anchors_can_still_rewrite(app: FastAPI) -> None:
    """The stated limit (docs/governance.md): with the key and write access to the anchors,
    a re-chained log verifies. This test keeps the documentation honest."""
    key = audit.key_from_secret(app.state.config.secret_key)
    with app.state.sessionmaker() as s:
        _fill(s, 3)
        path = audit.write_anchor(s)
        assert path is not None
        _drop_guard(s)
        _edit(s, 2, '{"i":99}')
        _rechain(s, key=key)
        path.chmod(0o644)
        path.unlink()
        audit.write_anchor(s)
        assert audit.verify(s).ok


def test_entries_written_before_the_keyed_chain_still_verify(tmp_path: Path) -> None:
    """Migration 0003: an existing unkeyed chain is kept (not re-keyed) and verifies; new
    entries are keyed; the boundary is the head at migration time."""
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    upgrade(engine, "0002")
    prev = audit.GENESIS
    with engine.begin() as conn:
        for seq in (1, 2):
            at = f"2026-11-0{seq}T00:00:00.000000+00:00"
            digest = audit.entry_digest(
                seq=seq, at=at, actor="alice", action="old", subject=f"s:{seq}",
                details_json="{}", prev=prev,
            )  # fmt: skip
            conn.execute(
                sa.text(
                    "INSERT INTO audit_entries (seq, at, actor, action, subject, details_json, "
                    "prev_digest, digest) VALUES (:seq, :at, 'alice', 'old', :sub, '{}', :p, :d)"
                ),
                {"seq": seq, "at": at, "sub": f"s:{seq}", "p": prev, "d": digest},
            )
            prev = digest
        conn.execute(sa.text("UPDATE audit_head SET seq = 2, digest = :d"), {"d": prev})
    upgrade(engine)
    with (
        pytest.raises(audit.AuditKeyError, match="no audit key is configured"),
        make_sessionmaker(engine)() as s,
    ):
        audit.record(s, actor="bob", action="new", subject="s:3")
    audit.configure(engine, key=b"k" * 32, anchors=tmp_path / "anchors")
    with make_sessionmaker(engine)() as s:
        audit.record(s, actor="bob", action="new", subject="s:3")
        s.commit()
        report = audit.verify(s)
        assert report.ok and report.entries == 3 and report.keyed_from == 2
        e3 = s.get(AuditEntry, 3)
        assert e3 is not None
        plain = audit.entry_digest(
            seq=3, at=e3.at, actor="bob", action="new", subject="s:3",
            details_json="{}", prev=prev,
        )  # fmt: skip
        assert e3.prev_digest == prev and e3.digest != plain
    engine.dispose()


def test_audit_verify_command_reports_a_rechained_log_as_tampered() -> None:
    from typer.testing import CliRunner

    from oncolake.api_config import api_config
    from oncolake.cli import app as cli

    runner = CliRunner()
    for name in ("alice", "bob", "carol"):
        assert runner.invoke(cli, ["users", "add", name, "-r", "researcher"]).exit_code == 0
    r = runner.invoke(cli, ["audit", "verify"])
    assert r.exit_code == 0, r.output
    assert "intact: 3 entries (keyed throughout); 0 anchor(s) checked" in r.output
    assert "anchored entry 3 in" in r.output
    assert runner.invoke(cli, ["users", "add", "dave", "-r", "researcher"]).exit_code == 0
    assert "the head is anchored already" not in runner.invoke(cli, ["audit", "anchor"]).output
    assert "the head is anchored already" in runner.invoke(cli, ["audit", "anchor"]).output
    engine = make_engine(api_config().database_url)
    with make_sessionmaker(engine)() as s:
        _drop_guard(s)
        s.execute(sa.text("UPDATE audit_entries SET actor = 'mallory' WHERE seq = 1"))
        _rechain(s)
    engine.dispose()
    r = runner.invoke(cli, ["audit", "verify"])
    assert r.exit_code == 1
    assert "tampered: entry 1 (user.created on user:1): its content does not match" in r.output
    assert "entry 3 differs from its anchor" in r.output


def test_server_anchors_the_head_it_leaves(app: FastAPI) -> None:
    from fastapi.testclient import TestClient

    folder = app.state.config.home / audit.ANCHOR_DIR
    with TestClient(app), app.state.sessionmaker() as s:
        _fill(s, 2)
    (path,) = sorted(folder.glob("*.json"))
    assert path.name.startswith("000000000002-")
    doc = json.loads(path.read_text())
    assert doc["seq"] == 2 and doc["keyed_from"] == 0
    with app.state.sessionmaker() as s:
        assert audit.verify(s).anchored_seq == 2
