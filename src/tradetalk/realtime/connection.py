"""Feeding a stream to a connected client, whatever the transport (WebSocket, SSE)."""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Protocol

from tradetalk.errors import DatabaseUnavailable, Unauthenticated
from tradetalk.realtime import service as realtime_service
from tradetalk.realtime.stream import EventStream, SlowConsumer

if TYPE_CHECKING:
    from tradetalk.context import AppContext


class ClientGone(Exception):
    """The client disconnected while we were sending."""


class Outlet(Protocol):
    """One transport's way to send frames."""

    async def send(self, frames: list[str]) -> None:
        """Send frames in order; raise ClientGone when the client has left."""
        ...

    async def heartbeat(self) -> None:
        """Show the client the connection is alive."""
        ...


class Ending(Enum):
    """Why a stream ended."""

    CLIENT_GONE = "client_gone"
    SLOW_CONSUMER = "slow_consumer"
    UNAUTHENTICATED = "unauthenticated"
    UNAVAILABLE = "unavailable"  # the database went away; reconnect later with `after`


@dataclass(frozen=True, slots=True)
class Ended:
    """How a stream ended, with a sentence for the client."""

    reason: Ending
    detail: str = ""


async def pump(
    ctx: AppContext,
    stream: EventStream,
    outlet: Outlet,
    token: str,
    expires_at: datetime,
    first: list[str],
) -> Ended:
    """Send the stream's frames until the client leaves, falls behind, or loses its token, or
    the database it needs is away (the client reconnects later and replays what it missed).

    Heartbeats go out when nothing else did for a heartbeat interval. The token's expiry is
    checked (by the app's clock) before anything is sent; revocation, which costs a query, at
    once when the user's tokens are revoked (the stream hears of it through the broker) or live
    delivery had a gap, and otherwise once per `realtime_auth_recheck_seconds`, in case that
    news was lost. Both timers start at a random point of their interval so that a thousand
    sockets opened together do not all wake and query together.
    """
    settings = ctx.settings
    interval = settings.realtime_heartbeat_seconds
    recheck = settings.realtime_auth_recheck_seconds
    loop = asyncio.get_running_loop()
    next_recheck = loop.time() + recheck * random.uniform(0.5, 1.0)
    wait = interval * random.uniform(0.5, 1.0)
    frames: list[str] | None = first
    try:
        while frames is not None:
            # Checked before sending: nothing goes out on a token that has expired or was
            # revoked. (The opening frames follow a check made a moment ago.)
            if ctx.clock.now() >= expires_at:
                raise Unauthenticated("The token has expired.")
            if stream.token_check_due or loop.time() >= next_recheck:
                stream.token_check_due = False
                await realtime_service.check_token(ctx, token)
                next_recheck = loop.time() + recheck
            try:
                async with asyncio.timeout(settings.realtime_send_timeout_seconds):
                    if frames:
                        await outlet.send(frames)
                    else:
                        await outlet.heartbeat()
            except TimeoutError:
                # The transport's buffers are full: the client is not reading.
                raise SlowConsumer from None
            frames = await stream.next_batch(wait)
            wait = interval
    except ClientGone:
        pass
    except SlowConsumer:
        return Ended(Ending.SLOW_CONSUMER, "The client did not read its events fast enough.")
    except Unauthenticated as exc:
        return Ended(Ending.UNAUTHENTICATED, exc.detail)
    except DatabaseUnavailable as exc:
        return Ended(Ending.UNAVAILABLE, exc.detail)
    return Ended(Ending.CLIENT_GONE)
