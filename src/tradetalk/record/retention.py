"""Retention: the operator's purge of conversations that are over and long quiet.

The purge is the only way anything said leaves the database. It never touches a conversation
whose transaction has an open dispute, or one closed less than TRADETALK_DISPUTE_HOLD_DAYS ago,
or one a support grant is in force on. Each purged conversation leaves an audit entry with its
record's final hash, so a transcript handed out earlier can still be matched to it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from tradetalk.context import AppContext
from tradetalk.conversations.models import Conversation
from tradetalk.db import unit_of_work
from tradetalk.disputes import repository as disputes_repo
from tradetalk.disputes.models import ActorType, Dispute, DisputeStatus, SupportGrant
from tradetalk.marketplace.models import Transaction, TransactionStatus
from tradetalk.record.models import RecordEntry

FINISHED = (
    TransactionStatus.COMPLETED.value,
    TransactionStatus.CANCELLED.value,
    TransactionStatus.REFUNDED.value,
)


@dataclass
class PurgeReport:
    """What a purge removed (or, in a dry run, would remove)."""

    conversation_ids: list[int] = field(default_factory=list)
    dry_run: bool = False


async def purgeable(
    session: AsyncSession,
    now: datetime,
    *,
    retention_days: int,
    dispute_hold_days: int,
    limit: int,
) -> list[int]:
    """Up to `limit` conversations past retention: their transaction finished (or a direct
    conversation), nothing appended to the record for `retention_days`, no dispute open or
    recently closed, no grant in force."""
    cutoff = now - timedelta(days=retention_days)
    hold_from = now - timedelta(days=dispute_hold_days)
    recent_activity = exists().where(
        RecordEntry.conversation_id == Conversation.id, RecordEntry.created_at >= cutoff
    )
    disputed = exists().where(
        Dispute.transaction_id == Conversation.transaction_id,
        or_(Dispute.status == DisputeStatus.OPEN.value, Dispute.closed_at >= hold_from),
    )
    granted = exists().where(
        SupportGrant.conversation_id == Conversation.id,
        SupportGrant.expires_at > now,
        SupportGrant.revoked_at.is_(None),
    )
    stmt = (
        select(Conversation.id)
        .outerjoin(Transaction, Transaction.id == Conversation.transaction_id)
        .where(
            Conversation.created_at < cutoff,
            func.coalesce(Conversation.last_message_at, Conversation.created_at) < cutoff,
            or_(Conversation.transaction_id.is_(None), Transaction.status.in_(FINISHED)),
            ~recent_activity,
            ~disputed,
            ~granted,
        )
        .order_by(Conversation.id)
        .limit(limit)
    )
    return list(await session.scalars(stmt))


async def _heads(session: AsyncSession, ids: list[int]) -> dict[int, tuple[int, str]]:
    latest = (
        select(RecordEntry.conversation_id, func.max(RecordEntry.position).label("last"))
        .where(RecordEntry.conversation_id.in_(ids))
        .group_by(RecordEntry.conversation_id)
        .subquery()
    )
    stmt = select(RecordEntry.conversation_id, RecordEntry.position, RecordEntry.hash).join(
        latest,
        and_(
            RecordEntry.conversation_id == latest.c.conversation_id,
            RecordEntry.position == latest.c.last,
        ),
    )
    rows = (await session.execute(stmt)).tuples().all()
    return {cid: (position + 1, digest) for cid, position, digest in rows}


async def purge(ctx: AppContext, *, dry_run: bool = False, batch_size: int = 200) -> PurgeReport:
    """Delete every conversation past retention, a batch per transaction; audited."""
    settings = ctx.settings
    report = PurgeReport(dry_run=dry_run)
    if settings.retention_days == 0:
        return report  # keep forever
    while True:
        async with unit_of_work(ctx) as uow:
            ids = await purgeable(
                uow.session,
                uow.now,
                retention_days=settings.retention_days,
                dispute_hold_days=settings.dispute_hold_days,
                limit=batch_size,
            )
            if dry_run or not ids:
                report.conversation_ids += ids
                return report
            heads = await _heads(uow.session, ids)
            rows = await uow.session.execute(
                select(Conversation.id, Conversation.transaction_id).where(Conversation.id.in_(ids))
            )
            transactions = dict(rows.tuples().all())
            for conversation_id in ids:
                entry_count, final_hash = heads.get(conversation_id, (0, None))
                disputes_repo.add_audit(
                    uow.session,
                    at=uow.now,
                    actor_type=ActorType.OPERATOR,
                    actor_id=None,
                    action="record.purged",
                    conversation_id=conversation_id,
                    transaction_id=transactions.get(conversation_id),
                    detail={
                        "entry_count": entry_count,
                        "final_hash": final_hash,
                        "retention_days": settings.retention_days,
                    },
                )
            # Participants, messages, versions, record entries and grants go by ON DELETE CASCADE.
            await uow.session.execute(delete(Conversation).where(Conversation.id.in_(ids)))
            report.conversation_ids += ids
        if len(ids) < batch_size:
            return report
