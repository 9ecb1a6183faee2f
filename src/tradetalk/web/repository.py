"""Queries of the web pages: sign-in links and the demo's user list."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tradetalk.accounts.models import User
from tradetalk.conversations.models import Conversation
from tradetalk.disputes.models import Dispute
from tradetalk.errors import NotFound
from tradetalk.marketplace.models import Transaction
from tradetalk.web.models import LoginLink, SavedReply


async def get_link_for_update(session: AsyncSession, token_hash: str) -> LoginLink | None:
    """A sign-in link by the hash of its secret, locked against a second use."""
    stmt = select(LoginLink).where(LoginLink.token_hash == token_hash).with_for_update()
    return (await session.execute(stmt)).scalar_one_or_none()


async def expire_unused_links(session: AsyncSession, user_id: str, now: datetime) -> None:
    """Make the user's sign-in links that are still usable unusable (their tokens were revoked:
    a link mailed before then must not start a fresh session)."""
    await session.execute(
        update(LoginLink)
        .where(
            LoginLink.user_id == user_id,
            LoginLink.used_at.is_(None),
            LoginLink.expires_at > now,
        )
        .values(expires_at=now)
    )


async def demo_users(session: AsyncSession, limit: int = 50) -> list[User]:
    """The users the demo page offers to sign in as."""
    stmt = select(User).order_by(User.is_support, User.id).limit(limit)
    return list((await session.execute(stmt)).scalars())


async def open_disputes(
    session: AsyncSession, limit: int = 100
) -> list[tuple[Dispute, Transaction, int | None]]:
    """Open disputes, oldest first, with their transaction and its conversation's id."""
    stmt = (
        select(Dispute, Transaction, Conversation.id)
        .join(Transaction, Transaction.id == Dispute.transaction_id)
        .outerjoin(Conversation, Conversation.transaction_id == Dispute.transaction_id)
        .where(Dispute.status == "open")
        .order_by(Dispute.opened_at, Dispute.id)
        .limit(limit)
    )
    return [(d, t, c) for d, t, c in (await session.execute(stmt)).tuples()]


async def saved_replies(session: AsyncSession, user_id: str) -> list[SavedReply]:
    """A user's saved replies, oldest first."""
    stmt = select(SavedReply).where(SavedReply.user_id == user_id).order_by(SavedReply.id)
    return list(await session.scalars(stmt))


async def own_saved_reply(session: AsyncSession, reply_id: int, user_id: str) -> SavedReply:
    """One of the user's own saved replies (NotFound for anyone else's)."""
    stmt = select(SavedReply).where(SavedReply.id == reply_id, SavedReply.user_id == user_id)
    reply = (await session.execute(stmt)).scalar_one_or_none()
    if reply is None:
        raise NotFound("No such saved reply.")
    return reply
