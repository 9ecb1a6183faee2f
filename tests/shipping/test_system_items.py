"""When the operator moves a transaction, the thread says so in a short system item."""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI

from tests.fixtures.marketplace import Marketplace, TestTransaction


async def set_status(market: Marketplace, deal: TestTransaction, status: str) -> None:
    response = await market.server.put(
        f"/v1/transactions/{deal.id}",
        json={
            "buyer_id": deal.buyer.id,
            "seller_id": deal.seller.id,
            "title": "1921 Morgan silver dollar",
            "status": status,
        },
    )
    assert response.status_code == 200, response.text


async def thread(market: Marketplace, deal: TestTransaction, cid: int) -> list[dict[str, Any]]:
    response = await deal.buyer.client.get(f"/v1/conversations/{cid}/messages")
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_a_status_change_reads_as_one_story_in_the_thread(
    app: FastAPI, market: Marketplace
) -> None:
    deal = await market.transaction(status="paid")
    outsider = await market.user()
    cid = await market.conversation_id(deal)
    await market.send(deal.buyer, cid, "Please ship soon")
    broker = app.state.ctx.broker
    subs = {u.id: broker.subscribe(u.id) for u in (deal.buyer, deal.seller, outsider)}
    await set_status(market, deal, "shipped")
    items = await thread(market, deal, cid)
    note = items[0]
    assert (note["kind"], note["body"]) == ("system", "Order marked as shipped")
    assert (note["sender_id"], note["sender_role"]) == (None, "system")
    for user in (deal.buyer, deal.seller):
        frame = json.loads(subs[user.id].queue.get_nowait().frame)
        assert (frame["type"], frame["data"]) == ("message.created", note)
    assert subs[outsider.id].queue.empty()
    for sub in subs.values():
        sub.close()
    # System items never count as unread.
    seller_inbox = (await deal.seller.client.get("/v1/conversations")).json()["items"][0]
    assert seller_inbox["unread_count"] == 1
    assert seller_inbox["last_message"]["kind"] == "system"


async def test_no_note_without_a_change_or_without_a_conversation(market: Marketplace) -> None:
    deal = await market.transaction(status="paid")
    await set_status(market, deal, "shipped")  # no conversation yet: nothing to note in
    cid = await market.conversation_id(deal)
    await set_status(market, deal, "shipped")  # same status again: nothing new to say
    assert await thread(market, deal, cid) == []
    await set_status(market, deal, "delivered")
    assert [m["body"] for m in await thread(market, deal, cid)] == ["Order marked as delivered"]
