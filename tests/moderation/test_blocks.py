"""Blocking a user stops their direct messages; order conversations stay open."""

from __future__ import annotations

import pytest

from tests.fixtures.marketplace import Marketplace
from tradetalk.config import Settings


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"direct_messages": True})


async def test_blocked_user_cannot_send_direct_messages(market: Marketplace) -> None:
    seller, pest = await market.user(), await market.user()
    started = await pest.client.post("/v1/conversations", json={"user_id": seller.id})
    cid = started.json()["id"]
    await market.send(pest, cid, "hello??")
    blocked = await seller.client.post("/v1/blocks", json={"user_id": pest.id})
    assert blocked.status_code == 201
    assert (await seller.client.post("/v1/blocks", json={"user_id": pest.id})).status_code == 200
    refused = await pest.client.post(f"/v1/conversations/{cid}/messages", json={"body": "hi"})
    assert refused.status_code == 403
    assert refused.json()["code"] == "blocked"
    # The seller can still write to the conversation.
    await market.send(seller, cid, "please stop")
    other_seller = await market.user()
    assert (
        await pest.client.post("/v1/conversations", json={"user_id": other_seller.id})
    ).status_code == 201
    listed = (await seller.client.get("/v1/blocks")).json()
    assert [b["user_id"] for b in listed] == [pest.id]
    assert (await seller.client.delete(f"/v1/blocks/{pest.id}")).status_code == 204
    assert (await seller.client.delete(f"/v1/blocks/{pest.id}")).status_code == 404
    await market.send(pest, cid, "sorry")


async def test_blocking_does_not_close_order_conversations(market: Marketplace) -> None:
    deal = await market.transaction()
    cid = await market.conversation_id(deal)
    await deal.seller.client.post("/v1/blocks", json={"user_id": deal.buyer.id})
    await market.send(deal.buyer, cid, "where is my order?")


async def test_new_direct_conversation_refused_in_both_directions(market: Marketplace) -> None:
    a, b = await market.user(), await market.user()
    await a.client.post("/v1/blocks", json={"user_id": b.id})
    for client, other in ((b.client, a.id), (a.client, b.id)):
        response = await client.post("/v1/conversations", json={"user_id": other})
        assert response.status_code == 403
        assert response.json()["code"] == "blocked"
    itself = await a.client.post("/v1/blocks", json={"user_id": a.id})
    assert itself.status_code == 409
