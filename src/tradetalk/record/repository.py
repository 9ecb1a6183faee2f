"""Every query of the record: the ledger's head and entries, and earlier message versions."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from tradetalk.conversations.models import Conversation, Participant
from tradetalk.record.models import MessageVersion, RecordEntry, VersionReason

# Built once: every new thread item reads the head of its chain.
_HEAD = (
    select(RecordEntry)
    .where(RecordEntry.conversation_id == bindparam("b_conversation_id"))
    .order_by(RecordEntry.position.desc())
    .limit(1)
)


async def head(session: AsyncSession, conversation_id: int) -> RecordEntry | None:
    """The newest entry of a conversation's ledger, if any."""
    return (await session.scalars(_HEAD, {"b_conversation_id": conversation_id})).one_or_none()


async def entries(session: AsyncSession, conversation_id: int) -> list[RecordEntry]:
    """A conversation's whole ledger, in order."""
    stmt = (
        select(RecordEntry)
        .where(RecordEntry.conversation_id == conversation_id)
        .order_by(RecordEntry.position)
    )
    return list(await session.scalars(stmt))


async def anchor_parts(
    session: AsyncSession, conversation_id: int
) -> tuple[Conversation, list[Participant]]:
    """The conversation and its members: what the chain's anchor is made of."""
    conversation = await session.get(Conversation, conversation_id)
    if conversation is None:
        raise LookupError(f"conversation {conversation_id} does not exist")
    stmt = select(Participant).where(Participant.conversation_id == conversation_id)
    return conversation, list(await session.scalars(stmt))


async def versions(session: AsyncSession, message_id: int) -> list[MessageVersion]:
    """The earlier texts of one message, oldest first."""
    stmt = (
        select(MessageVersion)
        .where(MessageVersion.message_id == message_id)
        .order_by(MessageVersion.version)
    )
    return list(await session.scalars(stmt))


async def last_texts(session: AsyncSession, message_ids: Sequence[int]) -> dict[int, str]:
    """For withdrawn messages: the text each showed when it was withdrawn."""
    if not message_ids:
        return {}
    stmt = select(MessageVersion.message_id, MessageVersion.body).where(
        MessageVersion.message_id.in_(message_ids),
        MessageVersion.replaced_because == VersionReason.WITHDRAWN.value,
    )
    return {message_id: body for message_id, body in (await session.execute(stmt)).tuples()}
