"""Create/read/update functions over the application tables (keyword-only arguments).

They flush but do not commit: the caller (a route or a command) commits once, so that a
change and its audit entry are stored together or not at all.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog_api import audit
from catalog_api.auth.schemas import UserCreate, UserUpdate
from catalog_api.governance.errors import Conflict, NotFound
from catalog_api.models import User


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
