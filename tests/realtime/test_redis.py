"""Across app nodes through Redis: a socket on one node gets what is sent through another."""

from __future__ import annotations

import uuid

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import require_service
from tests.fixtures.marketplace import Marketplace, TestUser
from tests.realtime.conftest import REDIS_URL, Connect, cut_off_from_redis
from tradetalk.config import Settings
from tradetalk.realtime import redis_broker
from tradetalk.realtime.redis_broker import RedisBroker


@pytest.fixture
def settings(settings: Settings) -> Settings:
    require_service("Redis", "127.0.0.1", 6379)
    return settings.model_copy(
        update={
            "redis_url": REDIS_URL,
            # Channels of their own, so that parallel runs never hear each other.
            "redis_prefix": f"tt-test-{uuid.uuid4().hex[:8]}",
            "rate_limits": False,
        }
    )


def client_of(node: FastAPI, user: TestUser) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=node),
        base_url="http://testserver",
        headers={"Authorization": f"Bearer {user.token}"},
    )


async def test_the_app_uses_the_redis_broker_when_configured(app: FastAPI) -> None:
    assert isinstance(app.state.ctx.broker, RedisBroker)


async def test_a_socket_on_one_node_receives_what_is_sent_through_another(
    market: Marketplace, open_socket: Connect, node_b: FastAPI
) -> None:
    deal = await market.transaction()
    cid = await market.conversation_id(deal)
    seller = await open_socket(deal.seller.token)
    async with client_of(node_b, deal.buyer) as buyer_on_b:
        response = await buyer_on_b.post(
            f"/v1/conversations/{cid}/messages", json={"body": "sent through node B"}
        )
        assert response.status_code == 201
        assert await seller.event() == {
            "id": 1,
            "type": "message.created",
            "data": response.json(),
        }
        # Ephemeral frames travel too.
        assert (await buyer_on_b.post(f"/v1/conversations/{cid}/typing")).status_code == 204
        typing = await seller.event()
        assert typing["data"] == {"conversation_id": cid, "user_id": deal.buyer.id}


async def test_nothing_is_delivered_twice_on_the_publishing_node(
    market: Marketplace, open_socket: Connect
) -> None:
    deal = await market.transaction()
    cid = await market.conversation_id(deal)
    seller = await open_socket(deal.seller.token)
    await deal.buyer.client.post(f"/v1/conversations/{cid}/typing")
    sent = await market.send(deal.buyer, cid, "once")
    assert (await seller.event())["type"] == "typing"
    assert (await seller.event())["data"] == sent
    again = await market.send(deal.buyer, cid, "twice?")
    assert (await seller.event())["data"] == again


async def test_events_sent_while_the_redis_connection_is_down_arrive_after_it_is_back(
    app: FastAPI,
    market: Marketplace,
    open_socket: Connect,
    node_b: FastAPI,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Reconnect slowly enough that the send below surely falls into the outage.
    monkeypatch.setattr(redis_broker, "BACKOFF_FIRST_SECONDS", 1.0)
    deal = await market.transaction()
    cid = await market.conversation_id(deal)
    seller = await open_socket(deal.seller.token)
    broker = await cut_off_from_redis(app)
    async with client_of(node_b, deal.buyer) as buyer_on_b:
        during = await buyer_on_b.post(
            f"/v1/conversations/{cid}/messages", json={"body": "while node A was cut off"}
        )
        # Node A comes back, subscribes again and catches up from the database.
        assert await seller.event() == {"id": 1, "type": "message.created", "data": during.json()}
        assert broker.reconnects >= 1
        after = await buyer_on_b.post(
            f"/v1/conversations/{cid}/messages", json={"body": "after it came back"}
        )
        assert await seller.event() == {"id": 2, "type": "message.created", "data": after.json()}
