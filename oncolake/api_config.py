"""Build the catalogue's :class:`~catalog_api.core.config.ApiConfig` from the settings.

Every knob is a field of ``oncolake.settings.Settings`` (one ``ONCOLAKE_*`` variable each):
``QUORUM`` and ``CENTRE_QUORUMS`` (``C1=2,C2=1``), ``OIDC_ISSUER``, ``OIDC_AUDIENCE``,
``OIDC_JWKS_URL``, ``VISA_ISSUERS`` (JSON issuer → JWKS URL), ``VISA_GRANTS`` (JSON visa value
→ centre id), ``DOWNLOAD_LINK_SECONDS`` and the disclosure-control settings.
"""

from __future__ import annotations

from catalog_api.core.config import ApiConfig
from oncolake.settings import Settings, SettingsError, get_settings


def api_config(settings: Settings | None = None) -> ApiConfig:
    """The catalogue's configuration for ``settings`` (default: the environment)."""
    s = settings or get_settings()
    extra: dict[str, str] = {}
    for item in filter(None, (p.strip() for p in s.centre_quorums.split(","))):
        centre, _, n = item.partition("=")
        if not n.strip().isdigit() or int(n) < 1:
            raise SettingsError(
                f"ONCOLAKE_CENTRE_QUORUMS: {item!r} is not centre=number (e.g. C1=2,C2=1)"
            )
        extra[f"quorum:{centre.strip()}"] = n.strip()
    if s.visa_issuers:
        extra["visa_issuers"] = s.visa_issuers
    if s.visa_grants:
        extra["visa_grants"] = s.visa_grants
    if s.download_link_seconds:
        extra["download_link_seconds"] = str(s.download_link_seconds)
    home = s.ensure_home()
    return ApiConfig(
        database_url=s.database_uri,
        secret_key=s.secret("secret_key"),
        tag_signing_key=s.secret("tag_signing_key"),
        audit_key=s.secret("audit_key"),
        home=home,
        exports_dir=home / "exports",
        disclosure_threshold=s.disclosure_threshold,
        disclosure_rounding=s.disclosure_rounding,
        query_budget=s.query_budget,
        query_window_seconds=s.query_window_seconds,
        disclosure_history_days=s.disclosure_history_days,
        quorum=s.quorum,
        oidc_issuer=s.oidc_issuer,
        oidc_audience=s.oidc_audience,
        oidc_jwks_url=s.oidc_jwks_url,
        production=s.is_production,
        extra=extra,
    )
