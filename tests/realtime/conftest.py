"""Fixtures of the event stream tests: the app served over real sockets, and a stream client."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any
from urllib.parse import urlencode

import pytest
import pytest_asyncio
import uvicorn
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from redis.asyncio import Redis
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tradetalk.app import create_app
from tradetalk.config import Settings
from tradetalk.kit.clock import ManualClock
from tradetalk.realtime.redis_broker import RedisBroker

WAIT = 10.0  # seconds a test waits for a frame before it fails (a guard, not an assertion)
REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Heartbeats and token checks every 0.2 s, so that expiry and revocation show at once."""
    return settings.model_copy(
        update={"realtime_heartbeat_seconds": 0.2, "realtime_auth_recheck_seconds": 0.2}
    )


class EventSocket:
    """A client of `WS /v1/events` that reads frames as JSON and skips heartbeats."""

    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection
        self.ready: dict[str, Any] | None = None  # data of the `ready` frame
        self.replayed: list[dict[str, Any]] = []  # frames before `ready`

    async def frame(self) -> dict[str, Any]:
        """The next frame other than a heartbeat."""
        while True:
            async with asyncio.timeout(WAIT):
                raw = await self.connection.recv()
            frame: dict[str, Any] = json.loads(raw)
            if frame["type"] != "heartbeat":
                return frame

    async def event(self) -> dict[str, Any]:
        """The next frame other than heartbeats and the ready signal."""
        while True:
            frame = await self.frame()
            if frame["type"] != "ready":
                return frame

    async def send(self, frame: dict[str, Any]) -> None:
        """Send a frame to the server."""
        await self.connection.send(json.dumps(frame))

    async def close_code(self) -> tuple[int | None, str]:
        """Read until the server closes; returns its close code and reason."""
        try:
            async with asyncio.timeout(WAIT):
                while True:
                    await self.connection.recv()
        except ConnectionClosed as closed:
            received = closed.rcvd
            return (received.code, received.reason) if received else (None, "")

    async def close(self) -> None:
        """Disconnect."""
        await self.connection.close()


def events_url(base: str, **params: Any) -> str:
    """The stream's URL with query parameters (None values left out)."""
    query = urlencode({k: v for k, v in params.items() if v is not None})
    return f"{base}/v1/events" + (f"?{query}" if query else "")


Connect = Callable[..., Awaitable[EventSocket]]


async def until(condition: Callable[[], object]) -> None:
    """Wait for a condition of a running server (failing after WAIT seconds)."""
    async with asyncio.timeout(WAIT):
        while not condition():  # noqa: ASYNC110 - state of another component, no event to await
            await asyncio.sleep(0.01)


@pytest_asyncio.fixture
async def server(app: FastAPI) -> AsyncIterator[str]:
    """The test app served by uvicorn on a free loopback port; yields `ws://host:port`."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, lifespan="off", log_level="warning", ws_ping_interval=None)
    uv = uvicorn.Server(config)
    task = asyncio.create_task(uv.serve(sockets=[sock]))
    await until(lambda: uv.started)
    yield f"ws://127.0.0.1:{port}"
    uv.should_exit = True
    await task
    sock.close()


@pytest_asyncio.fixture
async def open_socket(server: str) -> AsyncIterator[Connect]:
    """Open event sockets (waiting for `ready` unless told not to); all closed afterwards."""
    opened: list[EventSocket] = []

    async def _open(
        token: str | None = None,
        *,
        after: int | None = None,
        headers: dict[str, str] | None = None,
        wait_ready: bool = True,
        **options: Any,
    ) -> EventSocket:
        connection = await connect(
            events_url(server, token=token, after=after),
            additional_headers=headers,
            open_timeout=WAIT,
            **options,
        )
        client = EventSocket(connection)
        opened.append(client)
        if wait_ready:
            while (frame := await client.frame())["type"] != "ready":
                client.replayed.append(frame)
            client.ready = frame["data"]
        return client

    yield _open
    for client in opened:
        await client.close()


@pytest_asyncio.fixture
async def node_b(settings: Settings, clock: ManualClock) -> AsyncIterator[FastAPI]:
    """A second app node on the same database (and Redis, where the settings name it)."""
    application = create_app(settings, clock=clock)
    async with LifespanManager(application):
        yield application


async def cut_off_from_redis(node: FastAPI) -> RedisBroker:
    """Kill the node's Redis subscription connection and wait until the node has noticed; it
    reconnects by itself after `redis_broker.BACKOFF_FIRST_SECONDS`. Returns its broker."""
    broker: RedisBroker = node.state.ctx.broker
    async with Redis.from_url(REDIS_URL, decode_responses=True) as redis:
        ours = [
            c for c in await redis.client_list(_type="pubsub") if c["name"] == broker.client_name
        ]
        assert len(ours) == 1
        await redis.client_kill_filter(_id=ours[0]["id"])
    await until(lambda: not broker.connected.is_set())
    return broker
