"""What crosses the wire for users and tokens."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Path
from pydantic import BaseModel, EmailStr, Field, StringConstraints

from tradetalk.kit.schemas import (
    PLAIN_TEXT_NOT_BLANK,
    REFUSE_CONTROLS,
    Input,
)

USER_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,63}$"

UserId = Annotated[
    str,
    StringConstraints(pattern=USER_ID_PATTERN),
]
UserIdPath = Annotated[
    str,
    Path(
        pattern=USER_ID_PATTERN,
        description="The operator's own id for the user (1-64 of A-Z a-z 0-9 . _ : @ -).",
    ),
]
DisplayName = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=100, pattern=PLAIN_TEXT_NOT_BLANK
    ),
    REFUSE_CONTROLS,
]


class UserUpsert(Input):
    """The operator's description of a user."""

    display_name: DisplayName
    email: EmailStr | None = None
    is_support: bool = False


class UserOut(BaseModel):
    """A user as the server API shows it to the operator."""

    id: str
    display_name: str
    email: str | None
    is_support: bool
    created_at: datetime
    updated_at: datetime


class TokenRequest(Input):
    """How long the new token should live."""

    ttl_seconds: int | None = Field(
        default=None, ge=60, le=86400, description="Lifetime in seconds (default 3600)."
    )


class TokenOut(BaseModel):
    """A user token, to be handed to that user's client."""

    token: str
    expires_at: datetime
