"""Queries of transactions."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from tradetalk.marketplace.models import Transaction


async def get(session: AsyncSession, transaction_id: str) -> Transaction | None:
    """The transaction with this id, if the operator has synced one."""
    return await session.get(Transaction, transaction_id)
