"""The catalogue's configuration, built by the composition root (``oncolake``) from settings.

catalog_api does not read the environment itself: ``oncolake.settings.Settings`` is the one
settings class; ``oncolake`` turns it into an :class:`ApiConfig`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class ApiConfig:
    """What the catalogue service needs to run."""

    database_url: str
    secret_key: bytes
    tag_signing_key: bytes
    home: Path
    exports_dir: Path
    #: Keys the audit chain's HMAC digests and anchors (empty: derived from ``secret_key``).
    audit_key: bytes = b""
    #: Counts below this are never shown as numbers (shown as ``<threshold``).
    disclosure_threshold: int = 5
    #: Counts at or above the threshold are rounded to a multiple of this.
    disclosure_rounding: int = 5
    #: Count queries a user may make per window (differencing limit).
    query_budget: int = 200
    query_window_seconds: int = 3600
    #: Days the differencing check remembers each answer (the disclosure history).
    disclosure_history_days: float = 365.0
    #: Approvals needed per centre before its part of a request is approved.
    quorum: int = 1
    #: OpenID Connect: issuer, audience and JWKS URL; empty disables OIDC.
    oidc_issuer: str = ""
    oidc_audience: str = ""
    oidc_jwks_url: str = ""
    production: bool = False
    extra: dict[str, str] = field(default_factory=dict)
