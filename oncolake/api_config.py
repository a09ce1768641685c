"""Build the catalogue's :class:`~catalog_api.core.config.ApiConfig` from the settings.

The settings class is ``oncolake.settings.Settings``; the catalogue-only knobs that it does
not (yet) carry are read here from the environment, all prefixed ``ONCOLAKE_``:
``QUORUM`` (default approvals per centre), ``CENTRE_QUORUMS`` (``C1=2,C2=1``),
``OIDC_ISSUER``, ``OIDC_AUDIENCE``, ``OIDC_JWKS_URL``, ``VISA_ISSUERS`` (JSON issuer →
JWKS URL), ``VISA_GRANTS`` (JSON visa value → centre id), ``DOWNLOAD_LINK_SECONDS``.
"""

from __future__ import annotations

import os

from catalog_api.core.config import ApiConfig
from oncolake.settings import Settings, SettingsError, get_settings


def _env(name: str, default: str = "") -> str:
    return os.environ.get(f"ONCOLAKE_{name}", default).strip()


def api_config(settings: Settings | None = None) -> ApiConfig:
    """The catalogue's configuration for ``settings`` (default: the environment)."""
    s = settings or get_settings()
    extra: dict[str, str] = {}
    for item in filter(None, (p.strip() for p in _env("CENTRE_QUORUMS").split(","))):
        centre, _, n = item.partition("=")
        if not n.strip().isdigit():
            raise SettingsError(
                f"ONCOLAKE_CENTRE_QUORUMS: {item!r} is not centre=number (e.g. C1=2,C2=1)"
            )
        extra[f"quorum:{centre.strip()}"] = n.strip()
    for key in ("VISA_ISSUERS", "VISA_GRANTS", "DOWNLOAD_LINK_SECONDS"):
        if _env(key):
            extra[key.lower()] = _env(key)
    quorum = _env("QUORUM", "1")
    if not quorum.isdigit() or int(quorum) < 1:
        raise SettingsError(f"ONCOLAKE_QUORUM must be a whole number ≥ 1, not {quorum!r}")
    home = s.ensure_home()
    return ApiConfig(
        database_url=s.database_uri,
        secret_key=s.secret("secret_key"),
        tag_signing_key=s.secret("tag_signing_key"),
        home=home,
        exports_dir=home / "exports",
        quorum=int(quorum),
        oidc_issuer=_env("OIDC_ISSUER"),
        oidc_audience=_env("OIDC_AUDIENCE"),
        oidc_jwks_url=_env("OIDC_JWKS_URL"),
        production=s.is_production,
        extra=extra,
    )
