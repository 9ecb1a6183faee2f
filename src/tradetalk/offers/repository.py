"""Every query of offers, including who may see them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import CursorResult, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tradetalk.conversations.models import Participant
from tradetalk.errors import NotFound
from tradetalk.offers.machine import OfferStatus
from tradetalk.offers.models import Offer


async def get_visible(session: AsyncSession, offer_id: int, user_id: str) -> Offer:
    """The offer if `user_id` takes part in its conversation; NotFound otherwise (never 403)."""
    stmt = (
        select(Offer)
        .join(
            Participant,
            (Participant.conversation_id == Offer.conversation_id)
            & (Participant.user_id == user_id),
        )
        .where(Offer.id == offer_id)
    )
    offer = (await session.scalars(stmt)).one_or_none()
    if offer is None:
        raise NotFound("No such offer.")
    return offer


async def open_in(session: AsyncSession, conversation_id: int) -> Offer | None:
    """The conversation's open offer (as stored: it may be past its expiry), if any."""
    stmt = select(Offer).where(
        Offer.conversation_id == conversation_id, Offer.status == OfferStatus.OPEN.value
    )
    return (await session.scalars(stmt)).one_or_none()


async def close_if_open(
    session: AsyncSession,
    offer: Offer,
    to: OfferStatus,
    now: datetime,
) -> bool:
    """Move an open offer to `to`; False when another request closed it first.

    The status test sits in the UPDATE itself, so of two racing requests exactly one sees its
    row change (PostgreSQL re-checks the condition after the winner commits; SQLite's writer
    lock runs them one after the other).
    """
    result: CursorResult[Any] = await session.execute(  # type: ignore[assignment]
        update(Offer)
        .where(Offer.id == offer.id, Offer.status == OfferStatus.OPEN.value)
        .values(status=to.value, closed_at=now)
        .execution_options(synchronize_session=False)
    )
    await session.refresh(offer)
    return result.rowcount == 1


async def for_messages(session: AsyncSession, message_ids: Sequence[int]) -> dict[int, Offer]:
    """The offers behind these thread items, by message id (one query, none when empty)."""
    if not message_ids:
        return {}
    stmt = select(Offer).where(Offer.message_id.in_(message_ids))
    return {offer.message_id: offer for offer in await session.scalars(stmt)}
