"""OpenID Connect access tokens (JWTs from a configured issuer) and GA4GH Passport visas.

Verification uses joserfc: the signature against the issuer's JWKS (fetched over HTTPS or
loopback and cached; fetched again once when a token names an unknown key id), then the
claims ``iss``, ``aud``, ``exp`` (and ``nbf``/``iat`` when present). Only asymmetric
algorithms are accepted, so a token cannot be "signed" with a public key as an HMAC secret.

Claims map to a local user (provisioned on first sight, keyed by ``issuer|sub``): roles
from the ``roles`` claim (names in :class:`~catalog_api.models.Role`; others ignored),
centres from ``centres``. The identity provider is the source of truth: the user's roles
and centres are refreshed from every token.

A token may carry a GA4GH Passport (``ga4gh_passport_v1``: a list of visa JWTs). Visas of
type ``ControlledAccessGrants`` signed by a trusted visa issuer (``visa_issuers``: issuer →
JWKS URL), for the same subject and not expired, whose ``value`` is mapped to a centre
(``visa_grants``: value → centre id) pre-approve that centre's part of the holder's access
requests. Both maps are JSON in ``ApiConfig.extra``.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from dataclasses import dataclass
from typing import Any

import httpx
from joserfc import jwt
from joserfc.errors import (
    BadSignatureError,
    ExpiredTokenError,
    InvalidClaimError,
    InvalidKeyIdError,
    JoseError,
    MissingClaimError,
)
from joserfc.jwk import KeySet
from joserfc.jwt import JWTClaimsRegistry
from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog_api.core.config import ApiConfig
from catalog_api.governance.errors import NotAuthenticated
from catalog_api.models import Role, User

ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA")
JWKS_TTL_SECONDS = 300.0
JWKS_REFRESH_MIN_SECONDS = 30.0
LEEWAY_SECONDS = 30
VISA_TYPE = "ControlledAccessGrants"


@dataclass(frozen=True)
class VisaGrant:
    """A verified ControlledAccessGrants visa that pre-approves one centre's data."""

    centre_id: str
    issuer: str
    value: str
    asserted: int
    expires: int


class JwksCache:
    """Key sets by URL, kept ``JWKS_TTL_SECONDS``; refreshed on an unknown key id."""

    def __init__(self) -> None:
        self._sets: dict[str, tuple[float, KeySet]] = {}
        self._lock = threading.Lock()

    def get(self, url: str, *, refresh: bool = False) -> KeySet:
        """The key set at ``url`` (fetched if missing, stale, or ``refresh`` and old enough)."""
        with self._lock:
            hit = self._sets.get(url)
            now = time.monotonic()
            if hit is not None:
                age = now - hit[0]
                if age < JWKS_TTL_SECONDS and not (refresh and age > JWKS_REFRESH_MIN_SECONDS):
                    return hit[1]
            try:
                resp = httpx.get(url, timeout=5.0)
                resp.raise_for_status()
                keys = KeySet.import_key_set(resp.json())
            except (httpx.HTTPError, ValueError, JoseError) as exc:
                raise NotAuthenticated(f"cannot fetch the issuer's keys from {url}: {exc}") from exc
            self._sets[url] = (now, keys)
            return keys

    def current(self, url: str) -> KeySet | None:
        """The key set at ``url`` as :meth:`get` would return it now without fetching,
        or None when it is missing or stale (the verification cache compares it by
        identity: a key set fetched again means verifying again)."""
        with self._lock:
            hit = self._sets.get(url)
        if hit is None or time.monotonic() - hit[0] >= JWKS_TTL_SECONDS:
            return None
        return hit[1]

    def clear(self) -> None:
        """Forget every key set."""
        with self._lock:
            self._sets.clear()


JWKS = JwksCache()


def looks_like_jwt(token: str) -> bool:
    """True for a compact JWS (three base64url parts)."""
    return token.count(".") == 2 and token.startswith("ey")


def _decode(token: str, jwks_url: str) -> dict[str, Any]:
    """Verify the signature of ``token`` against the key set at ``jwks_url``; its claims."""
    for refresh in (False, True):
        keys = JWKS.get(jwks_url, refresh=refresh)
        try:
            return dict(jwt.decode(token, keys, algorithms=list(ALGORITHMS)).claims)
        except InvalidKeyIdError as exc:  # the issuer may have rotated its keys: fetch again
            if refresh:
                raise NotAuthenticated(f"the token is signed with an unknown key ({exc})") from exc
        except BadSignatureError as exc:
            raise NotAuthenticated("the token's signature is not valid") from exc
        except (JoseError, ValueError) as exc:
            raise NotAuthenticated(f"the token cannot be verified: {exc}") from exc
    raise NotAuthenticated("the token cannot be verified")  # pragma: no cover


def _check_claims(claims: dict[str, Any], *, issuer: str, audience: str | None, what: str) -> None:
    options: dict[str, Any] = {
        "iss": {"essential": True, "value": issuer},
        "exp": {"essential": True},
        "sub": {"essential": True},
    }
    if audience:
        options["aud"] = {"essential": True, "value": audience}
    registry = JWTClaimsRegistry(leeway=LEEWAY_SECONDS, **options)
    try:
        registry.validate(claims)
    except ExpiredTokenError as exc:
        raise NotAuthenticated(f"the {what} has expired; get a new one") from exc
    except (InvalidClaimError, MissingClaimError) as exc:
        raise NotAuthenticated(f"the {what} is not acceptable: {exc.description}") from exc
    except JoseError as exc:
        raise NotAuthenticated(f"the {what} is not acceptable: {exc}") from exc


def _json_extra(config: ApiConfig, name: str) -> dict[str, str]:
    raw = config.extra.get(name, "")
    if not raw:
        return {}
    value = json.loads(raw)
    if not isinstance(value, dict):
        raise ValueError(f"ApiConfig.extra[{name!r}] must be a JSON object")
    return {str(k): str(v) for k, v in value.items()}


def verify_access_token(token: str, config: ApiConfig) -> dict[str, Any]:
    """The claims of an OIDC access token from the configured issuer, or NotAuthenticated."""
    if not (config.oidc_issuer and config.oidc_jwks_url):
        raise NotAuthenticated("OpenID Connect is not configured; use an API token")
    claims = _decode(token, config.oidc_jwks_url)
    _check_claims(
        claims, issuer=config.oidc_issuer, audience=config.oidc_audience or None, what="token"
    )
    return claims


def visa_issuers(config: ApiConfig) -> dict[str, str]:
    """The trusted visa issuers (issuer → JWKS URL) of ``config``."""
    return _json_extra(config, "visa_issuers")


def passport_grants(claims: dict[str, Any], config: ApiConfig) -> list[VisaGrant]:
    """The verified ControlledAccessGrants visas of a passport that map to a centre.

    A visa that fails verification is ignored (it grants nothing); it does not invalidate
    the user's login.
    """
    visas = claims.get("ga4gh_passport_v1")
    issuers = visa_issuers(config)
    grants_map = _json_extra(config, "visa_grants")
    if not isinstance(visas, list) or not issuers or not grants_map:
        return []
    out: list[VisaGrant] = []
    for visa in visas:
        if not isinstance(visa, str) or not looks_like_jwt(visa):
            continue
        try:
            unverified = _unverified_claims(visa)
            iss = str(unverified.get("iss", ""))
            if iss not in issuers:
                continue
            vclaims = _decode(visa, issuers[iss])
            _check_claims(vclaims, issuer=iss, audience=None, what="visa")
        except NotAuthenticated:
            continue
        body = vclaims.get("ga4gh_visa_v1")
        if not isinstance(body, dict) or body.get("type") != VISA_TYPE:
            continue
        if vclaims.get("sub") != claims.get("sub"):
            continue
        value = str(body.get("value", ""))
        centre = grants_map.get(value)
        if centre:
            out.append(
                VisaGrant(
                    centre_id=centre,
                    issuer=iss,
                    value=value,
                    asserted=int(body.get("asserted", 0)),
                    expires=int(vclaims["exp"]),
                )
            )
    return out


def _unverified_claims(token: str) -> dict[str, Any]:
    """Read a JWT's claims without verifying it (only to choose the issuer's keys)."""
    import base64

    try:
        part = token.split(".")[1]
        data = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    except (ValueError, IndexError) as exc:
        raise NotAuthenticated("the visa is not a JWT") from exc
    if not isinstance(data, dict):
        raise NotAuthenticated("the visa's claims are not an object")
    return data


def user_from_claims(session: Session, claims: dict[str, Any], config: ApiConfig) -> User:
    """The local user of a verified token (provisioned or refreshed from its claims)."""
    sub = str(claims["sub"])
    external_id = f"{config.oidc_issuer}|{sub}"
    known = {r.value for r in Role}
    raw_roles = claims.get("roles", [])
    roles = (
        sorted({str(r) for r in raw_roles if str(r) in known})
        if isinstance(raw_roles, list)
        else []
    )
    raw_centres = claims.get("centres", [])
    centres = sorted({str(c) for c in raw_centres}) if isinstance(raw_centres, list) else []
    user = session.execute(select(User).where(User.external_id == external_id)).scalar_one_or_none()
    if user is None:
        wanted = str(claims.get("preferred_username") or sub)[:100]
        taken = session.execute(select(User.id).where(User.username == wanted)).first()
        if taken is not None:
            wanted = f"{wanted}-{hashlib.sha256(external_id.encode()).hexdigest()[:8]}"
        user = User(
            username=wanted,
            external_id=external_id,
            full_name=str(claims.get("name", "")),
            email=str(claims.get("email", "")),
            roles=roles,
            centres=centres,
        )
        session.add(user)
    else:
        if not user.is_active:
            raise NotAuthenticated(f"the user {user.username} is deactivated")
        user.roles, user.centres = roles, centres
    # Provisioning is its own unit of work, committed now: left pending, it would hold
    # SQLite's write lock for the whole request, and the disclosure store's writes on
    # their own connection (catalog_api.discovery.history) would wait behind it.
    session.commit()
    return user
