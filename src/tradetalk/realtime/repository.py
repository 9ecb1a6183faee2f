"""Queries of the event log."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tradetalk.accounts.models import User
from tradetalk.kit.orm import table_of
from tradetalk.kit.rawsql import RawSql, Row
from tradetalk.realtime import events
from tradetalk.realtime.broker import Delivery
from tradetalk.realtime.models import Event

# Statements of every send, built once, on the tables (see conversations/repository.py).
_users = table_of(User)
_RESERVE_EVENT_IDS = (
    update(_users)
    .where(_users.c.id.in_(bindparam("b_user_ids", expanding=True)))
    .values(last_event_id=_users.c.last_event_id + bindparam("b_size"))
    .returning(_users.c.id, _users.c.last_event_id)
)
_RESERVE_EVENT_IDS_OF_TWO = RawSql(
    "UPDATE users SET last_event_id = last_event_id + :size WHERE id IN (:first, :second)"
    " RETURNING id, last_event_id"
)
_INSERT_EVENT = RawSql(
    "INSERT INTO events (user_id, id, type, data, created_at)"
    " VALUES (:user_id, :id, :type, :data, :created_at)"
)
# One event for two people, the event of every send, in two statements (on SQLite its
# transaction already excludes every other writer). On PostgreSQL a unit of work writes such an
# event in one statement with its other trailing writes, in commit_writes.py, and comes here
# only for other shapes.


async def store(
    session: AsyncSession,
    pending: Sequence[tuple[str, Mapping[str, Any], frozenset[str]]],
    now: datetime,
) -> list[Delivery]:
    """Number and store events for their recipients; return the frames to publish."""
    counts: dict[str, int] = {}
    for _, _, recipients in pending:
        for user_id in recipients:
            counts[user_id] = counts.get(user_id, 0) + 1
    if not counts:
        return []
    if len(pending) == 1 and len(counts) == 2:
        return await _store_one_for_two(session, pending[0], now)
    # Reserving ids under the recipients' row locks keeps each user's ids gapless and in
    # commit order, so a client replaying with after= can never skip a late commit.
    # Users are locked in id order so that concurrent sends cannot deadlock.
    last_ids: dict[str, int] = {}
    sizes = set(counts.values())
    if len(sizes) == 1:
        # The usual case (every event to the same people): one statement. Its index scan
        # visits the ids in key order, the same order as the loop below.
        size = sizes.pop()
        ids = sorted(counts)
        if len(ids) == 2:  # a buyer and a seller: no expanding IN to rewrite per execution
            reserved = await _RESERVE_EVENT_IDS_OF_TWO.rows(
                session, first=ids[0], second=ids[1], size=size
            )
        else:
            result = await session.execute(_RESERVE_EVENT_IDS, {"b_user_ids": ids, "b_size": size})
            reserved = list(result.tuples())
        last_ids = {user_id: last - size for user_id, last in reserved}
    else:
        for user_id in sorted(counts):
            result = await session.execute(
                update(User)
                .where(User.id == user_id)
                .values(last_event_id=User.last_event_id + counts[user_id])
                .returning(User.last_event_id)
                .execution_options(synchronize_session=False)
            )
            last = result.scalar_one_or_none()
            if last is not None:
                last_ids[user_id] = last - counts[user_id]
    rows: list[dict[str, Any]] = []
    deliveries: list[Delivery] = []
    for event_type, data, recipients in pending:
        data_json = events.data_json(data)
        for user_id in sorted(recipients):
            if user_id not in last_ids:
                continue
            last_ids[user_id] += 1
            event_id = last_ids[user_id]
            rows.append(
                {
                    "user_id": user_id,
                    "id": event_id,
                    "type": event_type,
                    "data": data_json,
                    "created_at": now,
                }
            )
            frame = events.frame(event_id, event_type, data_json)
            deliveries.append(Delivery(user_id=user_id, event_id=event_id, frame=frame))
    await _INSERT_EVENT.many(session, rows)
    return deliveries


async def _store_one_for_two(
    session: AsyncSession, pending: tuple[str, Mapping[str, Any], frozenset[str]], now: datetime
) -> list[Delivery]:
    event_type, data, recipients = pending
    first, second = sorted(recipients)
    data_json = events.data_json(data)
    rows = await _RESERVE_EVENT_IDS_OF_TWO.rows(session, first=first, second=second, size=1)
    await _INSERT_EVENT.many(
        session,
        [
            {"user_id": user_id, "id": event_id, "type": event_type, "data": data_json,
             "created_at": now}
            for user_id, event_id in rows
        ],
    )  # fmt: skip
    return deliveries_of(event_type, data_json, rows)


def deliveries_of(event_type: str, data_json: str, stored: Iterable[Row]) -> list[Delivery]:
    """The frames to publish for one event stored as (user_id, event_id) rows."""
    return [
        Delivery(
            user_id=user_id, event_id=event_id, frame=events.frame(event_id, event_type, data_json)
        )
        for user_id, event_id in sorted((user_id, event_id) for user_id, event_id in stored)
    ]


async def last_id(session: AsyncSession, user_id: str) -> int:
    """The id of the newest event in a user's stream (0 before the first)."""
    stmt = select(User.last_event_id).where(User.id == user_id)
    return (await session.scalar(stmt)) or 0


async def after(session: AsyncSession, user_id: str, after_id: int, limit: int) -> list[Event]:
    """Up to `limit` of a user's stored events with ids above `after_id`, oldest first."""
    stmt = (
        select(Event)
        .where(Event.user_id == user_id, Event.id > after_id)
        .order_by(Event.id)
        .limit(limit)
    )
    return list(await session.scalars(stmt))


async def message_events(
    session: AsyncSession, user_ids: Iterable[str], message_id: int, since: datetime
) -> list[Event]:
    """The stored `message.created` and `message.updated` events of one message in these
    users' streams; `since` is when the message was sent (no event of it is older)."""
    stmt = select(Event).where(
        Event.user_id.in_(sorted(set(user_ids))),
        Event.type.in_((events.EventType.MESSAGE_CREATED, events.EventType.MESSAGE_UPDATED)),
        Event.created_at >= since,
        # A cheap first cut on the stored text; the decoded data decides.
        Event.data.contains(f'"id":{message_id},'),
    )
    return [e for e in await session.scalars(stmt) if json.loads(e.data).get("id") == message_id]


async def prune(session: AsyncSession, before: datetime) -> int:
    """Delete events stored before `before`; returns how many."""
    result = await session.execute(delete(Event).where(Event.created_at < before))
    return int(getattr(result, "rowcount", 0) or 0)
