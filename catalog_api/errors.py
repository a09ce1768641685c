"""The one base class of the catalogue's user-facing errors.

The app's exception handler answers ``{"detail": str(exc)}`` with the class's
``status_code``. It subclasses ``ValueError`` so that the command line prints these errors
as one line without a traceback. Each part of the catalogue (discovery, governance) names
its own errors below it.
"""

from __future__ import annotations


class ApiError(ValueError):
    """Base class: a request the caller can fix (HTTP 4xx, or 503 to retry)."""

    status_code = 400
