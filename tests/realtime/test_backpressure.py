"""A client that does not read is disconnected; its frames never pile up without bound."""

from __future__ import annotations

import asyncio
import socket

import pytest
from fastapi import FastAPI

from tests.fixtures.marketplace import Marketplace
from tests.realtime.conftest import WAIT, Connect, until
from tradetalk.config import Settings
from tradetalk.realtime.broker import Delivery

SLOW_CONSUMER = 4408


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={"realtime_queue_max": 8, "realtime_send_timeout_seconds": 0.5}
    )


def _typing(user_id: str, n: int, padding: int = 0) -> Delivery:
    frame = f'{{"id":null,"type":"typing","data":{{"n":{n},"pad":"{"x" * padding}"}}}}'
    return Delivery(user_id, None, frame)


async def test_a_client_that_falls_too_far_behind_is_closed_with_4408(
    app: FastAPI, market: Marketplace, open_socket: Connect
) -> None:
    user = await market.user()
    client = await open_socket(user.token)
    broker = app.state.ctx.broker
    # More frames at once than the connection may hold.
    await broker.publish([_typing(user.id, n) for n in range(50)])
    code, reason = await client.close_code()
    assert code == SLOW_CONSUMER
    assert "fast enough" in reason
    assert broker.fanout.subscriber_count() == 0


async def test_a_client_that_stops_reading_is_dropped(
    app: FastAPI, market: Marketplace, open_socket: Connect, server: str
) -> None:
    user = await market.user()
    # A client with a tiny receive buffer that takes one frame and then reads nothing more.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", int(server.rsplit(":", 1)[1])))
    # (No compression: the padding would shrink to nothing.)
    await open_socket(user.token, sock=sock, max_queue=1, compression=None, wait_ready=False)
    broker = app.state.ctx.broker
    await until(broker.fanout.subscriber_count)
    async with asyncio.timeout(WAIT):
        sent = 0
        while broker.fanout.subscriber_count():
            await broker.publish([_typing(user.id, sent, padding=64_000)])
            sent += 1
            await asyncio.sleep(0.005)
    # Dropped once the socket buffers were full: a bounded amount, not everything sent.
    assert sent < 1000
