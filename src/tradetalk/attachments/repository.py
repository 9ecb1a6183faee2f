"""Every query of attachments, including who may see them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import case, delete, exists, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tradetalk.attachments.models import Attachment
from tradetalk.conversations.models import Participant
from tradetalk.errors import NotFound
from tradetalk.kit.rawsql import RawSql

PURGE_BATCH = 500

# Which of a page's messages have attachments, on the driver connection (kit/rawsql.py says
# why): every thread page and inbox page asks, and the answer is nearly always none, which an
# ORM query with a fifty-long IN list took several times longer to say.
_ATTACHED = RawSql("SELECT id FROM attachments WHERE message_id IN (:ids)", lists={"ids": "BIGINT"})


async def get_visible(session: AsyncSession, attachment_id: str, user_id: str) -> Attachment:
    """The attachment if `user_id` may see it: its uploader until a message claims it, then
    every participant of that message's conversation. NotFound otherwise (never 403)."""
    member = exists().where(
        Participant.conversation_id == Attachment.conversation_id,
        Participant.user_id == user_id,
    )
    stmt = select(Attachment).where(
        Attachment.id == attachment_id,
        or_(
            (Attachment.message_id.is_(None)) & (Attachment.uploader_id == user_id),
            Attachment.message_id.is_not(None) & member,
        ),
    )
    attachment = (await session.scalars(stmt)).one_or_none()
    if attachment is None:
        raise NotFound("No such attachment.")
    return attachment


async def get_claimed(session: AsyncSession, attachment_id: str) -> Attachment | None:
    """An attachment already sent in a conversation (for readers other than its members,
    whose access the caller has checked)."""
    stmt = select(Attachment).where(
        Attachment.id == attachment_id, Attachment.message_id.is_not(None)
    )
    return (await session.scalars(stmt)).one_or_none()


async def claim(
    session: AsyncSession,
    attachment_ids: Sequence[str],
    *,
    uploader_id: str,
    message_id: int,
    conversation_id: int,
) -> list[Attachment]:
    """Attach the uploader's unclaimed uploads to a message, in the order given; returns the
    ones claimed. One conditional UPDATE, so two sends racing for an upload cannot both win."""
    if not attachment_ids:
        return []
    positions = {attachment_id: i for i, attachment_id in enumerate(attachment_ids)}
    stmt = (
        update(Attachment)
        .where(
            Attachment.id.in_(attachment_ids),
            Attachment.uploader_id == uploader_id,
            Attachment.message_id.is_(None),
        )
        .values(
            message_id=message_id,
            conversation_id=conversation_id,
            position=case(positions, value=Attachment.id, else_=0),
        )
        .returning(Attachment)
        .execution_options(synchronize_session=False)
    )
    claimed = list(await session.scalars(stmt))
    return sorted(claimed, key=lambda a: positions[a.id])


async def for_messages(
    session: AsyncSession, message_ids: Sequence[int]
) -> dict[int, list[Attachment]]:
    """The attachments of these messages, each message's in the order they were sent
    (one query for a whole page)."""
    if not message_ids:
        return {}
    # Most pages have no attachment at all: a plain look-up of the ids first, entities only
    # for those there are.
    ids = [attachment_id for (attachment_id,) in await _ATTACHED.rows(session, ids=message_ids)]
    if not ids:
        return {}
    stmt = (
        select(Attachment)
        .where(Attachment.id.in_(ids))
        .order_by(Attachment.message_id, Attachment.position)
    )
    found: dict[int, list[Attachment]] = {}
    for attachment in await session.scalars(stmt):
        assert attachment.message_id is not None
        found.setdefault(attachment.message_id, []).append(attachment)
    return found


async def delete_unclaimed_batch(
    session: AsyncSession, created_before: datetime
) -> list[tuple[str, str | None]]:
    """Delete up to PURGE_BATCH uploads never claimed and made before `created_before`;
    returns their storage keys (object, thumbnail) so the bytes can go too."""
    ids = (
        select(Attachment.id)
        .where(Attachment.message_id.is_(None), Attachment.created_at < created_before)
        .limit(PURGE_BATCH)
    )
    chosen = list(await session.scalars(ids))
    if not chosen:
        return []
    # message_id IS NULL again: an upload claimed since the SELECT stays.
    stmt = (
        delete(Attachment)
        .where(Attachment.id.in_(chosen), Attachment.message_id.is_(None))
        .returning(Attachment.storage_key, Attachment.thumbnail_key)
    )
    return [(key, thumb) for key, thumb in (await session.execute(stmt)).tuples()]
