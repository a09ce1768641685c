"""The cached API-token path: fast, and as strict as the full verification.

A verified token is answered from the app's :class:`~catalog_api.auth.cache.TokenCache`
(one primary-key read of its state per request); each test first shows that the cache is
in use (its hit counter moves), then that a change made anywhere — this app's API,
another replica, a plain SQL update as the CLI makes — applies to the very next request.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
import sqlalchemy as sa
import uvicorn
from fastapi import FastAPI

from catalog_api.api.deps import token_cache_for
from catalog_api.core.config import ApiConfig
from catalog_api.main import create_app
from catalog_api.models import ApiToken, User
from harmonise.lake import Lake
from tests.catalog_api.conftest import BACKENDS, ApiUserFactory
from tests.conftest import free_port


class _Server(uvicorn.Server):
    def install_signal_handlers(self) -> None:  # running in a thread
        return None


@contextmanager
def serving(app: FastAPI) -> Iterator[httpx.Client]:
    """``app`` under uvicorn on a free loopback port (a second replica in these tests)."""
    port = free_port()
    srv = _Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not srv.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.01)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            yield client
    finally:
        srv.should_exit = True
        thread.join(timeout=10)


def warm(http: httpx.Client, app: FastAPI, headers: dict[str, str], times: int = 3) -> None:
    """Use a token until the app answers it from the cache."""
    cache = token_cache_for(app)
    before = cache.hits
    for _ in range(times):
        assert http.get("/api/v1/users/me", headers=headers).status_code == 200
    assert cache.hits >= before + times - 1, "the token cache was not used"


@pytest.mark.parametrize("backend", BACKENDS, indirect=True)
def test_revoked_token_is_refused_at_once_with_the_cache(
    http: httpx.Client, app: FastAPI, api_user: ApiUserFactory
) -> None:
    alice = api_user("researcher")
    made = http.post("/api/v1/users/me/tokens", json={"name": "ci"}, headers=alice.headers)
    new = made.json()
    bearer = {"Authorization": f"Bearer {new['token']}"}
    warm(http, app, bearer)
    r = http.delete(f"/api/v1/users/me/tokens/{new['id']}", headers=alice.headers)
    assert r.status_code == 200
    r = http.get("/api/v1/users/me", headers=bearer)
    assert r.status_code == 401 and "was revoked" in r.json()["detail"]
    assert http.get("/api/v1/users/me", headers=alice.headers).status_code == 200


@pytest.mark.parametrize("backend", BACKENDS, indirect=True)
def test_revocation_on_one_replica_or_in_sql_applies_on_another_at_once(
    http: httpx.Client, app: FastAPI, api_config: ApiConfig, lake: Lake, api_user: ApiUserFactory
) -> None:
    """Two apps on one database (two replicas): each caches the token; a revocation
    through replica A's API, and one written straight to the database (as `oncolake tokens
    revoke` does, from another process), is seen by replica B's next request."""
    bob = api_user("researcher")
    other = create_app(api_config, lake, migrate=False)
    with serving(other) as http_b:
        warm(http, app, bob.headers)
        warm(http_b, other, bob.headers)
        me = http.get("/api/v1/users/me/tokens", headers=bob.headers).json()
        r = http.delete(f"/api/v1/users/me/tokens/{me[0]['id']}", headers=bob.headers)
        assert r.status_code == 200
        r = http_b.get("/api/v1/users/me", headers=bob.headers)
        assert r.status_code == 401 and "was revoked" in r.json()["detail"]

        carol = api_user("researcher")
        warm(http_b, other, carol.headers)
        outside = sa.create_engine(api_config.database_url)
        try:
            with outside.begin() as conn:
                conn.execute(
                    sa.update(ApiToken)
                    .where(ApiToken.user_id == carol.id)
                    .values(revoked_at=dt.datetime.now(dt.UTC))
                )
        finally:
            outside.dispose()
        r = http_b.get("/api/v1/users/me", headers=carol.headers)
        assert r.status_code == 401 and "was revoked" in r.json()["detail"]


def test_role_change_deactivation_and_expiry_apply_at_once(
    http: httpx.Client, app: FastAPI, api_user: ApiUserFactory
) -> None:
    root = api_user("admin")
    dana = api_user(["admin", "researcher"])
    warm(http, app, dana.headers)
    assert http.get("/api/v1/users", headers=dana.headers).status_code == 200
    r = http.patch(f"/api/v1/users/{dana.id}", json={"roles": ["researcher"]}, headers=root.headers)
    assert r.status_code == 200
    r = http.get("/api/v1/users", headers=dana.headers)
    assert r.status_code == 403
    assert http.get("/api/v1/users/me", headers=dana.headers).json()["roles"] == ["researcher"]

    warm(http, app, dana.headers)
    with app.state.sessionmaker() as s:
        s.execute(sa.update(User).where(User.id == dana.id).values(is_active=False))
        s.commit()
    r = http.get("/api/v1/users/me", headers=dana.headers)
    assert r.status_code == 401 and "deactivated" in r.json()["detail"]

    erin = api_user("researcher")
    warm(http, app, erin.headers)
    with app.state.sessionmaker() as s:
        s.execute(
            sa.update(ApiToken)
            .where(ApiToken.user_id == erin.id)
            .values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
        )
        s.commit()
    r = http.get("/api/v1/users/me", headers=erin.headers)
    assert r.status_code == 401 and "expired" in r.json()["detail"]
