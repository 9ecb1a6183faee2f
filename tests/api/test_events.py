"""Sends and reads emit events to exactly the participants, numbered per user, after commit."""

from __future__ import annotations

import json

from fastapi import FastAPI
from sqlalchemy import select

from tests.fixtures.marketplace import Marketplace
from tradetalk.db import read_session
from tradetalk.realtime.models import Event


async def test_message_created_goes_to_exactly_the_participants(
    app: FastAPI, market: Marketplace
) -> None:
    deal = await market.transaction()
    outsider = await market.user()
    cid = await market.conversation_id(deal)
    broker = app.state.ctx.broker
    subs = {u.id: broker.subscribe(u.id) for u in (deal.buyer, deal.seller, outsider)}
    sent = await market.send(deal.buyer, cid, "Could you add a second photo?")
    for user_id in (deal.buyer.id, deal.seller.id):
        delivery = subs[user_id].queue.get_nowait()
        frame = json.loads(delivery.frame)
        assert frame["type"] == "message.created"
        assert frame["data"] == sent  # the message exactly as the API returned it
        assert frame["id"] == delivery.event_id
    assert subs[outsider.id].queue.empty()
    for sub in subs.values():
        sub.close()


async def test_event_ids_grow_by_one_per_user_and_are_stored(
    app: FastAPI, market: Marketplace
) -> None:
    deal = await market.transaction()
    cid = await market.conversation_id(deal)
    await market.send(deal.buyer, cid, "one")
    reply = await market.send(deal.seller, cid, "two")
    await deal.buyer.client.post(f"/v1/conversations/{cid}/read", json={"message_id": reply["id"]})
    async with read_session(app.state.ctx) as session:
        rows = (await session.scalars(select(Event).order_by(Event.user_id, Event.id))).all()
    by_user: dict[str, list[tuple[int, str]]] = {}
    for row in rows:
        by_user.setdefault(row.user_id, []).append((row.id, row.type))
    expected = [(1, "message.created"), (2, "message.created"), (3, "conversation.read")]
    assert by_user == {deal.buyer.id: expected, deal.seller.id: expected}


async def test_a_refused_send_emits_nothing(app: FastAPI, market: Marketplace) -> None:
    deal = await market.transaction()
    cid = await market.conversation_id(deal)
    sub = app.state.ctx.broker.subscribe(deal.seller.id)
    response = await deal.buyer.client.post(f"/v1/conversations/{cid}/messages", json={"body": " "})
    assert response.status_code == 422
    assert sub.queue.empty()
    sub.close()
