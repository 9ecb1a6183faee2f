"""Every query of disputes, support grants and the audit log."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tradetalk.disputes.models import (
    ActorType,
    AuditEntry,
    Dispute,
    DisputeStatus,
    SupportGrant,
)


async def open_dispute(session: AsyncSession, transaction_id: str) -> Dispute | None:
    """The open dispute of a transaction, if any."""
    stmt = select(Dispute).where(
        Dispute.transaction_id == transaction_id, Dispute.status == DisputeStatus.OPEN.value
    )
    return (await session.scalars(stmt)).one_or_none()


async def latest_dispute(session: AsyncSession, transaction_id: str) -> Dispute | None:
    """The most recently opened dispute of a transaction, open or closed."""
    stmt = (
        select(Dispute)
        .where(Dispute.transaction_id == transaction_id)
        .order_by(Dispute.opened_at.desc(), Dispute.id.desc())
        .limit(1)
    )
    return (await session.scalars(stmt)).one_or_none()


async def active_grant(
    session: AsyncSession, conversation_id: int, user_id: str, now: datetime
) -> SupportGrant | None:
    """The longest-running unexpired, unrevoked grant of this user on this conversation."""
    stmt = (
        select(SupportGrant)
        .where(
            SupportGrant.conversation_id == conversation_id,
            SupportGrant.user_id == user_id,
            SupportGrant.expires_at > now,
            SupportGrant.revoked_at.is_(None),
        )
        .order_by(SupportGrant.expires_at.desc())
        .limit(1)
    )
    return (await session.scalars(stmt)).one_or_none()


async def active_grants(
    session: AsyncSession, conversation_id: int, now: datetime
) -> list[SupportGrant]:
    """Every grant on a conversation still in force."""
    stmt = (
        select(SupportGrant)
        .where(
            SupportGrant.conversation_id == conversation_id,
            SupportGrant.expires_at > now,
            SupportGrant.revoked_at.is_(None),
        )
        .order_by(SupportGrant.id)
    )
    return list(await session.scalars(stmt))


async def revoke_grants(
    session: AsyncSession, conversation_id: int, user_id: str, now: datetime
) -> int:
    """End this user's grants on this conversation now; returns how many were in force."""
    result = await session.execute(
        update(SupportGrant)
        .where(
            SupportGrant.conversation_id == conversation_id,
            SupportGrant.user_id == user_id,
            SupportGrant.expires_at > now,
            SupportGrant.revoked_at.is_(None),
        )
        .values(revoked_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def add_audit(
    session: AsyncSession,
    *,
    at: datetime,
    actor_type: ActorType,
    actor_id: str | None,
    action: str,
    conversation_id: int | None = None,
    transaction_id: str | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEntry:
    """Write one audit entry (flushed with the transaction it belongs to)."""
    entry = AuditEntry(
        at=at,
        actor_type=actor_type.value,
        actor_id=actor_id,
        action=action,
        conversation_id=conversation_id,
        transaction_id=transaction_id,
        detail=json.dumps(detail or {}, separators=(",", ":"), sort_keys=True, default=str),
    )
    session.add(entry)
    return entry


async def audit_page(
    session: AsyncSession,
    *,
    conversation_id: int | None,
    actor_id: str | None,
    before_id: int | None,
    limit: int,
) -> list[AuditEntry]:
    """Up to limit+1 audit entries, newest first."""
    stmt = select(AuditEntry)
    if conversation_id is not None:
        stmt = stmt.where(AuditEntry.conversation_id == conversation_id)
    if actor_id is not None:
        stmt = stmt.where(AuditEntry.actor_id == actor_id)
    if before_id is not None:
        stmt = stmt.where(AuditEntry.id < before_id)
    stmt = stmt.order_by(AuditEntry.id.desc()).limit(limit + 1)
    return list(await session.scalars(stmt))
