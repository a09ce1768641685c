"""Dependencies of the routes: database session, config, lake, the discovery engine, the
disclosure control and the audit writer (each built once in ``create_app``), the caller
and their roles.

Authorisation is written here once: :data:`CurrentUser` authenticates (API token or,
when configured, an OpenID Connect JWT) and :func:`require_roles` checks roles. Finer
rules (whose request, which centre) live in :mod:`catalog_api.governance.policy`.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from catalog_api.auth import oidc, tokens
from catalog_api.auth.cache import OidcCache, TokenCache
from catalog_api.auth.oidc import VisaGrant
from catalog_api.core.config import ApiConfig
from catalog_api.discovery.audit_writer import AuditWriter
from catalog_api.discovery.disclosure import DisclosureControl
from catalog_api.discovery.engine import DiscoveryEngine
from catalog_api.governance import policy
from catalog_api.governance.engine import CohortEngine
from catalog_api.governance.errors import NotAuthenticated
from catalog_api.models import Role, User
from harmonise.lake import Lake

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="bearer",
    description="An API token (`olk_…`, from `oncolake tokens create` or POST "
    "/api/v1/users/me/tokens) or an OpenID Connect access token from the configured issuer.",
)


async def get_config(request: Request) -> ApiConfig:
    """The app's configuration (async: no I/O, so no hop to a worker thread)."""
    config: ApiConfig = request.app.state.config
    return config


def get_lake(request: Request) -> Lake:
    """The lake the app reads."""
    lake: Lake = request.app.state.lake
    return lake


async def get_session(request: Request) -> AsyncIterator[Session]:
    """A database session for one request; uncommitted work is rolled back at the end.

    Async only so that opening and closing it costs no hop to a worker thread (a session
    does no I/O until used; the sync routes and dependencies that use it run in the
    thread pool, one after the other)."""
    factory: sessionmaker[Session] = request.app.state.sessionmaker
    with factory() as session:
        yield session


#: How long a request waits for the first index (loaded or built) before answering 503
#: "not ready" with ``Retry-After`` (``app.state.index_wait_seconds`` overrides it): long
#: enough for a small lake's build or a persisted index's load, short enough never to
#: look like a hang while a large lake is built (minutes at a million patients).
FIRST_BUILD_WAIT = 5.0


def get_engine(request: Request) -> CohortEngine:
    """The record-level cohort engine of governance: the lake's discovery engine (one per
    lake, answering at pinned lake versions too)."""
    engine: DiscoveryEngine = request.app.state.discovery_engine
    return engine


def discovery_engine(request: Request) -> DiscoveryEngine:
    """The app's discovery engine, whether or not its first index is built yet."""
    engine: DiscoveryEngine = request.app.state.discovery_engine
    return engine


def ready_engine(request: Request) -> DiscoveryEngine:
    """The app's discovery engine, waiting (up to :data:`FIRST_BUILD_WAIT` s) for its first
    index (:class:`~catalog_api.discovery.errors.IndexNotReadyError` otherwise)."""
    engine = discovery_engine(request)
    engine.wait_ready(getattr(request.app.state, "index_wait_seconds", FIRST_BUILD_WAIT))
    return engine


def control_for(request: Request) -> DisclosureControl:
    """The app's disclosure control (budgets and differencing history)."""
    control: DisclosureControl = request.app.state.disclosure_control
    return control


def audit_writer_for(app: Any) -> AuditWriter:
    """The app's discovery audit writer (group commit)."""
    writer: AuditWriter = app.state.discovery_audit
    return writer


async def get_control(request: Request) -> DisclosureControl:
    """:func:`control_for` as a dependency (async: no I/O)."""
    return control_for(request)


async def get_audit_writer(request: Request) -> AuditWriter:
    """:func:`audit_writer_for` as a dependency (async: no I/O)."""
    return audit_writer_for(request.app)


ConfigDep = Annotated[ApiConfig, Depends(get_config)]
LakeDep = Annotated[Lake, Depends(get_lake)]
SessionDep = Annotated[Session, Depends(get_session)]
EngineDep = Annotated[CohortEngine, Depends(get_engine)]
ReadyEngineDep = Annotated[DiscoveryEngine, Depends(ready_engine)]
ControlDep = Annotated[DisclosureControl, Depends(get_control)]
AuditWriterDep = Annotated[AuditWriter, Depends(get_audit_writer)]
BearerDep = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]

#: A database id in a path (bounded so that no driver overflows).
IdPath = Annotated[int, Path(ge=1, le=2_147_483_647, description="Numeric id.")]


_CACHE_LOCK = threading.Lock()


def token_cache_for(app: Any) -> TokenCache:
    """The app's cache of verified API tokens (made on first use, over its database)."""
    cache: TokenCache | None = getattr(app.state, "token_cache", None)
    if cache is None:
        with _CACHE_LOCK:
            cache = getattr(app.state, "token_cache", None)
            if cache is None:
                cache = app.state.token_cache = TokenCache(app.state.engine)
    return cache


def oidc_cache_for(app: Any) -> OidcCache:
    """The app's cache of verified OpenID Connect tokens (made on first use)."""
    cache: OidcCache | None = getattr(app.state, "oidc_cache", None)
    if cache is None:
        with _CACHE_LOCK:
            cache = getattr(app.state, "oidc_cache", None)
            if cache is None:
                cache = app.state.oidc_cache = OidcCache(app.state.engine)
    return cache


async def get_current_user(request: Request, config: ConfigDep, creds: BearerDep) -> User:
    """The authenticated caller, or 401 naming what is wrong with the credentials.

    An API token verified before is answered from :class:`~catalog_api.auth.cache.TokenCache`
    on the event loop: one primary-key read of the token's and its owner's current state
    (revocation, expiry, active, roles) per request, no session, no ORM, no worker thread.
    An OpenID Connect token verified before is answered from
    :class:`~catalog_api.auth.cache.OidcCache` the same way (its user's state probed, its
    key sets compared). Anything else (first use, a changed state) is verified the full
    way in a worker thread (:func:`_verify`)."""
    if creds is None or not creds.credentials:
        raise NotAuthenticated(
            "not authenticated: send 'Authorization: Bearer <token>' with an API token "
            "(create one with `oncolake tokens create`)"
        )
    token = creds.credentials
    grants: list[VisaGrant] = []
    cached: User | None = None
    if token.startswith(tokens.TOKEN_PREFIX):
        cached = token_cache_for(request.app).lookup(token)
    elif config.oidc_issuer and oidc.looks_like_jwt(token):
        hit = oidc_cache_for(request.app).lookup(token, config)
        if hit is not None:
            cached, grants = hit
    if cached is None:
        user, grants = await run_in_threadpool(_verify, request, config, token)
    else:
        user = cached
    request.state.user = user
    request.state.visa_grants = grants
    return user


def _verify(request: Request, config: ApiConfig, token: str) -> tuple[User, list[VisaGrant]]:
    """Verify ``token`` the full way in a session of its own (committed: last-used time,
    once a minute; a provisioned OpenID Connect user); a verified API token is cached."""
    factory: sessionmaker[Session] = request.app.state.sessionmaker
    with factory() as session:
        grants: list[VisaGrant] = []
        row = None
        if token.startswith(tokens.TOKEN_PREFIX):
            row = tokens.verify(session, token=token)
            user = row.user
        elif oidc.looks_like_jwt(token) and config.oidc_issuer:
            claims = oidc.verify_access_token(token, config)
            user = oidc.user_from_claims(session, claims, config)
            grants = oidc.passport_grants(claims, config)
        else:
            raise NotAuthenticated("the bearer token is not an oncolake API token (olk_…)")
        if session.new or session.dirty:
            session.commit()
        if row is not None:
            token_cache_for(request.app).remember(token, row)
        else:
            oidc_cache_for(request.app).remember(token, claims, user, grants, config)
        session.expunge(user)  # the routes read it; their own sessions load what they change
    return user, grants


CurrentUser = Annotated[User, Depends(get_current_user)]


async def get_visa_grants(request: Request, _user: CurrentUser) -> list[VisaGrant]:
    """The caller's verified GA4GH ControlledAccessGrants visas (empty for API tokens)."""
    grants: list[VisaGrant] = getattr(request.state, "visa_grants", [])
    return grants


VisaGrants = Annotated[list[VisaGrant], Depends(get_visa_grants)]


def require_roles(*roles: Role) -> Callable[[User], Awaitable[User]]:
    """A dependency that lets through only users holding one of ``roles`` (else 403)."""

    async def dependency(user: CurrentUser) -> User:  # no I/O: runs on the event loop
        policy.ensure_roles(user, *roles)
        return user

    dependency.__name__ = f"require_{'_or_'.join(r.value for r in roles)}"
    return dependency


ResearcherUser = Annotated[User, Depends(require_roles(Role.researcher))]
ReviewerUser = Annotated[User, Depends(require_roles(Role.reviewer))]
StewardUser = Annotated[User, Depends(require_roles(Role.steward))]
AdminUser = Annotated[User, Depends(require_roles(Role.admin))]
