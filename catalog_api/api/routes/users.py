"""Users and their API tokens."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Query, status

from catalog_api import audit, crud
from catalog_api.api.deps import AdminUser, CurrentUser, IdPath, SessionDep
from catalog_api.auth import tokens
from catalog_api.auth.schemas import (
    TokenCreate,
    TokenCreated,
    TokenPublic,
    UserCreate,
    UserPublic,
    UserUpdate,
)

router = APIRouter(prefix="/users", tags=["users"])


@router.get("/me", response_model=UserPublic)
def read_me(user: CurrentUser) -> UserPublic:
    """The caller."""
    return UserPublic.model_validate(user)


@router.get("", response_model=list[UserPublic])
def list_users(
    session: SessionDep,
    _admin: AdminUser,
    offset: int = Query(0, ge=0, le=1_000_000),
    limit: int = Query(100, ge=1, le=1000),
) -> list[UserPublic]:
    """Every user (admins only)."""
    return [
        UserPublic.model_validate(u) for u in crud.list_users(session, offset=offset, limit=limit)
    ]


@router.post("", response_model=UserPublic, status_code=status.HTTP_201_CREATED)
def create_user(user_in: UserCreate, session: SessionDep, admin: AdminUser) -> UserPublic:
    """Create a user with roles and centres (admins only)."""
    user = crud.create_user(session, user_in=user_in, actor=admin)
    session.commit()
    return UserPublic.model_validate(user)


@router.get("/{user_id}", response_model=UserPublic)
def read_user(user_id: IdPath, session: SessionDep, _admin: AdminUser) -> UserPublic:
    """One user (admins only)."""
    return UserPublic.model_validate(crud.get_user(session, user_id=user_id))


@router.patch("/{user_id}", response_model=UserPublic)
def update_user(
    user_id: IdPath, user_in: UserUpdate, session: SessionDep, admin: AdminUser
) -> UserPublic:
    """Change a user's roles, centres, details or active flag (admins only)."""
    user = crud.get_user(session, user_id=user_id)
    crud.update_user(session, user=user, user_in=user_in, actor=admin)
    session.commit()
    return UserPublic.model_validate(user)


@router.get("/me/tokens", response_model=list[TokenPublic])
def list_my_tokens(session: SessionDep, user: CurrentUser) -> list[TokenPublic]:
    """The caller's API tokens (never the tokens themselves)."""
    return [TokenPublic.model_validate(t) for t in tokens.list_tokens(session, user=user)]


@router.post("/me/tokens", response_model=TokenCreated, status_code=status.HTTP_201_CREATED)
def create_my_token(body: TokenCreate, session: SessionDep, user: CurrentUser) -> TokenCreated:
    """A new API token for the caller: the token is in this answer only."""
    row, token = tokens.create_token(
        session, user=user, name=body.name, ttl=dt.timedelta(days=body.ttl_days)
    )
    audit.record(
        session,
        actor=user,
        action="token.created",
        subject=f"user:{user.id}",
        details={
            "token_id": row.id,
            "prefix": row.prefix,
            "expires_at": row.expires_at.isoformat(),
        },
    )
    session.commit()
    return TokenCreated(**TokenPublic.model_validate(row).model_dump(), token=token)


@router.delete("/me/tokens/{token_id}", response_model=TokenPublic)
def revoke_my_token(token_id: IdPath, session: SessionDep, user: CurrentUser) -> TokenPublic:
    """Revoke one of the caller's tokens (it stops working at once)."""
    row = tokens.revoke_token(session, user=user, token_id=token_id)
    audit.record(
        session,
        actor=user,
        action="token.revoked",
        subject=f"user:{user.id}",
        details={"token_id": row.id, "prefix": row.prefix},
    )
    session.commit()
    return TokenPublic.model_validate(row)
