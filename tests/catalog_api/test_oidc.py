"""OpenID Connect JWTs and GA4GH Passport visas, with keys made here and JWKS on loopback."""

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
from joserfc import jwt
from joserfc.jwk import RSAKey

from catalog_api.auth.oidc import JWKS
from catalog_api.core.config import ApiConfig
from tests.catalog_api.helpers import BRAF, FIELDS, ok
from tests.conftest import free_port

ISSUER = "https://idp.example.org"
VISA_ISSUER = "https://visas.example.org"
AUDIENCE = "oncolake"
IDP_KEY = RSAKey.generate_key(2048, parameters={"kid": "idp-1"})
VISA_KEY = RSAKey.generate_key(2048, parameters={"kid": "visa-1"})
ROGUE_KEY = RSAKey.generate_key(2048, parameters={"kid": "idp-1"})


@pytest.fixture(scope="module")
def jwks_base() -> Iterator[str]:
    """A loopback server with ``/idp/jwks`` and ``/visas/jwks``."""
    sets = {
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

    port = free_port()
    server = HTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{port}"
    server.shutdown()


@pytest.fixture
def api_config(api_config: ApiConfig, jwks_base: str) -> ApiConfig:
    """OIDC on; visas of VISA_ISSUER for dataset D2 pre-approve centre C2."""
    JWKS.clear()
    return dataclasses.replace(
        api_config,
        oidc_issuer=ISSUER,
        oidc_audience=AUDIENCE,
        oidc_jwks_url=f"{jwks_base}/idp/jwks",
        extra={
            "visa_issuers": json.dumps({VISA_ISSUER: f"{jwks_base}/visas/jwks"}),
            "visa_grants": json.dumps({"https://oncolake.example.org/datasets/D2": "C2"}),
        },
    )


def _token(key: RSAKey = IDP_KEY, **claims: Any) -> str:
    now = int(time.time())
    body = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "u-1",
        "iat": now,
        "exp": now + 300,
        "preferred_username": "erin",
        "roles": ["researcher", "wizard"],
        **claims,
    }
    return jwt.encode({"alg": "RS256", "kid": key.kid}, body, key)


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_valid_token_maps_claims_to_a_user(http: httpx.Client) -> None:
    me = ok(http.get("/api/v1/users/me", headers=_bearer(_token())))
    assert me["username"] == "erin" and me["roles"] == ["researcher"]


@pytest.mark.parametrize(
    ("token", "detail"),
    [
        (lambda: _token(ROGUE_KEY), "signature is not valid"),
        (lambda: _token(iss="https://evil.example.org"), "iss"),
        (lambda: _token(aud="someone-else"), "aud"),
        (lambda: _token(exp=int(time.time()) - 3600), "expired"),
    ],
    ids=["bad-signature", "wrong-issuer", "wrong-audience", "expired"],
)
def test_bad_tokens_are_refused(http: httpx.Client, token: Any, detail: str) -> None:
    r = http.get("/api/v1/users/me", headers=_bearer(token()))
    assert r.status_code == 401
    assert detail in r.json()["detail"]


def _visa(key: RSAKey = VISA_KEY, sub: str = "u-1") -> str:
    now = int(time.time())
    body = {
        "iss": VISA_ISSUER,
        "sub": sub,
        "iat": now,
        "exp": now + 300,
        "ga4gh_visa_v1": {
            "type": "ControlledAccessGrants",
            "asserted": now - 10,
            "value": "https://oncolake.example.org/datasets/D2",
            "source": "https://dac.example.org",
            "by": "dac",
        },
    }
    return jwt.encode({"alg": "RS256", "kid": key.kid}, body, key)


@pytest.mark.parametrize(
    ("visa_key", "sub", "preapproved"),
    [(VISA_KEY, "u-1", True), (ROGUE_KEY, "u-1", False), (VISA_KEY, "someone-else", False)],
    ids=["valid", "forged", "other-subject"],
)
def test_passport_visa_preapproves_its_centre(
    http: httpx.Client, visa_key: RSAKey, sub: str, preapproved: bool
) -> None:
    headers = _bearer(_token(ga4gh_passport_v1=[_visa(visa_key, sub)]))
    cohort = ok(
        http.post("/api/v1/cohorts", json={"name": "B", "definition": BRAF}, headers=headers), 201
    )
    body = {
        "cohort_id": cohort["id"],
        "purpose": {"primary": "health"},
        "title": "ttt",
        "description": "d",
        "institution": "i",
        "duration_days": 5,
        "fields": FIELDS,
    }
    req = ok(http.post("/api/v1/access-requests", json=body, headers=headers), 201)
    req = ok(http.post(f"/api/v1/access-requests/{req['id']}/submit", headers=headers))
    parts = {p["centre_id"]: p for p in req["parts"]}
    assert parts["C2"]["preapproved_by_visa"] is preapproved
    assert parts["C2"]["state"] == ("approved" if preapproved else "under_review")
    assert parts["C1"]["state"] == "under_review"
