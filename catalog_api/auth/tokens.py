"""API tokens: random, shown once, stored as SHA-256, expiring and revocable.

A token looks like ``olk_<43 url-safe characters>`` (256 random bits). Only its SHA-256
is stored; the first characters (``prefix``) are kept so that users can tell their tokens
apart. A plain hash (no salt, no slow KDF) is right here: the token has 256 bits of
entropy, so it cannot be guessed from its hash, and lookup by hash is one index probe.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog_api.db import utcnow
from catalog_api.governance.errors import Invalid, NotAuthenticated, NotFound
from catalog_api.models import ApiToken, User

TOKEN_PREFIX = "olk_"
DEFAULT_TTL = dt.timedelta(days=90)
MAX_TTL = dt.timedelta(days=366)
#: ``last_used_at`` is exact to this: a token used again sooner is not written again.
LAST_USED_RESOLUTION = dt.timedelta(minutes=1)


def hash_token(token: str) -> str:
    """The stored form of a token."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    """A fresh random token."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def create_token(
    session: Session, *, user: User, name: str = "", ttl: dt.timedelta = DEFAULT_TTL
) -> tuple[ApiToken, str]:
    """Create a token for ``user``; return the row and the token (shown once, never stored)."""
    if ttl <= dt.timedelta(0) or ttl > MAX_TTL:
        raise Invalid(f"a token must expire within 1 second and {MAX_TTL.days} days; got {ttl}")
    token = new_token()
    row = ApiToken(
        user_id=user.id,
        name=name,
        prefix=token[:12],
        token_hash=hash_token(token),
        expires_at=utcnow() + ttl,
    )
    session.add(row)
    session.flush()
    return row, token


def authenticate(session: Session, *, token: str) -> User:
    """The active user owning ``token``; :class:`NotAuthenticated` says why not.

    The token's ``last_used_at`` is set (not committed) when it is unset or older than
    :data:`LAST_USED_RESOLUTION`, so a busy token costs one write a minute, not one per
    request.
    """
    return verify(session, token=token).user


def verify(session: Session, *, token: str) -> ApiToken:
    """The row of ``token`` if it is valid and its user active (see :func:`authenticate`,
    which this is; the API caches the row's outcome: :mod:`catalog_api.auth.cache`)."""
    row = session.execute(
        select(ApiToken).where(ApiToken.token_hash == hash_token(token))
    ).scalar_one_or_none()
    if row is None:
        raise NotAuthenticated("unknown API token; create one with `oncolake tokens create`")
    now = utcnow()
    if row.revoked_at is not None:
        raise NotAuthenticated(f"the API token {row.prefix}… was revoked; create a new one")
    if row.expires_at <= now:
        raise NotAuthenticated(
            f"the API token {row.prefix}… expired at {row.expires_at.isoformat()}; create a new one"
        )
    if not row.user.is_active:
        raise NotAuthenticated(f"the user {row.user.username} is deactivated")
    if row.last_used_at is None or now - row.last_used_at >= LAST_USED_RESOLUTION:
        row.last_used_at = now  # at most one write per token and minute
    return row


def list_tokens(session: Session, *, user: User) -> list[ApiToken]:
    """The user's tokens, newest first."""
    stmt = select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id.desc())
    return list(session.execute(stmt).scalars())


def revoke_token(session: Session, *, user: User | None, token_id: int) -> ApiToken:
    """Revoke a token (of ``user``, or any token when ``user`` is None: admins, CLI)."""
    row = session.get(ApiToken, token_id)
    if row is None or (user is not None and row.user_id != user.id):
        raise NotFound(f"no API token {token_id} of yours")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
    return row
