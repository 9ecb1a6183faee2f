"""Direct conversations from a seller's profile: a policy switch with tighter limits."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi import FastAPI

from tests.fixtures.marketplace import Marketplace
from tradetalk.config import Settings
from tradetalk.kit.clock import ManualClock


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"direct_messages": True, "direct_conversations_per_day": 3})


async def test_direct_conversation_is_one_per_pair(market: Marketplace) -> None:
    buyer, seller = await market.user(), await market.user()
    first = await buyer.client.post("/v1/conversations", json={"user_id": seller.id})
    assert first.status_code == 201
    conversation = first.json()
    assert conversation["kind"] == "direct"
    assert conversation["transaction_id"] is None
    roles = {p["user_id"]: p["role"] for p in conversation["participants"]}
    assert roles == {buyer.id: "buyer", seller.id: "seller"}
    again = await buyer.client.post("/v1/conversations", json={"user_id": seller.id})
    reverse = await seller.client.post("/v1/conversations", json={"user_id": buyer.id})
    assert again.status_code == reverse.status_code == 200
    assert again.json()["id"] == reverse.json()["id"] == conversation["id"]
    sent = await market.send(buyer, conversation["id"], "Do you have this in size 9?")
    assert sent["sender_role"] == "buyer"


async def test_direct_conversation_refusals(market: Marketplace) -> None:
    buyer = await market.user()
    itself = await buyer.client.post("/v1/conversations", json={"user_id": buyer.id})
    assert itself.status_code == 422
    assert itself.json()["code"] == "cannot_message_self"
    ghost = await buyer.client.post("/v1/conversations", json={"user_id": "ghost"})
    assert ghost.status_code == 404
    bad = await buyer.client.post("/v1/conversations", json={"user_id": "a b"})
    assert bad.status_code == 422


async def test_daily_limit_on_new_direct_conversations(
    market: Marketplace, clock: ManualClock
) -> None:
    buyer = await market.user()
    sellers = [await market.user() for _ in range(4)]
    for seller in sellers[:3]:
        await market.refresh(buyer)
        response = await buyer.client.post("/v1/conversations", json={"user_id": seller.id})
        assert response.status_code == 201
        clock.advance(timedelta(minutes=50))
    await market.refresh(buyer)
    limited = await buyer.client.post("/v1/conversations", json={"user_id": sellers[3].id})
    assert limited.status_code == 429
    assert limited.json()["code"] == "rate_limited"
    # The first of the three was started 150 minutes ago: it leaves the window in 21.5 hours.
    retry_after = int(limited.headers["retry-after"])
    assert abs(retry_after - (24 * 3600 - 150 * 60)) <= 5
    # Reopening an existing pair is not a new conversation.
    existing = await buyer.client.post("/v1/conversations", json={"user_id": sellers[0].id})
    assert existing.status_code == 200
    clock.advance(timedelta(hours=22))
    await market.refresh(buyer)
    later = await buyer.client.post("/v1/conversations", json={"user_id": sellers[3].id})
    assert later.status_code == 201


async def test_direct_messages_are_off_by_default(app: FastAPI, market: Marketplace) -> None:
    app.state.ctx.settings = app.state.ctx.settings.model_copy(update={"direct_messages": False})
    buyer, seller = await market.user(), await market.user()
    response = await buyer.client.post("/v1/conversations", json={"user_id": seller.id})
    assert response.status_code == 403
    assert response.json()["code"] == "direct_messages_disabled"


def test_default_setting_is_off() -> None:
    assert Settings(secret_key="x").direct_messages is False
