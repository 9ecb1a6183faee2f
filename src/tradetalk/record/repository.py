"""Every query of the record: the ledger's head and entries, and earlier message versions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tradetalk.conversations.models import Conversation, Participant
from tradetalk.kit.rawsql import RawSql
from tradetalk.record.models import MessageVersion, RecordEntry, VersionReason

# Every new thread item reads the head of its chain and appends to it: on the driver
# connection (kit/rawsql.py says why).
_HEAD = RawSql(
    "SELECT position, hash FROM record_entries WHERE conversation_id = :conversation_id"
    " ORDER BY position DESC LIMIT 1"
)
_APPEND = RawSql(
    "INSERT INTO record_entries (conversation_id, position, kind, payload, salt, digest,"
    " prev_hash, hash, created_at) VALUES (:conversation_id, :position, :kind, :payload,"
    " :salt, :digest, :prev_hash, :hash, :created_at)"
)


class Head(NamedTuple):
    """Where a conversation's ledger ends: its newest entry's position and hash."""

    position: int
    hash: str


class ChainEnd(NamedTuple):
    """A conversation's head as read by a caller holding its lock: None for an empty ledger.

    (A separate type, so that "read, and empty" and "not read" cannot be confused.)"""

    head: Head | None


async def head(session: AsyncSession, conversation_id: int) -> Head | None:
    """The position and hash of the newest entry of a conversation's ledger, if any."""
    row = await _HEAD.row(session, conversation_id=conversation_id)
    return None if row is None else Head(*row)


def entry_values(entry: RecordEntry) -> dict[str, Any]:
    """The columns of a new ledger entry, as `add_entries` and the commit's writes take them."""
    return {
        "conversation_id": entry.conversation_id,
        "position": entry.position,
        "kind": entry.kind,
        "payload": entry.payload,
        "salt": entry.salt,
        "digest": entry.digest,
        "prev_hash": entry.prev_hash,
        "hash": entry.hash,
        "created_at": entry.created_at,
    }


async def add_entries(session: AsyncSession, entries: Sequence[RecordEntry]) -> None:
    """Insert new ledger entries (entries are only ever inserted), one round trip for all."""
    await _APPEND.many(session, [entry_values(entry) for entry in entries])


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
