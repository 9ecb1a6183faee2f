"""Writing to the outbox inside a unit of work."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from tradetalk.kit.orm import dialect_name, table_of
from tradetalk.notifications.models import OutboxItem, OutboxStatus


@dataclass(slots=True)
class PendingSideEffect:
    """A side effect waiting for its transaction to commit."""

    kind: str
    payload: Mapping[str, Any]
    run_after: datetime | None
    idempotency_key: str | None


# Built once per dialect, on the table (see conversations/repository.py).
_INSERT = {
    "postgresql": postgresql_insert(table_of(OutboxItem)).on_conflict_do_nothing(
        index_elements=["idempotency_key"]
    ),
    "sqlite": sqlite_insert(table_of(OutboxItem)).on_conflict_do_nothing(
        index_elements=["idempotency_key"]
    ),
}


async def store(session: AsyncSession, pending: Sequence[PendingSideEffect], now: datetime) -> int:
    """Insert the side effects of this transaction; returns how many were queued.

    A key already in the outbox (a retried request) is skipped by the database itself
    (INSERT ... ON CONFLICT DO NOTHING), which costs no extra round trip."""
    seen: set[str] = set()
    values = []
    for item in pending:
        if item.idempotency_key:
            if item.idempotency_key in seen:
                continue
            seen.add(item.idempotency_key)
        values.append(
            {
                "kind": item.kind,
                "payload": json.dumps(item.payload, separators=(",", ":"), default=str),
                "idempotency_key": item.idempotency_key,
                "status": OutboxStatus.PENDING.value,
                "attempts": 0,
                "run_after": item.run_after or now,
                "created_at": now,
            }
        )
    if not values:
        return 0
    statement = _INSERT[dialect_name(session)]
    await session.execute(statement, values)
    return len(values)
