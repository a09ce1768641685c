"""``oncolake users/tokens/audit/db``: the token works against the API; tampering detected."""

from __future__ import annotations

import sqlalchemy as sa
from typer.testing import CliRunner

from catalog_api.auth import tokens
from catalog_api.db import make_engine, make_sessionmaker
from oncolake.api_config import api_config
from oncolake.cli import app

runner = CliRunner()


def test_users_tokens_and_audit_verify_detects_tampering() -> None:
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    r = runner.invoke(app, ["users", "add", "alice", "-r", "researcher"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["users", "add", "alice", "-r", "researcher"])
    assert r.exit_code == 1 and "the username 'alice' is taken" in r.output
    r = runner.invoke(app, ["users", "add", "bob", "-r", "boss"])
    assert r.exit_code == 1 and "roles.0" in r.output
    r = runner.invoke(app, ["tokens", "create", "alice", "--days", "1"])
    assert r.exit_code == 0, r.output
    token = r.output.strip().splitlines()[-1]
    assert token.startswith("olk_")

    engine = make_engine(api_config().database_url)
    with make_sessionmaker(engine)() as s:
        assert tokens.authenticate(s, token=token).username == "alice"
    r = runner.invoke(app, ["audit", "verify"])
    assert r.exit_code == 0 and "intact: 2 entries" in r.output

    with engine.begin() as conn:
        conn.execute(sa.text("DROP TRIGGER audit_entries_no_update"))
        conn.execute(sa.text("UPDATE audit_entries SET actor = 'mallory' WHERE seq = 1"))
    r = runner.invoke(app, ["audit", "verify"])
    assert r.exit_code == 1
    assert "entry 1 (user.created on user:1): its content does not match its digest" in r.output
    engine.dispose()
