"""Errors of catalog_api.analytics: small named classes, one docstring each.

They are discovery errors (the API answers them as 4xx with the message as ``detail``)
because an analytics question is a cohort question with more asked of it.
"""

from __future__ import annotations

from catalog_api.discovery.errors import DiscoveryError


class AnalyticsError(DiscoveryError):
    """Base class of every analytics error (a client error: HTTP 4xx)."""


class AnalyticsInputError(AnalyticsError):
    """An estimator or a request was given input it cannot use (bad shape, missing value,
    no rows, groups that overlap); the message says which and how to fix it."""

    status_code = 400
