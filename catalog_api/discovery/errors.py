"""Errors of catalog_api.discovery: small named classes, one docstring each.

Every message says what was wrong and how to fix it; the API turns them into 4xx answers
with the message as ``detail``.
"""

from __future__ import annotations

from catalog_api.errors import ApiError


class DiscoveryError(ApiError):
    """Base class of every discovery error (a client error: HTTP 4xx)."""


class DefinitionError(DiscoveryError):
    """A cohort definition is malformed or names unknown fields, codes or values."""

    status_code = 400


class PurposeRequiredError(DiscoveryError):
    """A discovery request states no research purpose, or an invalid one."""

    status_code = 400


class QueryBudgetExceededError(DiscoveryError):
    """The user has used up their count queries for the current window (HTTP 429)."""

    status_code = 429


class DifferencingRefusedError(DiscoveryError):
    """The query's answer differs from a recent one of the same user by fewer patients than
    the disclosure threshold: answering would let the two be subtracted (HTTP 409)."""

    status_code = 409


class IndexNotReadyError(DiscoveryError):
    """The in-memory index of the lake has not been built yet (HTTP 503); retry shortly."""

    status_code = 503


class AuditFailedError(DiscoveryError):
    """A count's audit entry could not be committed, so the count is not answered
    (HTTP 503); retry shortly."""

    status_code = 503
