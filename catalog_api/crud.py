"""Create/read/update functions over the application tables (keyword-only arguments).

They flush but do not commit: the caller (a route or a command) commits once, so that a
change and its audit entry are stored together or not at all.
"""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from catalog_api import audit
from catalog_api.auth.schemas import UserCreate, UserUpdate
from catalog_api.governance.errors import Conflict, NotFound
from catalog_api.models import (
    NETWORK,
    AccessRequest,
    CentrePart,
    Cohort,
    CohortVersion,
    Export,
    Role,
    User,
)


def get_user(session: Session, *, user_id: int) -> User:
    """The user ``user_id`` or :class:`NotFound`."""
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"no user {user_id}")
    return user


def get_user_by_username(session: Session, *, username: str) -> User | None:
    """The user called ``username``, if any."""
    return session.execute(select(User).where(User.username == username)).scalar_one_or_none()


def list_users(session: Session, *, offset: int = 0, limit: int = 100) -> list[User]:
    """Users by id."""
    stmt = select(User).order_by(User.id).offset(offset).limit(limit)
    return list(session.execute(stmt).scalars())


def create_user(session: Session, *, user_in: UserCreate, actor: User | str | None) -> User:
    """Create a user (:class:`Conflict` if the name is taken); audited."""
    if get_user_by_username(session, username=user_in.username) is not None:
        raise Conflict(f"the username {user_in.username!r} is taken")
    user = User(
        username=user_in.username,
        full_name=user_in.full_name,
        email=user_in.email,
        roles=[r.value for r in user_in.roles],
        centres=list(user_in.centres),
    )
    session.add(user)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="user.created",
        subject=f"user:{user.id}",
        details={"username": user.username, "roles": user.roles, "centres": user.centres},
    )
    return user


def update_user(
    session: Session, *, user: User, user_in: UserUpdate, actor: User | str | None
) -> User:
    """Apply the given changes to ``user``; audited with the changed fields."""
    changes = user_in.model_dump(exclude_unset=True, mode="json")
    changes = {k: v for k, v in changes.items() if v is not None}
    for key, value in changes.items():
        setattr(user, key, sorted(set(value)) if isinstance(value, list) else value)
    session.flush()
    audit.record(
        session, actor=actor, action="user.updated", subject=f"user:{user.id}", details=changes
    )
    return user


# -- cohorts, requests, exports ------------------------------------------------------------


def get_cohort(session: Session, *, cohort_id: int) -> Cohort:
    """The cohort ``cohort_id`` or :class:`NotFound`."""
    cohort = session.get(Cohort, cohort_id)
    if cohort is None:
        raise NotFound(f"no cohort {cohort_id}")
    return cohort


def list_cohorts(
    session: Session, *, owner: User | None, offset: int = 0, limit: int = 100
) -> list[Cohort]:
    """Cohorts of ``owner`` (every cohort when None), newest first."""
    stmt = select(Cohort).order_by(Cohort.id.desc()).offset(offset).limit(limit)
    if owner is not None:
        stmt = stmt.where(Cohort.owner_id == owner.id)
    return list(session.execute(stmt).scalars())


def get_cohort_version(session: Session, *, cohort: Cohort, version: int | None) -> CohortVersion:
    """Version ``version`` of ``cohort`` (its newest when None) or :class:`NotFound`."""
    if not cohort.versions:
        raise NotFound(f"cohort {cohort.id} has no saved version")
    if version is None:
        return cohort.versions[-1]
    for v in cohort.versions:
        if v.version == version:
            return v
    raise NotFound(f"cohort {cohort.id} has no version {version} (it has 1–{len(cohort.versions)})")


def get_access_request(session: Session, *, request_id: int) -> AccessRequest:
    """The access request ``request_id`` or :class:`NotFound`."""
    req = session.get(AccessRequest, request_id)
    if req is None:
        raise NotFound(f"no access request {request_id}")
    return req


def list_access_requests(
    session: Session, *, user: User, offset: int = 0, limit: int = 100
) -> list[AccessRequest]:
    """Requests ``user`` may see: own, of centres governed (reviewers, stewards), all (admins)."""
    stmt = select(AccessRequest).order_by(AccessRequest.id.desc())
    if not user.has_role(Role.admin):
        conds = [AccessRequest.requester_id == user.id]
        if user.has_role(Role.reviewer, Role.steward) and user.centres:
            parts = select(CentrePart.request_id)
            if NETWORK not in user.centres:
                parts = parts.where(CentrePart.centre_id.in_(user.centres))
            conds.append(AccessRequest.id.in_(parts))
        stmt = stmt.where(or_(*conds))
    return list(session.execute(stmt.offset(offset).limit(limit)).scalars())


def get_export(session: Session, *, export_id: int) -> Export:
    """The export ``export_id`` or :class:`NotFound`."""
    export = session.get(Export, export_id)
    if export is None:
        raise NotFound(f"no export {export_id}")
    return export


def list_exports(
    session: Session, *, user: User, offset: int = 0, limit: int = 100
) -> list[Export]:
    """Exports of the caller's requests (every export for admins), newest first."""
    stmt = select(Export).order_by(Export.id.desc())
    if not user.has_role(Role.admin):
        stmt = stmt.join(AccessRequest).where(AccessRequest.requester_id == user.id)
    return list(session.execute(stmt.offset(offset).limit(limit)).scalars())
