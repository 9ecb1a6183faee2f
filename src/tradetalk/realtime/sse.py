"""The event stream as Server-Sent Events, for clients that cannot use WebSockets.

Written here rather than taken from a library because everything but the framing (replay,
heartbeats, token checks, send timeouts) is shared with the WebSocket in `connection.pump`.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime
from typing import TYPE_CHECKING

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from tradetalk.realtime import events
from tradetalk.realtime.connection import ClientGone, Ending, pump
from tradetalk.realtime.events import SignalType
from tradetalk.realtime.stream import EventStream

if TYPE_CHECKING:
    from tradetalk.context import AppContext

# The codes of the last frame an SSE stream sends before it ends.
END_CODES = {
    Ending.SLOW_CONSUMER: "slow_consumer",
    Ending.UNAUTHENTICATED: "unauthenticated",
    Ending.UNAVAILABLE: "database_unavailable",
}


def sse_event(frame: str) -> str:
    """One frame as an SSE event; durable events carry their id (EventSource's lastEventId)."""
    event_id = events.frame_id(frame)
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}data: {frame}\n\n"


class _SseOutlet:
    def __init__(self, send: Send) -> None:
        self._send = send

    async def _write(self, text: str) -> None:
        try:
            await self._send(
                {"type": "http.response.body", "body": text.encode(), "more_body": True}
            )
        except OSError as exc:  # uvicorn's ClientDisconnected
            raise ClientGone from exc

    async def send(self, frames: list[str]) -> None:
        await self._write("".join(sse_event(frame) for frame in frames))

    async def heartbeat(self) -> None:
        await self._write(": heartbeat\n\n")


class EventSourceResponse(Response):
    """A `text/event-stream` response that runs one user's event stream until it ends."""

    media_type = "text/event-stream"

    def __init__(
        self,
        ctx: AppContext,
        stream: EventStream,
        token: str,
        expires_at: datetime,
        first: list[str],
    ) -> None:
        self.ctx = ctx
        self.stream = stream
        self.token = token
        self.expires_at = expires_at
        self.first = first
        self.status_code = 200
        self.background = None
        # No body attribute: init_headers then leaves Content-Length out.
        self.init_headers(
            {"Cache-Control": "no-store", "X-Accel-Buffering": "no", "Connection": "keep-alive"}
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def watch_disconnect() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            self.stream.interrupt()

        watcher = asyncio.create_task(watch_disconnect())
        try:
            await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
            outlet = _SseOutlet(send)
            ended = await pump(
                self.ctx, self.stream, outlet, self.token, self.expires_at, self.first
            )
            if ended.reason is Ending.CLIENT_GONE:
                return
            last = events.signal(
                SignalType.ERROR, {"code": END_CODES[ended.reason], "detail": ended.detail}
            )
            with contextlib.suppress(ClientGone, TimeoutError):
                async with asyncio.timeout(1.0):
                    await outlet.send([last])
            with contextlib.suppress(OSError, TimeoutError):
                async with asyncio.timeout(1.0):
                    await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            watcher.cancel()
            self.stream.close()
