"""Events reach the connected participants as they happen, in order, and only them."""

from __future__ import annotations

import asyncio

from fastapi import FastAPI

from tests.fixtures.marketplace import Marketplace
from tests.realtime.conftest import Connect


async def test_the_seller_sees_the_buyers_question_the_moment_it_is_sent(
    market: Marketplace, open_socket: Connect
) -> None:
    deal = await market.transaction()
    cid = await market.conversation_id(deal)
    seller = await open_socket(deal.seller.token)
    buyer = await open_socket(deal.buyer.token)
    sent = await market.send(deal.buyer, cid, "Is the coin still available?")
    for client in (seller, buyer):
        frame = await client.event()
        assert frame["type"] == "message.created"
        assert frame["data"] == sent  # the message exactly as the API returned it
        assert frame["id"] == 1


async def test_an_event_arrives_after_its_data_is_committed(
    market: Marketplace, open_socket: Connect
) -> None:
    deal = await market.transaction()
    cid = await market.conversation_id(deal)
    seller = await open_socket(deal.seller.token)
    sent = await market.send(deal.buyer, cid, "Can you ship tomorrow?")
    frame = await seller.event()
    # A client that reloads the thread on an event finds what the event announced.
    page = await deal.seller.client.get(f"/v1/conversations/{cid}/messages")
    assert [m["id"] for m in page.json()["items"]] == [frame["data"]["id"]] == [sent["id"]]


async def test_the_token_may_come_in_the_authorization_header(
    market: Marketplace, open_socket: Connect
) -> None:
    deal = await market.transaction()
    cid = await market.conversation_id(deal)
    seller = await open_socket(headers={"Authorization": f"Bearer {deal.seller.token}"})
    await market.send(deal.buyer, cid, "hello")
    assert (await seller.event())["type"] == "message.created"


async def test_read_receipts_tell_who_read_up_to_which_message(
    market: Marketplace, open_socket: Connect
) -> None:
    deal = await market.transaction()
    cid = await market.conversation_id(deal)
    buyer = await open_socket(deal.buyer.token)
    sent = await market.send(deal.buyer, cid, "Did you get my payment?")
    await buyer.event()
    response = await deal.seller.client.post(
        f"/v1/conversations/{cid}/read", json={"message_id": sent["id"]}
    )
    assert response.status_code == 200
    frame = await buyer.event()
    assert frame["type"] == "conversation.read"
    assert frame["data"] == {
        "conversation_id": cid,
        "user_id": deal.seller.id,
        "last_read_message_id": sent["id"],
        "last_read_seq": sent["seq"],
    }


async def test_concurrent_sends_arrive_in_id_order_without_gaps(
    market: Marketplace, open_socket: Connect
) -> None:
    deal = await market.transaction()
    cid = await market.conversation_id(deal)
    seller = await open_socket(deal.seller.token)
    sends = [
        market.send(party, cid, f"message {n}")
        for n in range(10)
        for party in (deal.buyer, deal.seller)
    ]
    sent = await asyncio.gather(*sends)
    frames = [await seller.event() for _ in sent]
    assert [f["id"] for f in frames] == list(range(1, len(sent) + 1))
    # The stream's order is the thread's order.
    assert [f["data"]["seq"] for f in frames] == sorted(m["seq"] for m in sent)
    assert {f["data"]["id"] for f in frames} == {m["id"] for m in sent}


async def test_every_open_socket_of_a_user_gets_the_event(
    market: Marketplace, open_socket: Connect
) -> None:
    deal = await market.transaction()
    cid = await market.conversation_id(deal)
    phone = await open_socket(deal.seller.token)
    laptop = await open_socket(deal.seller.token)
    sent = await market.send(deal.buyer, cid, "anyone there?")
    assert (await phone.event())["data"] == sent
    assert (await laptop.event())["data"] == sent


async def test_an_outsider_stream_carries_nothing_of_other_peoples_conversations(
    market: Marketplace, open_socket: Connect
) -> None:
    deal = await market.transaction()
    cid = await market.conversation_id(deal)
    outsider = await market.user()
    own_deal = await market.transaction(outsider)
    own_cid = await market.conversation_id(own_deal)
    spy = await open_socket(outsider.token)
    buyer = await open_socket(deal.buyer.token)
    sent = await market.send(deal.buyer, cid, "my address is on the order")
    await deal.seller.client.post(f"/v1/conversations/{cid}/read", json={"message_id": sent["id"]})
    await deal.seller.client.post(f"/v1/conversations/{cid}/typing")
    # The outsider's attempt to signal typing there is refused like any unknown conversation.
    await spy.send({"type": "typing", "conversation_id": cid})
    error = await spy.event()
    assert error["type"] == "error"
    assert error["data"]["code"] == "not_found"
    # Then the first thing the outsider's stream carries is their own conversation's message.
    own = await market.send(outsider, own_cid, "about my order")
    frame = await spy.event()
    assert frame["type"] == "message.created"
    assert frame["data"] == own
    assert frame["id"] == 1
    # And the participants saw nothing from the outsider.
    assert [(await buyer.event())["type"] for _ in range(3)] == [
        "message.created",
        "conversation.read",
        "typing",
    ]


async def test_a_rolled_back_transaction_publishes_nothing(
    app: FastAPI, market: Marketplace, open_socket: Connect
) -> None:
    from tradetalk.db import unit_of_work

    deal = await market.transaction()
    cid = await market.conversation_id(deal)
    seller = await open_socket(deal.seller.token)
    try:
        async with unit_of_work(app.state.ctx) as uow:
            uow.emit("message.created", {"body": "never committed"}, to=[deal.seller.id])
            raise RuntimeError("the request failed after emitting")
    except RuntimeError:
        pass
    sent = await market.send(deal.buyer, cid, "the real one")
    frame = await seller.event()
    assert frame["data"] == sent
    assert frame["id"] == 1


async def test_every_durable_event_type_reaches_exactly_the_chosen_recipients(
    app: FastAPI, market: Marketplace, open_socket: Connect
) -> None:
    from tradetalk.db import unit_of_work
    from tradetalk.realtime.events import EventType

    seller, other = await market.user(), await market.user()
    seller_socket = await open_socket(seller.token)
    other_socket = await open_socket(other.token)
    async with unit_of_work(app.state.ctx) as uow:
        for event_type in EventType:
            uow.emit(event_type, {"kind": event_type.value}, to=[seller.id])
        uow.emit(EventType.NOTIFICATION_CREATED, {"kind": "for the other"}, to=[other.id])
    received = [await seller_socket.event() for _ in EventType]
    assert [(f["id"], f["type"], f["data"]) for f in received] == [
        (n, t.value, {"kind": t.value}) for n, t in enumerate(EventType, start=1)
    ]
    assert (await other_socket.event())["data"] == {"kind": "for the other"}
