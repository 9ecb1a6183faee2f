"""Transcripts: a conversation's record as a self-verifying JSON document.

Parties get every entry except the text of messages their sender withdrew (those entries keep
their digest, so the chain still verifies); support in a dispute gets everything."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tradetalk.accounts.models import User
from tradetalk.conversations import repository as conversations_repo
from tradetalk.disputes.access import Access
from tradetalk.marketplace.models import Transaction
from tradetalk.record import chain
from tradetalk.record import repository as record_repo
from tradetalk.record.models import EntryKind, RecordEntry
from tradetalk.record.service import anchor

# Entries that carry a message's text: left out for parties once the sender withdrew it.
_TEXT_KINDS = {EntryKind.MESSAGE_POSTED.value, EntryKind.MESSAGE_EDITED.value}


def _withdrawn_ids(entries: list[RecordEntry]) -> set[int]:
    return {
        json.loads(e.payload)["message_id"]
        for e in entries
        if e.kind == EntryKind.MESSAGE_WITHDRAWN.value
    }


def _entry_out(entry: RecordEntry, *, redact: bool) -> dict[str, Any]:
    return {
        "index": entry.position,
        "kind": entry.kind,
        "at": chain.canonical_time(entry.created_at),
        "payload": None if redact else json.loads(entry.payload),
        "salt": None if redact else entry.salt,
        "digest": entry.digest,
        "prev_hash": entry.prev_hash,
        "hash": entry.hash,
        "redacted": redact,
    }


async def _people(session: AsyncSession, user_ids: set[str]) -> dict[str, str]:
    if not user_ids:
        return {}
    rows = await session.execute(select(User.id, User.display_name).where(User.id.in_(user_ids)))
    return dict(rows.tuples().all())


async def build(
    session: AsyncSession, access: Access, reader: User, now: datetime, seal_key: bytes
) -> dict[str, Any]:
    """The transcript of a conversation for this reader, sealed by this server."""
    conversation = access.conversation
    members = await conversations_repo.participants(session, conversation.id)
    entries = await record_repo.entries(session, conversation.id)
    withdrawn = set() if access.is_support else _withdrawn_ids(entries)
    out = [
        _entry_out(
            e,
            redact=e.kind in _TEXT_KINDS and json.loads(e.payload)["message_id"] in withdrawn,
        )
        for e in entries
    ]
    senders = {
        p["sender_id"]
        for p in (e["payload"] for e in out)
        if p is not None and isinstance(p.get("sender_id"), str)
    }
    people = await _people(session, senders | {m.user_id for m in members})
    transaction = (
        await session.get(Transaction, conversation.transaction_id)
        if conversation.transaction_id
        else None
    )
    final_hash = entries[-1].hash if entries else chain.anchor_hash(anchor(conversation, members))
    return {
        "format": chain.FORMAT,
        "generated_at": chain.canonical_time(now),
        "generated_for": {"user_id": reader.id, "capacity": access.capacity.value},
        "conversation": {
            "id": conversation.id,
            "kind": conversation.kind,
            "created_at": chain.canonical_time(conversation.created_at),
            "transaction": None
            if transaction is None
            else {
                "id": transaction.id,
                "title": transaction.title,
                "status": transaction.status,
                "amount_minor": transaction.amount_minor,
                "currency": transaction.currency,
            },
            "participants": [
                {"user_id": m.user_id, "role": m.role, "display_name": people.get(m.user_id)}
                for m in sorted(members, key=lambda m: m.role)
            ],
            "people": people,
        },
        "anchor": anchor(conversation, members),
        "entries": out,
        "entry_count": len(out),
        "final_hash": final_hash,
        "seal": chain.seal(
            seal_key,
            conversation_id=conversation.id,
            entry_count=len(out),
            final_hash=final_hash,
        ),
    }
