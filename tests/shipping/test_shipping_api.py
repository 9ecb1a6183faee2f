"""Shipping updates over the API: the seller posts a checked number, the thread shows it."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import select

from tests.fixtures.marketplace import Marketplace
from tradetalk.db import read_session
from tradetalk.shipping.models import ShippingUpdate

UPS = "1Z999AA10123456784"


def url(cid: int) -> str:
    return f"/v1/conversations/{cid}/shipping-updates"


async def stored(app: FastAPI) -> list[ShippingUpdate]:
    async with read_session(app.state.ctx) as session:
        return list(await session.scalars(select(ShippingUpdate)))


async def test_the_seller_posts_a_tracking_number_and_the_thread_shows_it(
    app: FastAPI, market: Marketplace
) -> None:
    deal = await market.transaction(status="paid")
    cid = await market.conversation_id(deal)
    await market.send(deal.buyer, cid, "Any news on shipping?")
    response = await deal.seller.client.post(
        url(cid), json={"carrier": "UPS", "tracking_number": "1z 999 aa1 0123 4567 84"}
    )
    assert response.status_code == 201, response.text
    update = response.json()
    assert (update["carrier"], update["tracking_number"], update["posted_by"]) == (
        "UPS",
        UPS,
        deal.seller.id,
    )
    assert update["tracking_url"] == f"https://www.ups.com/track?tracknum={UPS}"
    assert update["check_digit_verified"] is True

    items = (await deal.buyer.client.get(f"/v1/conversations/{cid}/messages")).json()["items"]
    item = items[0]
    assert item["kind"] == "shipping_update"
    assert item["id"] == update["message_id"]
    assert (item["sender_id"], item["sender_role"]) == (deal.seller.id, "seller")
    assert item["body"] == f"Shipping update: UPS {UPS}"
    assert item["shipping"] == update
    assert item["offer"] is None
    # It is a reply from the seller: the buyer has it unread, the seller has read the thread.
    buyer_inbox = (await deal.buyer.client.get("/v1/conversations")).json()["items"][0]
    seller_inbox = (await deal.seller.client.get("/v1/conversations")).json()["items"][0]
    assert (buyer_inbox["unread_count"], seller_inbox["unread_count"]) == (1, 0)
    assert buyer_inbox["last_message"]["shipping"]["tracking_number"] == UPS


async def test_the_carrier_is_recognised_when_not_given(market: Marketplace) -> None:
    deal = await market.transaction()
    cid = await market.conversation_id(deal)
    response = await deal.seller.client.post(
        url(cid), json={"tracking_number": "9400 1112 0108 0805 4830 16"}
    )
    assert response.status_code == 201
    assert response.json()["carrier"] == "United States Postal Service"


async def test_posting_the_same_number_again_gives_back_the_first_update(
    app: FastAPI, market: Marketplace
) -> None:
    deal = await market.transaction()
    cid = await market.conversation_id(deal)
    first = await deal.seller.client.post(url(cid), json={"tracking_number": UPS})
    again = await deal.seller.client.post(url(cid), json={"tracking_number": f" {UPS.lower()} "})
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json() == again.json()
    assert len(await stored(app)) == 1


async def test_only_the_seller_posts_shipping_updates(app: FastAPI, market: Marketplace) -> None:
    deal = await market.transaction()
    outsider = await market.user()
    cid = await market.conversation_id(deal)
    buyer = await deal.buyer.client.post(url(cid), json={"tracking_number": UPS})
    assert buyer.status_code == 403
    assert buyer.json()["code"] == "seller_only"
    stranger = await outsider.client.post(url(cid), json={"tracking_number": UPS})
    assert stranger.status_code == 404
    assert stranger.json()["code"] == "not_found"
    anonymous = await market.anonymous.post(url(cid), json={"tracking_number": UPS})
    assert anonymous.status_code == 401
    assert await stored(app) == []


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"tracking_number": "1Z999AA10123456785"}, "invalid_tracking_number"),
        ({"tracking_number": "+1 415 555 0123"}, "invalid_tracking_number"),
        ({"tracking_number": UPS, "carrier": "DHL"}, "carrier_mismatch"),
        ({"tracking_number": ""}, "validation_error"),
        ({"tracking_number": UPS, "extra": 1}, "validation_error"),
        ({"carrier": "UPS"}, "validation_error"),
    ],
)
async def test_bad_tracking_numbers_are_refused(
    app: FastAPI, market: Marketplace, body: dict[str, Any], code: str
) -> None:
    deal = await market.transaction()
    cid = await market.conversation_id(deal)
    response = await deal.seller.client.post(url(cid), json=body)
    assert response.status_code == 422
    assert response.json()["code"] == code
    assert await stored(app) == []
    assert (await deal.seller.client.get(f"/v1/conversations/{cid}/messages")).json()["items"] == []


async def test_a_shipping_update_is_announced_to_exactly_the_participants(
    app: FastAPI, market: Marketplace
) -> None:
    deal = await market.transaction()
    outsider = await market.user()
    cid = await market.conversation_id(deal)
    broker = app.state.ctx.broker
    subs = {u.id: broker.subscribe(u.id) for u in (deal.buyer, deal.seller, outsider)}
    update = (await deal.seller.client.post(url(cid), json={"tracking_number": UPS})).json()
    for user in (deal.buyer, deal.seller):
        frame = json.loads(subs[user.id].queue.get_nowait().frame)
        assert frame["type"] == "message.created"
        assert frame["data"]["shipping"] == update
        assert subs[user.id].queue.empty()
    assert subs[outsider.id].queue.empty()
    for sub in subs.values():
        sub.close()
