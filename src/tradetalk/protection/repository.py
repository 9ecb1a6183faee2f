"""Every query of the shield's records: history, queue, strikes, restrictions, blocks."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from sqlalchemy import and_, bindparam, delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from tradetalk.conversations import repository as conversations_repo
from tradetalk.kit.orm import dialect_name
from tradetalk.kit.rawsql import RawSql
from tradetalk.protection.models import (
    ModerationAction,
    ModerationItem,
    Restriction,
    Strike,
    UserBlock,
)

# Statements of every send, on the driver connection (kit/rawsql.py says why).
_RECENT_BODIES = RawSql(
    "SELECT body FROM messages WHERE conversation_id = :conversation_id"
    " AND sender_id = :sender_id AND kind = 'text' ORDER BY seq DESC LIMIT :limit"
)
# The longest-lasting first: an open-ended restriction, then the latest end.
_RESTRICTION_IN_FORCE = RawSql(
    "SELECT kind, ends_at FROM restrictions WHERE user_id = :user_id AND lifted_at IS NULL"
    " AND (ends_at IS NULL OR ends_at > :now)"
    " ORDER BY ends_at IS NULL DESC, ends_at DESC LIMIT 1",
    datetimes=[1],
)
# Both of the above in one round trip, for PostgreSQL: what a send needs to know of its
# sender before it is scanned. Rows of part 0 are the restriction (at most one), rows of part
# 1 the recent texts with their positions.
_SENDER_STANDING = RawSql(
    postgresql="(SELECT 0 AS part, kind AS text, ends_at, CAST(0 AS BIGINT) AS seq"
    " FROM restrictions WHERE user_id = :user_id AND lifted_at IS NULL"
    " AND (ends_at IS NULL OR ends_at > :now)"
    " ORDER BY ends_at IS NULL DESC, ends_at DESC LIMIT 1)"
    " UNION ALL (SELECT 1, body, NULL, seq FROM messages"
    " WHERE conversation_id = :conversation_id AND sender_id = :user_id AND kind = 'text'"
    " ORDER BY seq DESC LIMIT :limit)"
    " UNION ALL (SELECT 2, NULL, NULL, id FROM messages WHERE conversation_id = :conversation_id"
    " AND sender_id = :user_id AND client_message_id = :client_message_id)"
)
_ACTIVE_RESTRICTION = (
    select(Restriction)
    .where(
        Restriction.user_id == bindparam("b_user_id"),
        Restriction.lifted_at.is_(None),
        or_(Restriction.ends_at.is_(None), Restriction.ends_at > bindparam("b_now")),
    )
    .order_by(Restriction.ends_at.is_(None).desc(), Restriction.ends_at.desc())
    .limit(1)
)


async def recent_bodies(
    session: AsyncSession, conversation_id: int, sender_id: str, limit: int
) -> list[str]:
    """The sender's last delivered texts in this conversation, oldest first (shield context)."""
    if limit <= 0:
        return []
    rows = await _RECENT_BODIES.rows(
        session, conversation_id=conversation_id, sender_id=sender_id, limit=limit
    )
    return [body for (body,) in reversed(rows)]


class RestrictionInForce(NamedTuple):
    """What a send needs to know of the sender's current pause or restriction."""

    kind: str
    ends_at: datetime | None


async def restriction_in_force(
    session: AsyncSession, user_id: str, now: datetime
) -> RestrictionInForce | None:
    """The kind and end of the user's current pause or restriction, the longest-lasting."""
    row = await _RESTRICTION_IN_FORCE.row(session, user_id=user_id, now=now)
    return None if row is None else RestrictionInForce(*row)


class SenderStanding(NamedTuple):
    """What a send needs to know of its sender: any pause or restriction in force, their
    last delivered texts in the conversation, oldest first (the shield's context), and the
    message they stored already under the send's client id, if any (a retry)."""

    restriction: RestrictionInForce | None
    recent_bodies: list[str]
    earlier_message_id: int | None = None


async def sender_standing(
    session: AsyncSession,
    user_id: str,
    conversation_id: int,
    now: datetime,
    history: int,
    client_message_id: str | None = None,
) -> SenderStanding:
    """`restriction_in_force`, `recent_bodies` (at most `history` texts) and the message
    stored under `client_message_id`, in one round trip on PostgreSQL."""
    if dialect_name(session) != "postgresql":
        earlier = (
            await conversations_repo.id_under_client_id(
                session, conversation_id, user_id, client_message_id
            )
            if client_message_id is not None
            else None
        )
        return SenderStanding(
            await restriction_in_force(session, user_id, now),
            await recent_bodies(session, conversation_id, user_id, history),
            earlier,
        )
    rows = await _SENDER_STANDING.rows(
        session,
        user_id=user_id,
        now=now,
        conversation_id=conversation_id,
        limit=max(history, 0),
        client_message_id=client_message_id,
    )
    restriction = next(
        (RestrictionInForce(kind, ends_at) for part, kind, ends_at, _ in rows if part == 0), None
    )
    texts = sorted((seq, body) for part, body, _, seq in rows if part == 1)
    earlier = next((int(found) for part, _, _, found in rows if part == 2), None)
    return SenderStanding(restriction, [body for _, body in texts], earlier)


async def active_restriction(
    session: AsyncSession, user_id: str, now: datetime
) -> Restriction | None:
    """The user's current pause or restriction, the longest-lasting first."""
    params = {"b_user_id": user_id, "b_now": now}
    return (await session.scalars(_ACTIVE_RESTRICTION, params)).first()


async def count_active_strikes(session: AsyncSession, user_id: str, since: datetime) -> int:
    """Strikes in the window that support has not dismissed."""
    stmt = select(func.count()).where(
        Strike.user_id == user_id, Strike.created_at >= since, Strike.dismissed_at.is_(None)
    )
    return int((await session.execute(stmt)).scalar_one())


async def blocked_item_for_retry(
    session: AsyncSession, conversation_id: int, sender_id: str, client_message_id: str
) -> ModerationItem | None:
    """An earlier blocked attempt of the same send (a client retry must not strike twice)."""
    stmt = select(ModerationItem).where(
        ModerationItem.conversation_id == conversation_id,
        ModerationItem.subject_id == sender_id,
        ModerationItem.client_message_id == client_message_id,
    )
    return (await session.scalars(stmt)).first()


async def queue(
    session: AsyncSession, *, status: str | None, after_id: int | None, limit: int
) -> list[ModerationItem]:
    """Up to limit+1 queue items, oldest first."""
    stmt = select(ModerationItem)
    if status:
        stmt = stmt.where(ModerationItem.status == status)
    if after_id is not None:
        stmt = stmt.where(ModerationItem.id > after_id)
    return list(await session.scalars(stmt.order_by(ModerationItem.id).limit(limit + 1)))


async def item(session: AsyncSession, item_id: int) -> ModerationItem | None:
    """A queue item by id."""
    return await session.get(ModerationItem, item_id)


async def strikes_of(session: AsyncSession, user_id: str) -> list[Strike]:
    """A user's strikes, newest first."""
    stmt = select(Strike).where(Strike.user_id == user_id).order_by(Strike.id.desc())
    return list(await session.scalars(stmt))


async def strike_for_item(session: AsyncSession, item_id: int) -> Strike | None:
    """The strike an item caused, if any."""
    stmt = select(Strike).where(Strike.item_id == item_id, Strike.dismissed_at.is_(None))
    return (await session.scalars(stmt)).first()


async def restrictions_of(session: AsyncSession, user_id: str) -> list[Restriction]:
    """A user's pauses and restrictions, newest first."""
    stmt = select(Restriction).where(Restriction.user_id == user_id).order_by(Restriction.id.desc())
    return list(await session.scalars(stmt))


async def actions_about(session: AsyncSession, user_id: str) -> list[ModerationAction]:
    """The audit trail about a user, newest first."""
    stmt = (
        select(ModerationAction)
        .where(ModerationAction.subject_id == user_id)
        .order_by(ModerationAction.id.desc())
    )
    return list(await session.scalars(stmt))


async def is_blocked_between(session: AsyncSession, user_a: str, user_b: str) -> bool:
    """Whether either user has blocked the other."""
    stmt = select(UserBlock.blocker_id).where(
        or_(
            and_(UserBlock.blocker_id == user_a, UserBlock.blocked_id == user_b),
            and_(UserBlock.blocker_id == user_b, UserBlock.blocked_id == user_a),
        )
    )
    return (await session.scalars(stmt)).first() is not None


async def has_blocked(session: AsyncSession, blocker_id: str, blocked_id: str) -> bool:
    """Whether `blocker_id` blocked `blocked_id`."""
    return await session.get(UserBlock, (blocker_id, blocked_id)) is not None


async def blocks_of(session: AsyncSession, blocker_id: str) -> list[UserBlock]:
    """Who a user has blocked, newest first."""
    stmt = (
        select(UserBlock)
        .where(UserBlock.blocker_id == blocker_id)
        .order_by(UserBlock.created_at.desc())
    )
    return list(await session.scalars(stmt))


async def remove_block(session: AsyncSession, blocker_id: str, blocked_id: str) -> bool:
    """Unblock; True when there was a block."""
    result = await session.execute(
        delete(UserBlock).where(
            UserBlock.blocker_id == blocker_id, UserBlock.blocked_id == blocked_id
        )
    )
    return bool(getattr(result, "rowcount", 0))
