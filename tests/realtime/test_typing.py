"""Typing signals go to the other participants only, are thinned out, and are never stored."""

from __future__ import annotations

from fastapi import FastAPI
from sqlalchemy import func, select

from tests.fixtures.marketplace import Marketplace
from tests.realtime.conftest import Connect
from tradetalk.db import read_session
from tradetalk.realtime.models import Event


async def test_typing_over_the_socket_reaches_the_other_participant(
    app: FastAPI, market: Marketplace, open_socket: Connect
) -> None:
    deal = await market.transaction()
    cid = await market.conversation_id(deal)
    buyer = await open_socket(deal.buyer.token)
    seller = await open_socket(deal.seller.token)
    await buyer.send({"type": "typing", "conversation_id": cid})
    frame = await seller.event()
    assert frame == {
        "id": None,
        "type": "typing",
        "data": {"conversation_id": cid, "user_id": deal.buyer.id},
    }
    # Not echoed to the typist, and never stored.
    sent = await market.send(deal.seller, cid, "I see you typing")
    assert (await buyer.event())["data"] == sent
    async with read_session(app.state.ctx) as session:
        stored = await session.scalar(select(func.count()).select_from(Event))
    assert stored == 2  # the message, for each participant; no typing


async def test_a_burst_of_typing_signals_is_thinned_out(
    market: Marketplace, open_socket: Connect
) -> None:
    deal = await market.transaction()
    cid = await market.conversation_id(deal)
    buyer = await open_socket(deal.buyer.token)
    seller = await open_socket(deal.seller.token)
    for _ in range(5):
        await buyer.send({"type": "typing", "conversation_id": cid})
    # The socket's frames are handled in order: once this one is answered, the burst has been.
    await buyer.connection.send("not json")
    assert (await buyer.event())["type"] == "error"
    sent = await market.send(deal.buyer, cid, "done typing")
    kinds = []
    while (frame := await seller.event())["type"] != "message.created":
        kinds.append(frame["type"])
    assert frame["data"] == sent
    assert kinds == ["typing"]


async def test_a_frame_the_server_does_not_understand_gets_an_error_frame(
    market: Marketplace, open_socket: Connect
) -> None:
    user = await market.user()
    client = await open_socket(user.token)
    await client.connection.send("not json")
    frame = await client.event()
    assert frame["type"] == "error"
    assert frame["data"]["code"] == "invalid_frame"
    await client.send({"type": "typing", "conversation_id": 999_999})
    frame = await client.event()
    assert (frame["type"], frame["data"]["code"]) == ("error", "not_found")


async def test_typing_over_http_for_clients_without_a_socket(
    market: Marketplace, open_socket: Connect
) -> None:
    deal = await market.transaction()
    cid = await market.conversation_id(deal)
    outsider = await market.user()
    seller = await open_socket(deal.seller.token)
    url = f"/v1/conversations/{cid}/typing"
    assert (await deal.buyer.client.post(url)).status_code == 204
    again = await deal.buyer.client.post(url)
    assert again.status_code == 429
    assert again.json()["code"] == "rate_limited"
    assert "Retry-After" in again.headers
    refused = await outsider.client.post(url)
    assert refused.status_code == 404
    assert refused.json()["code"] == "not_found"
    assert (await market.anonymous.post(url)).status_code == 401
    frame = await seller.event()
    assert frame["data"] == {"conversation_id": cid, "user_id": deal.buyer.id}
