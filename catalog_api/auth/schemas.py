"""Users and tokens as the API shows them (Base / Create / Update / Public)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

from catalog_api.models import NETWORK, Role

Username = Annotated[
    str,
    Field(
        min_length=2,
        max_length=64,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._@-]*$",
        description="Login name: letters, digits, '.', '_', '@', '-'.",
    ),
]
CentreId = Annotated[
    str,
    Field(
        min_length=1,
        max_length=64,
        pattern=r"^(\*|[A-Za-z0-9][A-Za-z0-9._-]*)$",
        description="A centre id, or '*' for the whole network.",
    ),
]


class UserBase(BaseModel):
    """Fields shared by every user model."""

    full_name: str = Field(default="", max_length=256)
    email: str = Field(default="", max_length=256)
    roles: list[Role] = Field(
        default_factory=list, description="researcher, reviewer, steward, admin"
    )
    centres: list[CentreId] = Field(
        default_factory=list,
        description=f"Centres a reviewer or steward acts for; '{NETWORK}' is the whole network.",
    )

    @field_validator("roles", "centres")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        return sorted(set(value))


class UserCreate(UserBase):
    """A new user."""

    username: Username


class UserUpdate(BaseModel):
    """Changes to a user (admins only); omitted fields stay."""

    full_name: str | None = Field(default=None, max_length=256)
    email: str | None = Field(default=None, max_length=256)
    roles: list[Role] | None = None
    centres: list[CentreId] | None = None
    is_active: bool | None = None


class UserPublic(UserBase):
    """A user as the API shows it."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    username: str
    is_active: bool
    created_at: dt.datetime


class TokenCreate(BaseModel):
    """A new API token."""

    name: str = Field(default="", max_length=128, description="What the token is for.")
    ttl_days: float = Field(default=90, gt=0, le=366, description="Days until it expires.")


class TokenPublic(BaseModel):
    """A token as listed (never the token itself)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    prefix: str
    created_at: dt.datetime
    expires_at: dt.datetime
    revoked_at: dt.datetime | None
    last_used_at: dt.datetime | None


class TokenCreated(TokenPublic):
    """A newly created token: ``token`` is shown this once and never again."""

    token: str
