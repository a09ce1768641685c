"""Verified API tokens, cached by their digest, re-checked against the database on every use.

Verifying a token the full way (:func:`catalog_api.auth.tokens.authenticate`: an ORM
query by hash, the owner loaded through the relationship, ``last_used_at`` kept, a
session and a worker-thread hop per request) cost more than a count. A
:class:`TokenCache` keeps, per token digest (its SHA-256, the form the database stores),
what the full verification accepted: the token's row id, its expiry, its owner as a
detached :class:`~catalog_api.models.User`, and the *state* it was accepted in — the raw
values of the token row's ``revoked_at``, ``expires_at``, ``last_used_at`` and of the
owner's row (active flag, roles, centres, names).

Every use still reads that state from the database: one primary-key probe of
``api_tokens`` joined with ``users`` on a connection of the cache's own (no pool
checkout, no ORM), about 30 µs on SQLite. The cached owner is used only when the state
read is *identical* to the accepted one and the token has not expired by the clock;
anything else — revoked, expired, deactivated, roles or centres changed, or
``last_used_at`` due for its once-a-minute write — falls back to the full verification,
which says why it refuses (the same words as without the cache) or accepts and caches
the new state. So:

* **revocation stays immediate**: a revocation (API, web sign-out, CLI, another replica)
  is a committed write of ``revoked_at``; the next request with the token, on any
  replica, reads it in its probe and is refused. Nothing is invalidated or broadcast,
  and no request is answered from a state older than the last commit;
* a database error in the probe never lets a request through: it falls back to the full
  verification, which fails as before (503 when the database is busy);
* an unknown token is verified the full way each time (no negative cache), as before.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import make_transient_to_detached

from catalog_api.auth import oidc, tokens
from catalog_api.core.config import ApiConfig
from catalog_api.db import utcnow
from catalog_api.models import ApiToken, User

#: Verified tokens kept (least recently used dropped first).
MAX_ENTRIES = 10_000

_PROBE = (
    "SELECT t.revoked_at, t.expires_at, t.last_used_at, u.is_active, u.roles, u.centres, "
    "u.username, u.full_name, u.email, u.external_id, u.id "
    "FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.id = {p}"
)


@dataclass(frozen=True)
class _Entry:
    token_id: int
    expires_at: dt.datetime
    last_used_at: dt.datetime | None
    state: tuple[Any, ...]  # the probe's row when the token was accepted
    user: User  # detached: read it, never add it to a session


class _Prober:
    """One primary-key read per use, on a DBAPI connection of each thread's own."""

    def __init__(self, engine: Engine, sql: str) -> None:
        self.engine = engine
        self._local = threading.local()
        marker = "?" if engine.dialect.paramstyle == "qmark" else "%s"
        self._sql = sql.format(p=marker)
        self.hits = 0
        self.misses = 0

    # -- the probe -----------------------------------------------------------------------

    def _connection(self) -> Any:
        """This thread's own DBAPI connection (autocommit: a probe never holds a read
        snapshot, so it sees every committed revocation)."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            dialect = self.engine.dialect
            cargs, cparams = dialect.create_connect_args(self.engine.url)
            conn = dialect.loaded_dbapi.connect(*cargs, **cparams)
            if dialect.name == "sqlite":
                conn.isolation_level = None  # autocommit: no implicit transaction
                conn.execute("PRAGMA busy_timeout=5000")
            else:
                conn.autocommit = True
            self._local.conn = conn
        return conn

    def _probe(self, row_id: int) -> tuple[Any, ...] | None:
        """The probed row's state now, or None if it cannot be read."""
        try:
            cur = self._connection().cursor()
            try:
                cur.execute(self._sql, (row_id,))
                row = cur.fetchone()
            finally:
                cur.close()
        except Exception:  # any driver error: drop the connection, verify the full way
            self._drop_connection()
            return None
        return tuple(row) if row is not None else None

    def _drop_connection(self) -> None:
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None:
            with contextlib.suppress(Exception):  # already broken
                conn.close()


class TokenCache(_Prober):
    """Verified API tokens of one application database (see the module doc)."""

    def __init__(self, engine: Engine, max_entries: int = MAX_ENTRIES) -> None:
        super().__init__(engine, _PROBE)
        self.max_entries = max_entries
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._lock = threading.Lock()

    # -- use -----------------------------------------------------------------------------

    def lookup(self, token: str) -> User | None:
        """The owner of ``token`` if it was verified before and its state in the database
        is still exactly the accepted one (and it has not expired); None otherwise: verify
        it the full way (:meth:`verify`)."""
        digest = tokens.hash_token(token)
        with self._lock:
            entry = self._entries.get(digest)
            if entry is not None:
                self._entries.move_to_end(digest)
        if entry is None:
            self.misses += 1
            return None
        now = utcnow()
        due = entry.last_used_at is None or (
            now - entry.last_used_at >= tokens.LAST_USED_RESOLUTION
        )
        if entry.expires_at <= now or due or self._probe(entry.token_id) != entry.state:
            self.forget(digest)
            self.misses += 1
            return None
        self.hits += 1
        return entry.user

    def remember(self, token: str, row: ApiToken) -> None:
        """Cache ``row`` (just verified and committed by :func:`tokens.authenticate`)."""
        state = self._probe(row.id)
        if state is None:
            return
        entry = _Entry(row.id, row.expires_at, row.last_used_at, state, _detached(row.user))
        with self._lock:
            self._entries[tokens.hash_token(token)] = entry
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def forget(self, digest: str) -> None:
        """Drop one cached token (by digest)."""
        with self._lock:
            self._entries.pop(digest, None)

    def clear(self) -> None:
        """Drop every cached token."""
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


def _detached(u: User) -> User:
    """A copy of ``u`` detached from every session (read it, never add it to one)."""
    user = User(
        id=u.id,
        username=u.username,
        full_name=u.full_name,
        email=u.email,
        roles=list(u.roles),
        centres=list(u.centres),
        is_active=u.is_active,
        external_id=u.external_id,
        created_at=u.created_at,
    )
    make_transient_to_detached(user)
    return user


# -- OpenID Connect access tokens ------------------------------------------------------------

_USER_PROBE = (
    "SELECT u.is_active, u.roles, u.centres, u.username, u.full_name, u.email, "
    "u.external_id, u.id FROM users u WHERE u.id = {p}"
)


@dataclass(frozen=True)
class _OidcEntry:
    expires: float  # epoch seconds: the token's exp, or an earlier visa's
    user_id: int
    state: tuple[Any, ...]  # the users row when the token was accepted
    keys: tuple[Any, ...]  # the key sets (by identity) the token and its visas were verified with
    user: User  # detached
    grants: tuple[oidc.VisaGrant, ...]


class OidcCache(_Prober):
    """Verified OpenID Connect access tokens of one application, by token digest.

    What is cached is what costs: the signature verification of the token and of its
    passport's visas (RSA/EC per JWT, with joserfc's parsing and claim checks), the user
    lookup and the provisioning commit. What is not cached is what may change while the
    token is valid, read again on every use:

    * the **user's row** (active flag, roles, centres, names), by one primary-key probe
      as :class:`TokenCache` does: a deactivated user is refused on the next request, by
      the full path's own words; any other change also re-verifies the full way (which
      refreshes roles and centres from the token, as without the cache);
    * the **key sets**: an entry holds the issuer's and the visa issuers' key sets it was
      verified with (:meth:`catalog_api.auth.oidc.JwksCache.current`); when one was
      fetched again (its TTL passed, or a token named an unknown key id) or is stale,
      the token is verified again against the new keys, so a key the issuer revoked
      stops a token or a visa exactly when the full path would;
    * **expiry**: an entry lasts until the token's ``exp`` or the earliest ``exp`` of a
      visa it grants, whichever is first (without the full path's 30 s leeway: after
      it, the full path decides).

    A visa refused at verification stays refused while the token is cached (a cache can
    only grant less than a fresh verification, never more). Unknown or invalid tokens are
    not cached (no negative cache)."""

    def __init__(self, engine: Engine, max_entries: int = MAX_ENTRIES) -> None:
        super().__init__(engine, _USER_PROBE)
        self.max_entries = max_entries
        self._entries: OrderedDict[str, _OidcEntry] = OrderedDict()
        self._lock = threading.Lock()
        self._urls: tuple[ApiConfig | None, tuple[str, ...]] = (None, ())

    def _key_sets(self, config: ApiConfig) -> tuple[Any, ...]:
        seen, urls = self._urls
        if seen is not config:  # the app's one config: its visa issuers parsed once
            urls = (config.oidc_jwks_url, *sorted(oidc.visa_issuers(config).values()))
            self._urls = (config, urls)
        return tuple(oidc.JWKS.current(u) for u in urls)

    def lookup(self, token: str, config: ApiConfig) -> tuple[User, list[oidc.VisaGrant]] | None:
        """The user and visa grants of ``token`` if it was verified before and nothing
        it depends on changed (see the class doc); None: verify it the full way."""
        digest = tokens.hash_token(token)
        with self._lock:
            entry = self._entries.get(digest)
            if entry is not None:
                self._entries.move_to_end(digest)
        if entry is None:
            self.misses += 1
            return None
        keys = self._key_sets(config)
        if (
            entry.expires <= time.time()
            or any(a is not b for a, b in zip(keys, entry.keys, strict=True))
            or self._probe(entry.user_id) != entry.state
        ):
            self.forget(digest)
            self.misses += 1
            return None
        self.hits += 1
        return entry.user, list(entry.grants)

    def remember(
        self,
        token: str,
        claims: dict[str, Any],
        user: User,
        grants: list[oidc.VisaGrant],
        config: ApiConfig,
    ) -> None:
        """Cache a token just verified the full way (its user committed)."""
        state = self._probe(user.id)
        keys = self._key_sets(config)
        if state is None or keys[0] is None:
            return
        expires = float(min([int(claims["exp"]), *(g.expires for g in grants)]))
        entry = _OidcEntry(expires, user.id, state, keys, _detached(user), tuple(grants))
        with self._lock:
            self._entries[tokens.hash_token(token)] = entry
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def forget(self, digest: str) -> None:
        """Drop one cached token (by digest)."""
        with self._lock:
            self._entries.pop(digest, None)

    def clear(self) -> None:
        """Drop every cached token."""
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
