"""What a unit of work writes as it commits: its events, outbox items, ledger entries and feed
notes.

None of these writes answers anything the request needs before it ends, so they wait for the
commit. On PostgreSQL the usual case (one event for two people: a message, an offer, a read
marker) goes in a single statement with whatever outbox items and ledger entries came with
it, and the feed note of a message's recipient when there is one, where it took four round
trips: each data-modifying part of a WITH runs exactly once,
whether or not the statement reads its result, and the items and entries arrive as arrays, so
the statement's text is the same for any number of them and is prepared once. Anything else
takes the general path, one statement per kind of row.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tradetalk.kit.orm import dialect_name
from tradetalk.kit.rawsql import RawSql
from tradetalk.notifications import outbox as outbox_repo
from tradetalk.notifications import repository as notifications_repo
from tradetalk.notifications.models import OutboxStatus
from tradetalk.notifications.outbox import PendingSideEffect
from tradetalk.notifications.repository import PendingFeedNote
from tradetalk.realtime import events
from tradetalk.realtime import repository as events_repo
from tradetalk.realtime.broker import Delivery
from tradetalk.record import repository as record_repo
from tradetalk.record.models import RecordEntry

PendingEvents = Sequence[tuple[str, Mapping[str, Any], frozenset[str]]]

# Event ids are reserved under the two recipients' row locks, as in realtime/repository.py
# (gapless, in commit order; an IN over the primary key locks them in key order). A key already
# in the outbox (a retried request) is skipped, as outbox.insert skips it.
_ONE_EVENT_FOR_TWO_AND_THE_REST = RawSql(
    postgresql="WITH reserved AS (UPDATE users SET last_event_id = last_event_id + 1"
    " WHERE id IN (:first, :second) RETURNING id, last_event_id),"
    " queued AS (INSERT INTO outbox (kind, payload, idempotency_key, status, attempts,"
    " run_after, created_at)"
    " SELECT kind, payload, idempotency_key, :pending, 0, run_after, :now FROM unnest("
    "CAST(:outbox_kinds AS VARCHAR[]), CAST(:outbox_payloads AS TEXT[]),"
    " CAST(:outbox_keys AS VARCHAR[]), CAST(:outbox_run_after AS TIMESTAMPTZ[]))"
    " AS item(kind, payload, idempotency_key, run_after)"
    " ON CONFLICT (idempotency_key) DO NOTHING),"
    " recorded AS (INSERT INTO record_entries (conversation_id, position, kind, payload, salt,"
    " digest, prev_hash, hash, created_at)"
    " SELECT * FROM unnest(CAST(:record_conversation_ids AS BIGINT[]),"
    " CAST(:record_positions AS BIGINT[]), CAST(:record_kinds AS VARCHAR[]),"
    " CAST(:record_payloads AS TEXT[]), CAST(:record_salts AS VARCHAR[]),"
    " CAST(:record_digests AS VARCHAR[]), CAST(:record_prev_hashes AS VARCHAR[]),"
    " CAST(:record_hashes AS VARCHAR[]), CAST(:record_created_at AS TIMESTAMPTZ[]))),"
    # The feed note, folded or added as notifications/repository.py's note_message does it.
    # No note: a NULL user, which matches no row and adds none.
    + " "
    + notifications_repo.note_ctes("note_")
    + " INSERT INTO events (user_id, id, type, data, created_at)"
    " SELECT id, last_event_id, :type, :data, :now FROM reserved RETURNING user_id, id"
)


async def write(
    session: AsyncSession,
    pending_events: PendingEvents,
    side_effects: Sequence[PendingSideEffect],
    entries: Sequence[RecordEntry],
    feed_notes: Sequence[PendingFeedNote],
    now: datetime,
) -> tuple[list[Delivery], int]:
    """Write the transaction's ledger entries, feed notes, events and outbox items; return the
    frames to publish after commit and how many outbox items were queued."""
    outbox_rows = outbox_repo.values(side_effects, now)
    if (
        len(pending_events) == 1
        and len(pending_events[0][2]) == 2
        and len(feed_notes) <= 1
        and dialect_name(session) == "postgresql"
    ):
        event_type, data, recipients = pending_events[0]
        first, second = sorted(recipients)
        data_json = events.data_json(data)
        entry_rows = [record_repo.entry_values(entry) for entry in entries]
        note = feed_notes[0] if feed_notes else None
        before, after = note.fold_parts() if note else ("", "")
        stored = await _ONE_EVENT_FOR_TWO_AND_THE_REST.rows(
            session,
            first=first,
            second=second,
            type=event_type,
            data=data_json,
            now=now,
            pending=OutboxStatus.PENDING.value,
            outbox_kinds=[row["kind"] for row in outbox_rows],
            outbox_payloads=[row["payload"] for row in outbox_rows],
            outbox_keys=[row["idempotency_key"] for row in outbox_rows],
            outbox_run_after=[row["run_after"] for row in outbox_rows],
            record_conversation_ids=[row["conversation_id"] for row in entry_rows],
            record_positions=[row["position"] for row in entry_rows],
            record_kinds=[row["kind"] for row in entry_rows],
            record_payloads=[row["payload"] for row in entry_rows],
            record_salts=[row["salt"] for row in entry_rows],
            record_digests=[row["digest"] for row in entry_rows],
            record_prev_hashes=[row["prev_hash"] for row in entry_rows],
            record_hashes=[row["hash"] for row in entry_rows],
            record_created_at=[row["created_at"] for row in entry_rows],
            note_user_id=note.user_id if note else None,
            note_type=note.type if note else None,
            note_conversation_id=note.conversation_id if note else None,
            note_title=note.title if note else None,
            note_before=before,
            note_after=after,
            note_body=note.body if note else None,
        )
        return events_repo.deliveries_of(event_type, data_json, stored), len(outbox_rows)
    await record_repo.add_entries(session, entries)
    await notifications_repo.add_feed_notes(session, feed_notes, now)
    deliveries = await events_repo.store(session, pending_events, now)
    await outbox_repo.insert(session, outbox_rows)
    return deliveries, len(outbox_rows)
