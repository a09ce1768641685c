"""Web sessions and CSRF tokens.

Signing in: the user pastes an API token (``oncolake tokens create``); it is checked with
:func:`catalog_api.auth.tokens.authenticate`, the same function the API uses, and a
*session token* is created for the user (an API token named ``web session`` that expires
after :data:`SESSION_TTL`). The session therefore lives on the server, in the
``api_tokens`` table: signing out revokes it at once, an admin can revoke it like any
token, and every replica of the app sees it. The cookie holds that session token, signed
with ``ApiConfig.secret_key`` (itsdangerous), and is ``Secure``, ``HttpOnly`` and
``SameSite=Lax``.

CSRF: every form carries ``csrf_token``. Signed in, it is an HMAC (secret key) of the
session token's hash, so it changes with every session and needs no storage; before
signing in (the sign-in form) it is the HMAC of a random nonce kept in a signed cookie.
:func:`checked_form` refuses a POST whose token is missing or wrong with 403.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from typing import Annotated

from fastapi import Depends, Request, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from catalog_api import audit
from catalog_api.api.deps import ConfigDep, SessionDep
from catalog_api.auth import tokens
from catalog_api.core.config import ApiConfig
from catalog_api.governance import policy
from catalog_api.governance.errors import ApiError, Forbidden, NotAuthenticated
from catalog_api.models import ApiToken, Role, User

SESSION_COOKIE = "oncolake_session"
ANON_COOKIE = "oncolake_anon"
SESSION_TTL = dt.timedelta(hours=12)
SESSION_TOKEN_NAME = "web session"
CSRF_FIELD = "csrf_token"
_SESSION_SALT = "oncolake-web-session"
_ANON_SALT = "oncolake-web-anon"


class SignInRequired(ApiError):
    """The page needs a signed-in user (the web pages redirect to the sign-in page)."""

    status_code = 401


class CsrfRefused(Forbidden):
    """A form was posted without a valid CSRF token."""


def _serializer(config: ApiConfig, salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(config.secret_key, salt=salt)


def cookie_secure(config: ApiConfig) -> bool:
    """Whether cookies get ``Secure`` (``extra['web_cookie_secure']``, default true)."""
    return config.extra.get("web_cookie_secure", "true").lower() not in ("0", "false", "no")


def set_cookie(response: Response, config: ApiConfig, name: str, value: str, max_age: int) -> None:
    """Set one of our cookies: Secure, HttpOnly, SameSite=Lax, path /."""
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        secure=cookie_secure(config),
        httponly=True,
        samesite="lax",
    )


def _hmac(config: ApiConfig, message: str) -> str:
    return hmac.new(config.secret_key, message.encode(), hashlib.sha256).hexdigest()


# -- session ---------------------------------------------------------------------------


def session_token(request: Request, config: ApiConfig) -> str | None:
    """The session token in the request's signed cookie, if the signature holds."""
    raw = request.cookies.get(SESSION_COOKIE)
    if not raw:
        return None
    try:
        data = _serializer(config, _SESSION_SALT).loads(
            raw, max_age=int(SESSION_TTL.total_seconds())
        )
    except BadSignature:
        return None
    token = data.get("t") if isinstance(data, dict) else None
    return token if isinstance(token, str) else None


def current_user(request: Request, session: Session, config: ApiConfig) -> User | None:
    """The signed-in user, or None (no cookie, bad signature, expired or revoked session)."""
    token = session_token(request, config)
    if token is None:
        return None
    try:
        user = tokens.authenticate(session, token=token)
    except NotAuthenticated:
        return None
    if session.dirty:  # last-used time of the session token (at most once a minute)
        session.commit()
    request.state.web_user = user
    request.state.web_token = token
    return user


def sign_in(session: Session, *, api_token: str, config: ApiConfig) -> tuple[User, str]:
    """Check ``api_token`` (as the API does) and open a session; returns the user and the
    signed cookie value. Audited as ``web.signed_in``; the caller commits."""
    token = api_token.strip()
    if not token.startswith(tokens.TOKEN_PREFIX):
        raise NotAuthenticated(
            "that is not an oncolake API token (they start with olk_); create one with "
            "`oncolake tokens create <user>`"
        )
    user = tokens.authenticate(session, token=token)
    row, session_tok = tokens.create_token(
        session, user=user, name=SESSION_TOKEN_NAME, ttl=SESSION_TTL
    )
    audit.record(
        session,
        actor=user,
        action="web.signed_in",
        subject=f"user:{user.id}",
        details={"session_token_id": row.id, "prefix": row.prefix, "with": token[:12]},
    )
    return user, _serializer(config, _SESSION_SALT).dumps({"t": session_tok})


def sign_out(session: Session, *, user: User, token: str) -> None:
    """Revoke the session token (audited as ``web.signed_out``); the caller commits."""
    row = session.execute(
        select(ApiToken).where(ApiToken.token_hash == tokens.hash_token(token))
    ).scalar_one_or_none()
    if row is None or row.user_id != user.id or row.revoked_at is not None:
        return
    tokens.revoke_token(session, user=user, token_id=row.id)
    audit.record(
        session,
        actor=user,
        action="web.signed_out",
        subject=f"user:{user.id}",
        details={"session_token_id": row.id, "prefix": row.prefix},
    )


# -- CSRF ------------------------------------------------------------------------------


def anon_nonce(request: Request, config: ApiConfig) -> str:
    """The visitor's anonymous nonce (from its signed cookie, or a new one to be set)."""
    cached: str | None = getattr(request.state, "anon_nonce", None)
    if cached:
        return cached
    raw = request.cookies.get(ANON_COOKIE)
    nonce: str | None = None
    if raw:
        try:
            value = _serializer(config, _ANON_SALT).loads(raw)
            nonce = value if isinstance(value, str) else None
        except BadSignature:
            nonce = None
    if nonce is None:
        nonce = secrets.token_urlsafe(24)
        request.state.new_anon_cookie = _serializer(config, _ANON_SALT).dumps(nonce)
    request.state.anon_nonce = nonce
    return nonce


def csrf_token(request: Request, config: ApiConfig) -> str:
    """The CSRF token the request's forms must carry."""
    token = getattr(request.state, "web_token", None) or session_token(request, config)
    if token:
        return _hmac(config, "csrf|session|" + tokens.hash_token(token))
    return _hmac(config, "csrf|anon|" + anon_nonce(request, config))


async def checked_form(request: Request, config: ConfigDep) -> FormData:
    """The posted form after its CSRF token was checked (403 when missing or wrong)."""
    form = await request.form()  # a malformed body is Starlette's 400
    sent = form.get(CSRF_FIELD)
    expected = csrf_token(request, config)
    if not isinstance(sent, str) or not hmac.compare_digest(sent, expected):
        raise CsrfRefused(
            "the form's security token (CSRF) is missing or not valid for your session; "
            "reload the page and submit the form again"
        )
    return form


# -- dependencies ------------------------------------------------------------------------


def web_user(request: Request, session: SessionDep, config: ConfigDep) -> User:
    """The signed-in user, or :class:`SignInRequired` (redirect to the sign-in page)."""
    user = current_user(request, session, config)
    if user is None:
        raise SignInRequired("sign in to see this page")
    return user


def optional_web_user(request: Request, session: SessionDep, config: ConfigDep) -> User | None:
    """The signed-in user, if any."""
    return current_user(request, session, config)


def require_web_roles(*roles: Role) -> object:
    """A dependency: the signed-in user holding one of ``roles`` (``policy.ensure_roles``)."""

    def dependency(user: Annotated[User, Depends(web_user)]) -> User:
        policy.ensure_roles(user, *roles)
        return user

    return Depends(dependency)


WebUser = Annotated[User, Depends(web_user)]
MaybeUser = Annotated[User | None, Depends(optional_web_user)]
CheckedForm = Annotated[FormData, Depends(checked_form)]
ResearcherWeb = Annotated[User, require_web_roles(Role.researcher)]
ReviewerWeb = Annotated[User, require_web_roles(Role.reviewer)]
AdminWeb = Annotated[User, require_web_roles(Role.admin)]
