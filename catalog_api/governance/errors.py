"""Governance errors: small named classes, each with its HTTP status (base: catalog_api.errors).

The app's exception handler answers ``{"detail": str(exc)}`` with ``status_code``; the
message says what was wrong and how to fix it. They subclass ``ValueError`` so that the
command line prints them as one line without a traceback.
"""

from __future__ import annotations

from catalog_api.errors import ApiError

__all__ = ["ApiError", "Conflict", "Forbidden", "Gone", "Invalid", "NotAuthenticated", "NotFound"]


class NotAuthenticated(ApiError):
    """No valid credentials: missing, unknown, expired or revoked token, bad JWT."""

    status_code = 401


class Forbidden(ApiError):
    """Authenticated, but the policy does not allow this user to do this."""

    status_code = 403


class NotFound(ApiError):
    """The resource does not exist (or is not visible to the caller)."""

    status_code = 404


class Conflict(ApiError):
    """The resource's state does not allow this now (e.g. deciding on a draft)."""

    status_code = 409


class Invalid(ApiError):
    """The input is well-formed but not acceptable (e.g. unknown field, bad definition)."""

    status_code = 422


class Gone(ApiError):
    """The resource existed but can no longer be used (expired link, revoked export)."""

    status_code = 410
