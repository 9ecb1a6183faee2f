"""Rules of the web pages: one-time sign-in links, saved replies."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from tradetalk.accounts import repository as users_repo
from tradetalk.accounts.models import User
from tradetalk.db import UnitOfWork
from tradetalk.errors import InvalidRequest, NotFound
from tradetalk.kit.ratelimit import per_hour
from tradetalk.web import repository as web_repo
from tradetalk.web.models import LoginLink, SavedReply


class LinkNotValid(NotFound):
    code = "login_link_not_valid"
    title = "This sign-in link is not valid"


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


async def do_create_login_link(uow: UnitOfWork, user_id: str) -> tuple[str, datetime]:
    """Make a one-time sign-in link secret for an existing user; returns it with its expiry."""
    if await users_repo.get(uow.session, user_id) is None:
        raise NotFound(f"No user {user_id!r}; create it with PUT /v1/users/{{user_id}} first.")
    # A burst of links for one user is a backend bug or someone hammering its "email me a
    # link" button; either way the user's mailbox should not pay for it.
    await uow.ctx.limiter.hit(
        per_hour(uow.ctx.settings.login_links_per_hour),
        "login-link",
        user_id,
        what="sign-in links for this user",
    )
    secret = secrets.token_urlsafe(32)
    expires_at = uow.now + timedelta(seconds=uow.ctx.settings.login_link_ttl_seconds)
    uow.session.add(
        LoginLink(
            token_hash=_hash(secret),
            user_id=user_id,
            created_at=uow.now,
            expires_at=expires_at,
            used_at=None,
        )
    )
    await uow.session.flush()
    return secret, expires_at.replace(microsecond=0)


async def do_redeem_login_link(uow: UnitOfWork, secret: str) -> User:
    """Use a sign-in link (once, before it expires); returns whom it signs in."""
    link = await web_repo.get_link_for_update(uow.session, _hash(secret))
    if link is None or link.used_at is not None or link.expires_at <= uow.now:
        raise LinkNotValid("This sign-in link has expired or was already used. Ask for a new one.")
    link.used_at = uow.now
    user = await users_repo.get(uow.session, link.user_id)
    if user is None:
        raise LinkNotValid("This sign-in link is not valid.")
    await uow.session.flush()
    return user


MAX_SAVED_REPLIES = 50


class TooManySavedReplies(InvalidRequest):
    code = "too_many_saved_replies"
    title = "Too many saved replies"


async def do_save_reply(uow: UnitOfWork, user: User, title: str, body: str) -> SavedReply:
    """Keep a canned answer for the composer (at most 50 per user)."""
    if len(await web_repo.saved_replies(uow.session, user.id)) >= MAX_SAVED_REPLIES:
        raise TooManySavedReplies(f"Keep at most {MAX_SAVED_REPLIES} saved replies.")
    reply = SavedReply(user_id=user.id, title=title, body=body, created_at=uow.now)
    uow.session.add(reply)
    await uow.session.flush()
    return reply


async def do_delete_reply(uow: UnitOfWork, user: User, reply_id: int) -> None:
    """Forget one of the user's saved replies."""
    reply = await web_repo.own_saved_reply(uow.session, reply_id, user.id)
    await uow.session.delete(reply)
