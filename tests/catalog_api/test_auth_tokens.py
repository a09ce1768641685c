"""API tokens: 401 without/with bad tokens, expiry, revocation, shown once, stored hashed."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from catalog_api.models import ApiToken
from tests.catalog_api.conftest import BACKENDS, ApiUserFactory


def test_missing_token_is_401_with_how_to_fix(http: httpx.Client) -> None:
    r = http.get("/api/v1/users/me")
    assert r.status_code == 401
    assert "Authorization: Bearer" in r.json()["detail"]
    assert r.headers["www-authenticate"] == "Bearer"


def test_unknown_token_is_401(http: httpx.Client) -> None:
    r = http.get("/api/v1/users/me", headers={"Authorization": "Bearer olk_nope"})
    assert r.status_code == 401
    assert r.json()["detail"].startswith("unknown API token")


@pytest.mark.parametrize("backend", BACKENDS, indirect=True)
def test_token_shown_once_stored_hashed_then_revoked(
    http: httpx.Client, app: FastAPI, api_user: ApiUserFactory
) -> None:
    alice = api_user("researcher", username="alice")
    me = http.get("/api/v1/users/me", headers=alice.headers)
    assert me.status_code == 200
    assert me.json()["username"] == "alice" and me.json()["roles"] == ["researcher"]

    made = http.post(
        "/api/v1/users/me/tokens", json={"name": "laptop", "ttl_days": 1}, headers=alice.headers
    )
    assert made.status_code == 201
    new = made.json()
    assert new["token"].startswith("olk_") and new["prefix"] == new["token"][:12]
    listed = http.get("/api/v1/users/me/tokens", headers=alice.headers).json()
    assert all("token" not in t for t in listed) and len(listed) == 2
    with app.state.sessionmaker() as s:
        stored = s.execute(sa.select(ApiToken.token_hash)).scalars().all()
    assert new["token"] not in stored and all(len(h) == 64 for h in stored)

    bearer = {"Authorization": f"Bearer {new['token']}"}
    assert http.get("/api/v1/users/me", headers=bearer).status_code == 200
    assert (
        http.delete(f"/api/v1/users/me/tokens/{new['id']}", headers=alice.headers).status_code
        == 200
    )
    r = http.get("/api/v1/users/me", headers=bearer)
    assert r.status_code == 401 and "revoked" in r.json()["detail"]


def test_expired_token_is_401(http: httpx.Client, app: FastAPI, api_user: ApiUserFactory) -> None:
    bob = api_user("researcher")
    with app.state.sessionmaker() as s:
        s.execute(
            sa.update(ApiToken).values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
        )
        s.commit()
    r = http.get("/api/v1/users/me", headers=bob.headers)
    assert r.status_code == 401 and "expired" in r.json()["detail"]


def test_cannot_revoke_someone_elses_token(http: httpx.Client, api_user: ApiUserFactory) -> None:
    a = api_user("researcher")
    b = api_user("researcher")
    b_tokens = http.get("/api/v1/users/me/tokens", headers=b.headers).json()
    r = http.delete(f"/api/v1/users/me/tokens/{b_tokens[0]['id']}", headers=a.headers)
    assert r.status_code == 404
    assert http.get("/api/v1/users/me", headers=b.headers).status_code == 200


def test_deactivated_user_is_refused(http: httpx.Client, api_user: ApiUserFactory) -> None:
    admin = api_user("admin")
    carol = api_user("researcher")
    r = http.patch(f"/api/v1/users/{carol.id}", json={"is_active": False}, headers=admin.headers)
    assert r.status_code == 200 and r.json()["is_active"] is False
    r = http.get("/api/v1/users/me", headers=carol.headers)
    assert r.status_code == 401 and "deactivated" in r.json()["detail"]


@pytest.mark.parametrize("backend", BACKENDS, indirect=True)
def test_last_used_is_written_at_most_once_a_minute(
    http: httpx.Client, app: FastAPI, api_user: ApiUserFactory
) -> None:
    """A busy token must not cost a database write per request: ``last_used_at`` is set on
    first use and again only once it is a minute old."""
    dave = api_user("researcher")
    writes: list[str] = []

    def spy(_conn: object, _cursor: object, statement: str, *_rest: object) -> None:
        if statement.lstrip().upper().startswith("UPDATE API_TOKENS"):
            writes.append(statement)

    def last_used() -> dt.datetime | None:
        with app.state.sessionmaker() as s:
            return s.execute(sa.select(ApiToken.last_used_at)).scalar_one()

    sa.event.listen(app.state.engine, "before_cursor_execute", spy)
    try:
        assert http.get("/api/v1/users/me", headers=dave.headers).status_code == 200
        first = last_used()
        assert first is not None and len(writes) == 1
        for _ in range(5):
            assert http.get("/api/v1/users/me", headers=dave.headers).status_code == 200
        assert last_used() == first and len(writes) == 1
        # a minute later it is written again
        with app.state.sessionmaker() as s:
            s.execute(sa.update(ApiToken).values(last_used_at=first - dt.timedelta(seconds=61)))
            s.commit()
        writes.clear()
        assert http.get("/api/v1/users/me", headers=dave.headers).status_code == 200
        again = last_used()
        assert again is not None and again >= first and len(writes) == 1
    finally:
        sa.event.remove(app.state.engine, "before_cursor_execute", spy)
