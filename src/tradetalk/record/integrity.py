"""Checking the record at rest: every chain intact, and every thread exactly what its record says.

Transcripts prove themselves to their holders; this is the operator's check that nobody changed
the database behind the application's back (a message body rewritten in place, an entry
dropped) and that every change went through the record."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tradetalk.conversations.models import Conversation, Message
from tradetalk.record import chain
from tradetalk.record import repository as record_repo
from tradetalk.record.models import EntryKind
from tradetalk.record.service import anchor


@dataclass(frozen=True, slots=True)
class Finding:
    """Something wrong with one conversation's record."""

    conversation_id: int
    problem: str


async def check_conversation(session: AsyncSession, conversation_id: int) -> list[Finding]:
    """The chain of one conversation verifies and replays to its messages as they are stored."""
    conversation, members = await record_repo.anchor_parts(session, conversation_id)
    entries = await record_repo.entries(session, conversation_id)
    links: list[dict[str, Any]] = [
        {
            "index": e.position,
            "kind": e.kind,
            "at": chain.canonical_time(e.created_at),
            "payload": json.loads(e.payload),
            "salt": e.salt,
            "digest": e.digest,
            "prev_hash": e.prev_hash,
            "hash": e.hash,
        }
        for e in entries
    ]
    header = anchor(conversation, members)
    document = {
        "format": chain.FORMAT,
        "conversation": {"id": conversation_id},
        "anchor": header,
        "entries": links,
        "entry_count": len(links),
        "final_hash": links[-1]["hash"] if links else chain.anchor_hash(header),
    }
    result = chain.verify(document)
    if not result.ok:
        return [Finding(conversation_id, f"chain broken: {result.problem}")]
    # Replay the record into the text each message should show now.
    expected: dict[int, tuple[str, bool]] = {}
    for entry in links:
        payload = entry["payload"]
        if (
            entry["kind"] == EntryKind.MESSAGE_POSTED.value
            or entry["kind"] == EntryKind.MESSAGE_EDITED.value
        ):
            expected[payload["message_id"]] = (payload["body"], False)
        elif entry["kind"] == EntryKind.MESSAGE_WITHDRAWN.value:
            expected[payload["message_id"]] = ("", True)
    rows = await session.execute(
        select(Message.id, Message.body, Message.withdrawn_at).where(
            Message.conversation_id == conversation_id
        )
    )
    findings = []
    stored = set()
    for message_id, body, withdrawn_at in rows.tuples():
        stored.add(message_id)
        if message_id not in expected:
            findings.append(Finding(conversation_id, f"message {message_id} is not on the record"))
        elif expected[message_id] != (body, withdrawn_at is not None):
            findings.append(
                Finding(conversation_id, f"message {message_id} differs from its record")
            )
    findings += [
        Finding(conversation_id, f"message {message_id} is on the record but not in the thread")
        for message_id in sorted(set(expected) - stored)
    ]
    return findings


async def conversation_ids(session: AsyncSession, *, after: int, limit: int) -> list[int]:
    """The next batch of conversation ids, in order."""
    stmt = (
        select(Conversation.id)
        .where(Conversation.id > after)
        .order_by(Conversation.id)
        .limit(limit)
    )
    return list(await session.scalars(stmt))


async def check_all(
    session: AsyncSession, *, batch: int = 500
) -> AsyncIterator[tuple[int, list[Finding]]]:
    """Check every conversation, yielding each id with what was found."""
    after = 0
    while ids := await conversation_ids(session, after=after, limit=batch):
        for conversation_id in ids:
            yield conversation_id, await check_conversation(session, conversation_id)
        after = ids[-1]
