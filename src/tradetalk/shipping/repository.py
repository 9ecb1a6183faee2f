"""Every query of shipping updates."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tradetalk.shipping.models import ShippingUpdate


async def by_number(
    session: AsyncSession, conversation_id: int, tracking_number: str
) -> ShippingUpdate | None:
    """The update that already carries this number in this conversation, if any."""
    stmt = select(ShippingUpdate).where(
        ShippingUpdate.conversation_id == conversation_id,
        ShippingUpdate.tracking_number == tracking_number,
    )
    return (await session.scalars(stmt)).one_or_none()


async def for_messages(
    session: AsyncSession, message_ids: Sequence[int]
) -> dict[int, ShippingUpdate]:
    """The shipping updates behind these thread items, by message id (one query, none if empty)."""
    if not message_ids:
        return {}
    stmt = select(ShippingUpdate).where(ShippingUpdate.message_id.in_(message_ids))
    return {update.message_id: update for update in await session.scalars(stmt)}
