"""The same events as Server-Sent Events, for clients that cannot use WebSockets."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import httpx

from tests.fixtures.marketplace import Marketplace
from tests.realtime.conftest import WAIT
from tradetalk.kit.clock import ManualClock


class SseClient:
    """Reads an SSE response into (id, frame) pairs, skipping comments (heartbeats)."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self._lines = response.aiter_lines()

    async def event(self) -> tuple[str | None, dict[str, Any]]:
        event_id: str | None = None
        data: list[str] = []
        async with asyncio.timeout(WAIT):
            async for line in self._lines:
                if line.startswith(":"):
                    continue
                if line.startswith("id: "):
                    event_id = line[4:]
                elif line.startswith("data: "):
                    data.append(line[6:])
                elif line == "" and data:
                    return event_id, json.loads("\n".join(data))
        raise AssertionError("the stream ended")


@asynccontextmanager
async def sse(server: str, **kwargs: Any) -> AsyncIterator[SseClient]:
    base = server.replace("ws://", "http://")
    async with (
        httpx.AsyncClient(base_url=base, timeout=WAIT) as client,
        client.stream("GET", "/v1/events", **kwargs) as response,
    ):
        yield SseClient(response)


async def test_sse_replays_and_then_streams_live_events(market: Marketplace, server: str) -> None:
    deal = await market.transaction()
    cid = await market.conversation_id(deal)
    missed = await market.send(deal.buyer, cid, "sent while you were away")
    async with sse(server, params={"token": deal.seller.token, "after": 0}) as stream:
        assert stream.response.status_code == 200
        assert stream.response.headers["content-type"].startswith("text/event-stream")
        assert await stream.event() == ("1", {"id": 1, "type": "message.created", "data": missed})
        assert await stream.event() == (
            None,
            {"id": None, "type": "ready", "data": {"last_event_id": 1}},
        )
        live = await market.send(deal.buyer, cid, "and now live")
        assert await stream.event() == ("2", {"id": 2, "type": "message.created", "data": live})


async def test_sse_resumes_from_last_event_id_and_takes_the_token_as_a_header(
    market: Marketplace, server: str
) -> None:
    deal = await market.transaction()
    cid = await market.conversation_id(deal)
    for n in range(3):
        await market.send(deal.buyer, cid, f"message {n}")
    headers = {"Authorization": f"Bearer {deal.seller.token}", "Last-Event-ID": "2"}
    async with sse(server, headers=headers, params={"after": 0}) as stream:
        event_id, frame = await stream.event()
        assert (event_id, frame["id"]) == ("3", 3)


async def test_sse_refuses_a_missing_or_bad_token_with_401(server: str) -> None:
    async with sse(server) as stream:
        assert stream.response.status_code == 401
        await stream.response.aread()
        assert stream.response.json()["code"] == "unauthenticated"
    async with sse(server, params={"token": "forged"}) as stream:
        assert stream.response.status_code == 401


async def test_sse_ends_with_an_error_event_when_the_token_expires(
    market: Marketplace, server: str, clock: ManualClock
) -> None:
    user = await market.user()
    short = await market.token(user.id, ttl_seconds=120)
    async with sse(server, params={"token": short}) as stream:
        assert (await stream.event())[1]["type"] == "ready"
        clock.advance(timedelta(minutes=3))
        _, frame = await stream.event()
        assert frame == {
            "id": None,
            "type": "error",
            "data": {"code": "unauthenticated", "detail": "The token has expired."},
        }
