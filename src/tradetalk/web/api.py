"""Server API for web sign-in links (the operator's API key)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, status
from pydantic import BaseModel, Field

from tradetalk.accounts.schemas import UserIdPath
from tradetalk.deps import ServerKey, UoW
from tradetalk.kit.schemas import problems
from tradetalk.web import service as web_service

router = APIRouter(prefix="/v1", tags=["server: users"], dependencies=[ServerKey])


class LoginLinkOut(BaseModel):
    """A one-time sign-in link for the web pages."""

    url: str = Field(description="Open it once, before `expires_at`, to be signed in.")
    expires_at: datetime


@router.post(
    "/users/{user_id}/login-links",
    response_model=LoginLinkOut,
    status_code=status.HTTP_201_CREATED,
    responses=problems(401, 404, 422, 429),
)
async def create_login_link(user_id: UserIdPath, uow: UoW) -> LoginLinkOut:
    """A short-lived, one-time link that signs the user in to the web pages (default 5 minutes,
    `TRADETALK_LOGIN_LINK_TTL_SECONDS`), at most `TRADETALK_LOGIN_LINKS_PER_HOUR` per user (429
    past that). Revoking the user's tokens ends their sessions and voids unused links."""
    secret, expires_at = await web_service.do_create_login_link(uow, user_id)
    base = uow.ctx.settings.public_url.rstrip("/")
    return LoginLinkOut(url=f"{base}/web/login/{secret}", expires_at=expires_at)
