"""Rules of the event stream: who may listen, typing signals, how long events are kept."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from limits import RateLimitItemPerSecond
from sqlalchemy.ext.asyncio import AsyncSession

from tradetalk.accounts import service as accounts_service
from tradetalk.accounts.tokens import TokenClaims
from tradetalk.conversations import repository as conversations_repo
from tradetalk.conversations.models import Message
from tradetalk.db import UnitOfWork, read_session
from tradetalk.errors import NotFound, Unauthenticated
from tradetalk.kit.ratelimit import per_minute
from tradetalk.realtime import events
from tradetalk.realtime import repository as events_repo
from tradetalk.realtime.broker import Delivery
from tradetalk.realtime.events import SignalType

if TYPE_CHECKING:
    from tradetalk.context import AppContext

# One typing signal per user and conversation every two seconds is plenty for an indicator.
TYPING_LIMIT = RateLimitItemPerSecond(1, 2)


async def check_token(ctx: AppContext, token: str | None) -> TokenClaims:
    """The claims of a valid, unexpired, unrevoked user token; Unauthenticated otherwise."""
    if not token:
        raise Unauthenticated("Pass a user token as token= or 'Authorization: Bearer <token>'.")
    async with read_session(ctx) as session:
        _, claims = await accounts_service.authenticate_token(
            session, token, now=ctx.clock.now(), secret=ctx.settings.secret_bytes()
        )
    return claims


async def check_typing(
    ctx: AppContext,
    session: AsyncSession,
    user_id: str,
    conversation_id: int,
    address: str | None = None,
) -> list[str]:
    """Raise RateLimited or NotFound (never 403); return the other participants."""
    limiter, settings = ctx.limiter, ctx.settings
    await limiter.hit(TYPING_LIMIT, "typing", user_id, str(conversation_id), what="typing signals")
    await limiter.hit(
        per_minute(settings.typing_per_minute), "typing", user_id, what="typing signals"
    )
    if address is not None and settings.ip_typing_per_minute:
        await limiter.hit(
            per_minute(settings.ip_typing_per_minute),
            "ip",
            "typing",
            address,
            what="typing signals",
        )
    members = await conversations_repo.participant_ids(session, conversation_id)
    if user_id not in members:
        raise NotFound("No such conversation.")
    return [member for member in members if member != user_id]


async def do_typing(
    ctx: AppContext,
    session: AsyncSession,
    user_id: str,
    conversation_id: int,
    address: str | None = None,
) -> None:
    """Tell the other participants that this user is typing (ephemeral: never stored).

    `address` is the client's, for the per-address limit of a socket's signals (HTTP ones are
    counted by the edge middleware)."""
    others = await check_typing(ctx, session, user_id, conversation_id, address)
    frame = events.signal(
        SignalType.TYPING, {"conversation_id": conversation_id, "user_id": user_id}
    )
    await ctx.broker.publish(Delivery(other, None, frame) for other in others)


async def do_redact_message(
    uow: UnitOfWork, message: Message, user_ids: Iterable[str], tombstone: Mapping[str, Any]
) -> int:
    """Put a withdrawn message's tombstone over the text its stored events carry, so that a
    stream replayed with `after=` shows the parties what the thread shows them; returns how
    many events changed. (What was delivered live is gone; the log must not keep serving it.)"""
    stored = await events_repo.message_events(uow.session, user_ids, message.id, message.created_at)
    for event in stored:
        data = json.loads(event.data)
        data.update(tombstone)
        event.data = events.data_json(data)
    return len(stored)


async def do_prune_events(uow: UnitOfWork) -> int:
    """Delete events older than the retention period; returns how many went."""
    keep = timedelta(hours=uow.ctx.settings.event_retention_hours)
    return await events_repo.prune(uow.session, uow.now - keep)
