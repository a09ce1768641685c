"""Who may do what: every governance rule, written once, used by routes and commands.

Each ``ensure_*`` function raises :class:`Forbidden` (or :class:`NotFound` when the caller
must not even learn that the object exists) and names the rule that refused.
"""

from __future__ import annotations

from catalog_api.governance.errors import Forbidden, NotFound
from catalog_api.models import AccessRequest, CentrePart, Cohort, Export, Role, User


def ensure_roles(user: User, *roles: Role) -> None:
    """The user holds one of ``roles`` (:class:`Forbidden` naming the roles otherwise)."""
    if not user.has_role(*roles):
        names = " or ".join(r.value for r in roles)
        have = ", ".join(user.roles) or "no role"
        raise Forbidden(f"this needs the {names} role; {user.username} has {have}")


def is_admin(user: User) -> bool:
    """Admins see everything (they do not decide or request on others' behalf)."""
    return user.has_role(Role.admin)


def ensure_cohort_owner(user: User, cohort: Cohort) -> None:
    """Only the researcher who saved a cohort (or an admin, read-only) may see it."""
    if cohort.owner_id != user.id and not is_admin(user):
        raise NotFound(f"no cohort {cohort.id} of yours")


def ensure_cohort_writer(user: User, cohort: Cohort) -> None:
    """Only the owner may add versions to a cohort or re-count it."""
    if cohort.owner_id != user.id:
        raise NotFound(f"no cohort {cohort.id} of yours")


def visible_parts(user: User, request: AccessRequest) -> list[CentrePart]:
    """The centre parts of ``request`` that ``user`` may see."""
    if request.requester_id == user.id or is_admin(user):
        return list(request.parts)
    if user.has_role(Role.reviewer, Role.steward):
        return [p for p in request.parts if user.governs(p.centre_id)]
    return []


def ensure_can_view_request(user: User, request: AccessRequest) -> None:
    """The requester, admins, and reviewers/stewards of a contributing centre may view it."""
    if request.requester_id == user.id or is_admin(user) or visible_parts(user, request):
        return
    raise NotFound(f"no access request {request.id} visible to you")


def is_reviewer_of(user: User, request: AccessRequest) -> bool:
    """True if ``user`` reviews a centre contributing to ``request``."""
    return user.has_role(Role.reviewer) and any(user.governs(p.centre_id) for p in request.parts)


def ensure_can_read_trail(user: User, request: AccessRequest) -> None:
    """The requester, admins and the request's reviewers may read its audit trail."""
    ensure_can_view_request(user, request)
    if not (request.requester_id == user.id or is_admin(user) or is_reviewer_of(user, request)):
        raise NotFound(f"no audit trail of access request {request.id} visible to you")


def ensure_requester(user: User, request: AccessRequest) -> None:
    """Only the researcher who made a request may edit, submit or export it."""
    if request.requester_id != user.id:
        ensure_can_view_request(user, request)
        raise Forbidden(f"only the requester of access request {request.id} may do this")


def ensure_can_decide(user: User, request: AccessRequest, part: CentrePart) -> None:
    """A reviewer decides only for centres they govern, and never on their own request."""
    if not user.has_role(Role.reviewer):
        raise Forbidden("only reviewers (board members) decide on access requests")
    if request.requester_id == user.id:
        raise Forbidden(
            f"you submitted access request {request.id}; a reviewer may not decide on their "
            "own request"
        )
    if not user.governs(part.centre_id):
        raise Forbidden(
            f"you do not govern centre {part.centre_id}; your centres: "
            f"{', '.join(user.centres) or 'none'}"
        )


def ensure_can_revoke(user: User, request: AccessRequest) -> None:
    """The requester (withdrawing it) or an admin may revoke a request."""
    if request.requester_id != user.id and not is_admin(user):
        ensure_can_view_request(user, request)
        raise Forbidden(f"only the requester or an admin may revoke access request {request.id}")


def ensure_can_view_export(user: User, export: Export) -> None:
    """The requester, admins, and reviewers of an exported centre may see an export."""
    request = export.request
    if request.requester_id == user.id or is_admin(user):
        return
    if user.has_role(Role.reviewer, Role.steward) and any(user.governs(c) for c in export.centres):
        return
    raise NotFound(f"no export {export.id} visible to you")


def ensure_can_download(user: User, export: Export) -> None:
    """Only the researcher who requested the data may download it."""
    if export.request.requester_id != user.id:
        ensure_can_view_export(user, export)
        raise Forbidden(f"only the requester may download export {export.id}")
