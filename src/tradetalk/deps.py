"""Request dependencies: the app context, units of work and who is asking."""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from tradetalk.accounts import service as accounts_service
from tradetalk.accounts import tokens
from tradetalk.accounts.models import User
from tradetalk.accounts.tokens import TokenClaims
from tradetalk.context import AppContext
from tradetalk.db import UnitOfWork, read_session, unit_of_work
from tradetalk.errors import NotFound, Unauthenticated

_bearer = HTTPBearer(auto_error=False, description="A user token or the server API key.")


async def get_ctx(request: Request) -> AppContext:
    """The context of the app serving this request (async: a plain def would cost a hop to
    the thread pool on every request)."""
    ctx: AppContext = request.app.state.ctx
    return ctx


Ctx = Annotated[AppContext, Depends(get_ctx)]


async def get_uow(ctx: Ctx) -> AsyncIterator[UnitOfWork]:
    """A write transaction that commits before the response is sent."""
    async with unit_of_work(ctx) as uow:
        yield uow


async def get_read_session(ctx: Ctx) -> AsyncIterator[AsyncSession]:
    """A read-only session for GET requests."""
    async with read_session(ctx) as session:
        yield session


# scope="function": the transaction commits before the response leaves, so an acknowledged
# write is a committed write.
UoW = Annotated[UnitOfWork, Depends(get_uow, scope="function")]
ReadSession = Annotated[AsyncSession, Depends(get_read_session, scope="function")]
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def _is_server_key(ctx: AppContext, presented: str) -> bool:
    key = ctx.settings.server_api_key
    return key is not None and hmac.compare_digest(
        presented.encode(), key.get_secret_value().encode()
    )


def token_claims(ctx: AppContext, credentials: HTTPAuthorizationCredentials | None) -> TokenClaims:
    """The claims of a bearer user token whose signature and expiry hold, read before anything
    from the database (401 for none, a bad one or the server key); `user_of_claims` or
    `check_token_user` then checks that it was not revoked."""
    if credentials is None:
        raise Unauthenticated("Send a user token as 'Authorization: Bearer <token>'.")
    if _is_server_key(ctx, credentials.credentials):
        raise Unauthenticated("This endpoint takes a user token, not the server API key.")
    return tokens.verify(
        credentials.credentials, now=ctx.clock.now(), secret=ctx.settings.secret_bytes()
    )


async def authenticate(
    ctx: AppContext, session: AsyncSession, credentials: HTTPAuthorizationCredentials | None
) -> User:
    """The user behind a bearer credential (401 for none, a bad one or the server key)."""
    return await accounts_service.user_of_claims(session, token_claims(ctx, credentials))


async def user_for_write(ctx: Ctx, uow: UoW, credentials: Credentials) -> User:
    """The user behind the bearer token, loaded in the request's write transaction."""
    return await authenticate(ctx, uow.session, credentials)


async def user_for_read(ctx: Ctx, session: ReadSession, credentials: Credentials) -> User:
    """The user behind the bearer token, loaded in the request's read session."""
    return await authenticate(ctx, session, credentials)


async def require_server_key(ctx: Ctx, credentials: Credentials) -> None:
    """Let only the operator's backend through."""
    if credentials is None or not _is_server_key(ctx, credentials.credentials):
        raise Unauthenticated("This endpoint takes the server API key.")


async def user_without_session(ctx: Ctx, credentials: Credentials) -> User:
    """The user behind the bearer token, for requests that stream a large body (uploads): the
    session is closed before the handler runs, so no connection is held while bytes arrive."""
    async with read_session(ctx) as session:
        return await authenticate(ctx, session, credentials)


CurrentUser = Annotated[User, Depends(user_for_write, scope="function")]
CurrentReader = Annotated[User, Depends(user_for_read, scope="function")]
ServerKey = Depends(require_server_key)


async def moderator_id(ctx: Ctx, uow: UoW, credentials: Credentials) -> str:
    """Who moderates: a support user (their id) or the operator's backend ("operator").

    Anyone else gets 404, as if the moderation API did not exist."""
    if credentials is not None and _is_server_key(ctx, credentials.credentials):
        return "operator"
    user = await authenticate(ctx, uow.session, credentials)
    if not user.is_support:
        raise NotFound("Not found.")
    return user.id


Moderator = Annotated[str, Depends(moderator_id, scope="function")]
UploadingUser = Annotated[User, Depends(user_without_session)]
