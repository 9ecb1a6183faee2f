"""Writing to the outbox inside a unit of work."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tradetalk.kit.rawsql import RawSql
from tradetalk.notifications.models import OutboxStatus


@dataclass(slots=True)
class PendingSideEffect:
    """A side effect waiting for its transaction to commit."""

    kind: str
    payload: Mapping[str, Any]
    run_after: datetime | None
    idempotency_key: str | None


# On the driver connection, as the rest of a send (kit/rawsql.py says why). A key already in
# the outbox (a retried request) is skipped by the database itself.
_INSERT = RawSql(
    "INSERT INTO outbox (kind, payload, idempotency_key, status, attempts, run_after,"
    " created_at) VALUES (:kind, :payload, :idempotency_key, :status, 0, :run_after, :now)"
    " ON CONFLICT (idempotency_key) DO NOTHING"
)


def values(pending: Sequence[PendingSideEffect], now: datetime) -> list[dict[str, Any]]:
    """The outbox rows of this transaction's side effects (a key queued twice, once)."""
    seen: set[str] = set()
    rows = []
    for item in pending:
        if item.idempotency_key:
            if item.idempotency_key in seen:
                continue
            seen.add(item.idempotency_key)
        rows.append(
            {
                "kind": item.kind,
                "payload": json.dumps(item.payload, separators=(",", ":"), default=str),
                "idempotency_key": item.idempotency_key,
                "status": OutboxStatus.PENDING.value,
                "run_after": item.run_after or now,
                "now": now,
            }
        )
    return rows


async def insert(session: AsyncSession, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert outbox rows made by `values` (one round trip for all).

    A key already in the outbox (a retried request) is skipped by the database itself
    (INSERT ... ON CONFLICT DO NOTHING), which costs no extra round trip."""
    await _INSERT.many(session, rows)
