"""What governance asks of the cohort engine, and how it shows the answers.

Governance needs record-level answers (never shown to the researcher): the patients per
contributing centre whose consent permits the request's purpose, at the lake version the
saved cohort is pinned to, to split a request into centre parts and to write an export.
The one cohort engine of the catalogue answers them:
:class:`~catalog_api.discovery.engine.DiscoveryEngine` (its ``patients_by_centre`` and
``centre_counts`` at a :class:`~harmonise.lake.LakeVersion`). This module validates the
stored definitions and purposes, turns the engine's errors into governance's (4xx), and
discloses counts with discovery's rule (:func:`catalog_api.discovery.disclosure.disclose_count`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from sqlalchemy.orm import Session

from catalog_api.discovery.definition import CohortDefinition, parse_definition
from catalog_api.discovery.disclosure import DisclosureControl, disclose_count
from catalog_api.discovery.errors import DiscoveryError
from catalog_api.governance.errors import Invalid
from catalog_api.models import User
from consent.errors import ConsentError
from consent.purpose import ResearchPurpose, parse_purpose
from consent.tags import canonical_json
from harmonise.lake import LakeVersion


class CohortEngine(Protocol):
    """Record-level cohort resolution for governance (implemented by ``DiscoveryEngine``)."""

    def patients_by_centre(
        self, definition: CohortDefinition, purpose: ResearchPurpose | None, version: LakeVersion
    ) -> dict[str, list[str]]:
        """Sorted patient ids per centre matching ``definition`` at ``version`` whose consent
        permits ``purpose`` (all matching patients when ``purpose`` is None)."""
        ...

    def centre_counts(
        self,
        definition: CohortDefinition,
        version: LakeVersion,
        purpose: ResearchPurpose | None = None,
    ) -> dict[str, int]:
        """Exact matching (and, with ``purpose``, permitted) patients per centre."""
        ...


def validate_definition(data: Any) -> CohortDefinition:
    """The definition as the discovery model validates it (:class:`Invalid` otherwise)."""
    try:
        return parse_definition(data)
    except ValueError as exc:
        raise Invalid(f"the cohort definition is not valid: {exc}") from None


def validate_purpose(data: Any) -> ResearchPurpose:
    """The research purpose (consent.purpose), or :class:`Invalid` naming the problem."""
    try:
        return parse_purpose(data)
    except (ConsentError, ValueError) as exc:
        raise Invalid(f"the research purpose is not valid: {exc}") from None


def patients_by_centre(
    engine: CohortEngine,
    definition: CohortDefinition,
    purpose: ResearchPurpose | None,
    version: LakeVersion,
) -> dict[str, list[str]]:
    """The engine's patients per centre at ``version``; its errors as :class:`Invalid`.

    The lake's own errors (``HarmoniseError``: the version expired) pass through for the
    caller to explain.
    """
    try:
        return engine.patients_by_centre(definition, purpose, version)
    except DiscoveryError as exc:
        raise Invalid(f"the cohort cannot be evaluated: {exc}") from None


def centre_counts(
    engine: CohortEngine,
    definition: CohortDefinition,
    version: LakeVersion,
    purpose: ResearchPurpose | None = None,
) -> dict[str, int]:
    """The engine's exact counts per centre at ``version``; its errors as :class:`Invalid`."""
    try:
        return engine.centre_counts(definition, version, purpose)
    except DiscoveryError as exc:
        raise Invalid(f"the cohort cannot be evaluated: {exc}") from None


def disclosed(n: int, *, threshold: int, rounding: int) -> str:
    """A count as governance shows it: discovery's disclosure rule, as a string."""
    return str(disclose_count(n, threshold=threshold, rounding=rounding))


def check_shown(
    control: DisclosureControl,
    *,
    user: User,
    query: Mapping[str, Any],
    shown: Mapping[str, Iterable[str]],
    definition: CohortDefinition,
    version: LakeVersion,
    session: Session,
) -> None:
    """Charge the numbers governance shows ``user`` (``{name: the patient ids it counts}``)
    to their query budget and pass them through the differencing check
    (:meth:`DisclosureControl.check_patients`), as the query ``query`` (its digest names
    it); :class:`DiscoveryError` if refused. In the session's transaction."""
    control.check_patients(
        user.username,
        hashlib.sha256(canonical_json(query)).hexdigest(),
        shown,
        version.id,
        definition=definition.digest(),
        conn=session.connection(),
    )
