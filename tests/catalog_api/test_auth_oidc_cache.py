"""The cached OpenID Connect path: signatures verified once per token, state read every time.

A verified OIDC access token is answered from the app's
:class:`~catalog_api.auth.cache.OidcCache`; each test first shows that the cache is in use
(its hit counter moves), then that what may change while the token is valid applies to
the very next request: the user deactivated (a SQL update, as the CLI or another replica
writes it) and a visa issuer's key revoked (the issuer's key set served without it once
the key-set cache fetches it again). Keys made here, key sets served on loopback.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from joserfc import jwt
from joserfc.jwk import RSAKey

from catalog_api.api.deps import oidc_cache_for
from catalog_api.auth import oidc
from catalog_api.core.config import ApiConfig
from catalog_api.models import User
from tests.catalog_api.conftest import BACKENDS
from tests.catalog_api.helpers import BRAF, FIELDS, ok
from tests.conftest import free_port

ISSUER = "https://idp.example.org"
VISA_ISSUER = "https://visas.example.org"
AUDIENCE = "oncolake"
DATASET = "https://oncolake.example.org/datasets/D2"
IDP_KEY = RSAKey.generate_key(2048, parameters={"kid": "idp-1"})
VISA_KEY = RSAKey.generate_key(2048, parameters={"kid": "visa-1"})
NEW_VISA_KEY = RSAKey.generate_key(2048, parameters={"kid": "visa-2"})


@pytest.fixture
def key_sets() -> Iterator[tuple[str, dict[str, Any]]]:
    """A loopback server of ``/idp/jwks`` and ``/visas/jwks``; the dict it serves may be
    changed by the test (a key rotated or revoked)."""
    sets: dict[str, Any] = {
        "/idp/jwks": {"keys": [IDP_KEY.as_dict(private=False)]},
        "/visas/jwks": {"keys": [VISA_KEY.as_dict(private=False)]},
    }

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps(sets.get(self.path, {})).encode()
            self.send_response(200 if self.path in sets else 404)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            return None

    server = HTTPServer(("127.0.0.1", free_port()), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", sets
    server.shutdown()


@pytest.fixture
def api_config(api_config: ApiConfig, key_sets: tuple[str, dict[str, Any]]) -> ApiConfig:
    """OIDC on; visas of VISA_ISSUER for dataset D2 pre-approve centre C2."""
    base, _ = key_sets
    oidc.JWKS.clear()
    return dataclasses.replace(
        api_config,
        oidc_issuer=ISSUER,
        oidc_audience=AUDIENCE,
        oidc_jwks_url=f"{base}/idp/jwks",
        extra={
            "visa_issuers": json.dumps({VISA_ISSUER: f"{base}/visas/jwks"}),
            "visa_grants": json.dumps({DATASET: "C2"}),
        },
    )


def access_token(sub: str, **claims: Any) -> str:
    now = int(time.time())
    body = {"iss": ISSUER, "aud": AUDIENCE, "sub": sub, "iat": now, "exp": now + 300,
            "preferred_username": sub, "roles": ["researcher"], **claims}  # fmt: skip
    return jwt.encode({"alg": "RS256", "kid": IDP_KEY.kid}, body, IDP_KEY)


def visa(sub: str, exp: int | None = None) -> str:
    now = int(time.time())
    body = {"iss": VISA_ISSUER, "sub": sub, "iat": now, "exp": exp or now + 300,
            "ga4gh_visa_v1": {"type": "ControlledAccessGrants", "asserted": now - 10,
                              "value": DATASET, "source": "https://dac.example.org",
                              "by": "dac"}}  # fmt: skip
    return jwt.encode({"alg": "RS256", "kid": VISA_KEY.kid}, body, VISA_KEY)


def warm(http: httpx.Client, app: FastAPI, headers: dict[str, str], times: int = 3) -> None:
    """Use a token until the app answers it from the cache."""
    cache = oidc_cache_for(app)
    before = cache.hits
    for _ in range(times):
        assert http.get("/api/v1/users/me", headers=headers).status_code == 200
    assert cache.hits >= before + times - 1, "the OIDC cache was not used"


def preapproved(http: httpx.Client, headers: dict[str, str]) -> bool:
    """Whether the caller's access request for C2's data is pre-approved by a visa."""
    cohort = ok(
        http.post("/api/v1/cohorts", json={"name": "B", "definition": BRAF}, headers=headers), 201
    )
    body = {"cohort_id": cohort["id"], "purpose": {"primary": "health"}, "title": "ttt",
            "description": "d", "institution": "i", "duration_days": 5,
            "fields": FIELDS}  # fmt: skip
    req = ok(http.post("/api/v1/access-requests", json=body, headers=headers), 201)
    req = ok(http.post(f"/api/v1/access-requests/{req['id']}/submit", headers=headers))
    return bool({p["centre_id"]: p for p in req["parts"]}["C2"]["preapproved_by_visa"])


@pytest.mark.parametrize("backend", BACKENDS, indirect=True)
def test_deactivated_user_is_refused_at_once_with_the_cache(
    http: httpx.Client, app: FastAPI, api_config: ApiConfig
) -> None:
    """Deactivated by a plain SQL update on the database (another process's write):
    the next request with the cached token is refused, in the full path's words."""
    headers = {"Authorization": f"Bearer {access_token('u-deact')}"}
    warm(http, app, headers)
    outside = sa.create_engine(api_config.database_url)
    try:
        with outside.begin() as conn:
            conn.execute(sa.update(User).where(User.username == "u-deact").values(is_active=False))
    finally:
        outside.dispose()
    r = http.get("/api/v1/users/me", headers=headers)
    assert r.status_code == 401 and "deactivated" in r.json()["detail"]
    assert len(oidc_cache_for(app)) == 0  # the entry was dropped, not kept for later


def test_revoked_visa_key_stops_the_cached_grant_at_once(
    http: httpx.Client,
    app: FastAPI,
    api_config: ApiConfig,
    key_sets: tuple[str, dict[str, Any]],
) -> None:
    """The visa issuer revokes its key (serves a key set without it); once the key-set
    cache fetches that set (its TTL passed: the entry's age is set past it here), the
    cached token's visa no longer pre-approves anything, while the login itself stays."""
    token = access_token("u-visa", ga4gh_passport_v1=[visa("u-visa")])
    headers = {"Authorization": f"Bearer {token}"}
    warm(http, app, headers)
    cache = oidc_cache_for(app)
    hit = cache.lookup(token, api_config)
    assert hit is not None and [g.centre_id for g in hit[1]] == ["C2"]
    assert preapproved(http, headers)

    _, sets = key_sets
    sets["/visas/jwks"] = {"keys": [NEW_VISA_KEY.as_dict(private=False)]}
    url = json.loads(api_config.extra["visa_issuers"])[VISA_ISSUER]
    fetched, keys = oidc.JWKS._sets[url]
    oidc.JWKS._sets[url] = (fetched - oidc.JWKS_TTL_SECONDS - 1, keys)  # the TTL has passed

    assert not preapproved(http, headers)
    warm(http, app, headers)  # cached again, with the new key set and no grant
    hit = cache.lookup(token, api_config)
    assert hit is not None and hit[1] == []


def test_cached_token_is_not_used_past_a_granting_visas_exp(
    http: httpx.Client, app: FastAPI
) -> None:
    """An entry lasts until the earliest exp of the token and of the visas it grants:
    past a visa's exp (here 2 s) the token is verified the full way again."""
    exp = int(time.time()) + 2
    headers = {
        "Authorization": f"Bearer {access_token('u-exp', ga4gh_passport_v1=[visa('u-exp', exp)])}"
    }
    warm(http, app, headers)
    cache = oidc_cache_for(app)
    time.sleep(max(0.0, exp - time.time()) + 0.1)
    hits, misses = cache.hits, cache.misses
    assert http.get("/api/v1/users/me", headers=headers).status_code == 200  # the 30 s leeway
    assert (cache.hits, cache.misses) == (hits, misses + 1)
