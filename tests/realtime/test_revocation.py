"""Revoking a user's tokens closes their open event streams at once, on every node, without
waiting for the streams' periodic token check (set an hour apart here, so that only the news
of the revocation can close a stream within a test's wait)."""

from __future__ import annotations

import uuid

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import SERVER_KEY, require_service
from tests.fixtures.marketplace import Marketplace
from tests.realtime.conftest import REDIS_URL, Connect, cut_off_from_redis
from tests.realtime.test_sse import sse
from tradetalk.config import Settings
from tradetalk.realtime import redis_broker

UNAUTHENTICATED = 4401
REVOKED = (UNAUTHENTICATED, "The token has been revoked.")


@pytest.fixture
def broker() -> str:
    """The broker the app uses; tests that need Redis parametrize this."""
    return "memory"


@pytest.fixture
def settings(settings: Settings, broker: str) -> Settings:
    update: dict[str, object] = {"realtime_auth_recheck_seconds": 3600.0}
    if broker == "redis":
        require_service("Redis", "127.0.0.1", 6379)
        # Channels of their own, so that parallel runs never hear each other.
        update |= {"redis_url": REDIS_URL, "redis_prefix": f"tt-test-{uuid.uuid4().hex[:8]}"}
    return settings.model_copy(update=update)


def operator_of(node: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=node),
        base_url="http://testserver",
        headers={"Authorization": f"Bearer {SERVER_KEY}"},
    )


async def test_revoking_closes_the_users_sockets_at_once(
    market: Marketplace, open_socket: Connect
) -> None:
    user = await market.user()
    first, second = await open_socket(user.token), await open_socket(user.token)
    deal = await market.transaction()
    bystander = await open_socket(deal.seller.token)
    response = await market.server.delete(f"/v1/users/{user.id}/tokens")
    assert response.status_code == 204, response.text
    assert await first.close_code() == REVOKED
    assert await second.close_code() == REVOKED
    # Another user's stream goes on.
    cid = await market.conversation_id(deal)
    sent = await market.send(deal.buyer, cid, "still there?")
    assert (await bystander.event())["data"] == sent


async def test_revoking_ends_an_sse_stream_at_once(market: Marketplace, server: str) -> None:
    user = await market.user()
    async with sse(server, params={"token": user.token}) as stream:
        assert (await stream.event())[1]["type"] == "ready"
        response = await market.server.delete(f"/v1/users/{user.id}/tokens")
        assert response.status_code == 204, response.text
        _, frame = await stream.event()
        assert frame == {
            "id": None,
            "type": "error",
            "data": {"code": "unauthenticated", "detail": "The token has been revoked."},
        }


async def test_a_revocation_that_fails_closes_nothing(
    market: Marketplace, open_socket: Connect
) -> None:
    user = await market.user()
    client = await open_socket(user.token)
    response = await market.server.delete("/v1/users/nobody-by-this-id/tokens")
    assert response.status_code == 404
    deal = await market.transaction(seller=user)
    cid = await market.conversation_id(deal)
    sent = await market.send(deal.buyer, cid, "still listening?")
    assert (await client.event())["data"] == sent


@pytest.mark.parametrize("broker", ["redis"])
async def test_revoking_through_one_node_closes_sockets_on_another(
    market: Marketplace, open_socket: Connect, node_b: FastAPI
) -> None:
    user = await market.user()
    client = await open_socket(user.token)  # on the node the test serves
    async with operator_of(node_b) as operator_on_b:
        response = await operator_on_b.delete(f"/v1/users/{user.id}/tokens")
    assert response.status_code == 204, response.text
    assert await client.close_code() == REVOKED


@pytest.mark.parametrize("broker", ["redis"])
async def test_a_revocation_missed_in_a_redis_outage_closes_the_socket_once_it_is_back(
    app: FastAPI,
    market: Marketplace,
    open_socket: Connect,
    node_b: FastAPI,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Reconnect slowly enough that the revocation surely falls into the outage.
    monkeypatch.setattr(redis_broker, "BACKOFF_FIRST_SECONDS", 3.0)
    user = await market.user()
    client = await open_socket(user.token)
    broker = await cut_off_from_redis(app)
    async with operator_of(node_b) as operator_on_b:
        response = await operator_on_b.delete(f"/v1/users/{user.id}/tokens")
    assert response.status_code == 204, response.text
    # The news went out while this node was not listening; the gap it finds on its return
    # makes the stream check its token.
    assert await client.close_code() == REVOKED
    assert broker.reconnects >= 1
