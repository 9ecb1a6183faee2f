"""Rules for users and their tokens."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from tradetalk.accounts import repository as users_repo
from tradetalk.accounts import tokens
from tradetalk.accounts.models import User
from tradetalk.accounts.schemas import TokenRequest, UserUpsert
from tradetalk.db import UnitOfWork
from tradetalk.errors import NotFound, Unauthenticated
from tradetalk.protection import service as protection_service
from tradetalk.protection.policy import mask
from tradetalk.realtime import events
from tradetalk.web import repository as web_repo


async def do_upsert_user(uow: UnitOfWork, user_id: str, payload: UserUpsert) -> tuple[User, bool]:
    """Create or update a user as the operator describes them; True when created."""
    user = await users_repo.get(uow.session, user_id)
    created = user is None
    if user is None:
        user = User(
            id=user_id,
            token_generation=0,
            last_event_id=0,
            created_at=uow.now,
        )
        uow.session.add(user)
    # Other users see display names, so the shield reads them too; a name carrying contact
    # details is stored masked rather than refused, so the operator's sync never breaks.
    verdict = protection_service.screen_plain(uow, payload.display_name)
    user.display_name = (
        mask(payload.display_name, verdict.findings) if verdict.findings else payload.display_name
    )
    user.email = str(payload.email) if payload.email else None
    user.is_support = payload.is_support
    user.updated_at = uow.now
    await uow.session.flush()
    return user, created


async def do_issue_token(
    uow: UnitOfWork, user_id: str, payload: TokenRequest
) -> tuple[str, datetime]:
    """Sign a short-lived token for an existing user."""
    user = await users_repo.get(uow.session, user_id)
    if user is None:
        raise NotFound(f"No user {user_id!r}; create it with PUT /v1/users/{{user_id}} first.")
    settings = uow.ctx.settings
    ttl = payload.ttl_seconds or settings.token_default_ttl_seconds
    ttl = min(ttl, settings.token_max_ttl_seconds)
    return tokens.issue(
        user.id,
        user.token_generation,
        now=uow.now,
        ttl=timedelta(seconds=ttl),
        secret=settings.secret_bytes(),
    )


async def do_revoke_tokens(uow: UnitOfWork, user_id: str) -> None:
    """Make every token issued to this user so far invalid: API tokens, web sessions, and
    sign-in links not used yet."""
    if await users_repo.bump_token_generation(uow.session, user_id) is None:
        raise NotFound(f"No user {user_id!r}.")
    await web_repo.expire_unused_links(uow.session, user_id, uow.now)
    # The user's open event streams, on every node, check their tokens at once (after commit)
    # rather than at their next periodic check.
    uow.signal(user_id, events.TOKENS_REVOKED)


async def authenticate_token(
    session: AsyncSession, token: str, *, now: datetime, secret: bytes
) -> tuple[User, tokens.TokenClaims]:
    """The user a token names and its claims, if it is valid, unexpired and not revoked;
    Unauthenticated otherwise. Every way in (API, event stream) checks tokens here."""
    claims = tokens.verify(token, now=now, secret=secret)
    return await user_of_claims(session, claims), claims


async def user_of_claims(session: AsyncSession, claims: tokens.TokenClaims) -> User:
    """The user a verified token names, if the token is still theirs (`check_token_user`)."""
    return check_token_user(await users_repo.load(session, claims.user_id), claims)


def check_token_user(user: User | None, claims: tokens.TokenClaims) -> User:
    """The user a verified token names, as read from the database, unless the token has been
    revoked since it was issued (or the user is gone): Unauthenticated then."""
    if user is None or user.id != claims.user_id or user.token_generation != claims.generation:
        raise Unauthenticated("The token has been revoked.")
    return user
