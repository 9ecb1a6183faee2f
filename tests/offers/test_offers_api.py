"""Offers over the API: haggling to a price, every transition and refusal, on both databases."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import event, select

from tests.fixtures.marketplace import Marketplace, TestTransaction, TestUser
from tradetalk.db import read_session
from tradetalk.kit.clock import ManualClock
from tradetalk.notifications.models import OutboxItem
from tradetalk.offers.models import Offer


async def make(user: TestUser, cid: int, amount: int = 12000, **body: Any) -> dict[str, Any]:
    """Make an offer that must succeed."""
    response = await user.client.post(
        f"/v1/conversations/{cid}/offers",
        json={"amount_minor": amount, "currency": "USD", **body},
    )
    assert response.status_code == 201, response.text
    offer: dict[str, Any] = response.json()
    return offer


async def act(user: TestUser, offer_id: int, action: str, **body: Any) -> Any:
    return await user.client.post(f"/v1/offers/{offer_id}/{action}", json=body or None)


async def deal_with_offer(market: Marketplace) -> tuple[TestTransaction, int, dict[str, Any]]:
    deal = await market.transaction()
    cid = await market.conversation_id(deal)
    return deal, cid, await make(deal.buyer, cid)


async def stored_status(app: FastAPI, offer_id: int) -> str:
    async with read_session(app.state.ctx) as session:
        offer = await session.get(Offer, offer_id)
        assert offer is not None
        return offer.status


async def webhooks(app: FastAPI) -> list[dict[str, Any]]:
    async with read_session(app.state.ctx) as session:
        rows = await session.scalars(select(OutboxItem).where(OutboxItem.kind == "webhook"))
        return [json.loads(row.payload) for row in rows]


async def test_buyer_and_seller_haggle_to_an_accepted_price_and_the_operator_is_told(
    app: FastAPI, market: Marketplace
) -> None:
    deal = await market.transaction()
    cid = await market.conversation_id(deal)
    first = await make(deal.buyer, cid, 10000, quantity=2, note="Would you take 100 for both?")
    assert first["status"] == "open"
    assert (first["maker_id"], first["recipient_id"]) == (deal.buyer.id, deal.seller.id)
    assert first["transaction_id"] == deal.id

    countered = await act(deal.seller, first["id"], "counter", amount_minor=11500, currency="USD")
    assert countered.status_code == 201
    counter = countered.json()
    assert counter["in_reply_to"] == first["id"]
    assert counter["maker_id"] == deal.seller.id
    assert counter["quantity"] == 1

    accepted = await act(deal.buyer, counter["id"], "accept")
    assert accepted.status_code == 200
    assert accepted.json()["status"] == "accepted"
    assert accepted.json()["closed_at"] is not None

    answered = (await deal.buyer.client.get(f"/v1/offers/{first['id']}")).json()
    assert answered["status"] == "countered"
    assert answered["superseded_by"] == counter["id"]

    hooks = await webhooks(app)
    assert len(hooks) == 1
    assert hooks[0]["type"] == "offer.accepted"
    data = hooks[0]["data"]
    assert (data["id"], data["status"], data["amount_minor"], data["currency"]) == (
        counter["id"],
        "accepted",
        11500,
        "USD",
    )
    assert (data["transaction_id"], data["conversation_id"]) == (deal.id, cid)

    # Accepting tells the operator; the transaction itself stays as the operator left it.
    conversation = (await deal.seller.client.get(f"/v1/conversations/{cid}")).json()
    assert conversation["transaction"]["status"] == "initiated"
    assert conversation["transaction"]["amount_minor"] == 12500


async def test_accept_decline_and_withdraw_close_an_open_offer(
    app: FastAPI, market: Marketplace
) -> None:
    for actor, action, status in (
        ("seller", "accept", "accepted"),
        ("seller", "decline", "declined"),
        ("buyer", "withdraw", "withdrawn"),
    ):
        deal, _, offer = await deal_with_offer(market)
        response = await act(getattr(deal, actor), offer["id"], action)
        assert response.status_code == 200, response.text
        assert response.json()["status"] == status
        assert await stored_status(app, offer["id"]) == status


@pytest.mark.parametrize(
    ("actor", "action", "code"),
    [
        ("buyer", "accept", "cannot_answer_own_offer"),
        ("buyer", "decline", "cannot_answer_own_offer"),
        ("buyer", "counter", "cannot_answer_own_offer"),
        ("seller", "withdraw", "not_your_offer"),
    ],
)
async def test_the_wrong_party_is_refused_and_the_offer_stays_open(
    app: FastAPI, market: Marketplace, actor: str, action: str, code: str
) -> None:
    deal, _, offer = await deal_with_offer(market)
    body = {"amount_minor": 9000, "currency": "USD"} if action == "counter" else {}
    response = await act(getattr(deal, actor), offer["id"], action, **body)
    assert response.status_code == 409
    assert response.json()["code"] == code
    assert await stored_status(app, offer["id"]) == "open"


@pytest.mark.parametrize("closing", ["accept", "decline", "withdraw", "counter"])
async def test_nothing_moves_a_closed_offer(
    app: FastAPI, market: Marketplace, closing: str
) -> None:
    deal, _, offer = await deal_with_offer(market)
    closer = deal.buyer if closing == "withdraw" else deal.seller
    body = {"amount_minor": 11000, "currency": "USD"} if closing == "counter" else {}
    assert (await act(closer, offer["id"], closing, **body)).status_code in (200, 201)
    status = await stored_status(app, offer["id"])
    for user, action in (
        (deal.seller, "accept"),
        (deal.seller, "decline"),
        (deal.seller, "counter"),
        (deal.buyer, "withdraw"),
        (deal.buyer, "accept"),
    ):
        body = {"amount_minor": 10500, "currency": "USD"} if action == "counter" else {}
        response = await act(user, offer["id"], action, **body)
        assert response.status_code == 409, (closing, action)
        assert response.json()["code"] == "offer_not_open"
        assert response.json()["offer_status"] == status
    assert await stored_status(app, offer["id"]) == status


async def test_a_new_offer_from_the_same_side_withdraws_the_old_one(market: Marketplace) -> None:
    deal, cid, first = await deal_with_offer(market)
    second = await make(deal.buyer, cid, 12500)
    old = (await deal.seller.client.get(f"/v1/offers/{first['id']}")).json()
    assert old["status"] == "withdrawn"
    assert old["superseded_by"] == second["id"]
    assert second["status"] == "open"
    # The seller answers the newest one; the replaced one is closed for good.
    assert (await act(deal.seller, first["id"], "accept")).status_code == 409
    assert (await act(deal.seller, second["id"], "accept")).status_code == 200


async def test_the_other_side_must_answer_an_open_offer_before_making_its_own(
    market: Marketplace,
) -> None:
    deal, cid, first = await deal_with_offer(market)
    response = await deal.seller.client.post(
        f"/v1/conversations/{cid}/offers", json={"amount_minor": 15000, "currency": "USD"}
    )
    assert response.status_code == 409
    assert response.json()["code"] == "open_offer_exists"
    assert response.json()["offer_id"] == first["id"]
    # Once it is answered, the seller may make an offer of their own.
    assert (await act(deal.seller, first["id"], "decline")).status_code == 200
    assert (await make(deal.seller, cid, 15000))["maker_id"] == deal.seller.id


async def test_after_any_sequence_at_most_one_offer_is_open(
    app: FastAPI, market: Marketplace
) -> None:
    deal, cid, _first = await deal_with_offer(market)
    await make(deal.buyer, cid, 12100)
    latest = (await deal.buyer.client.get(f"/v1/conversations/{cid}/messages")).json()["items"][0]
    counter = (
        await act(deal.seller, latest["offer"]["id"], "counter", amount_minor=13000, currency="USD")
    ).json()
    await act(deal.buyer, counter["id"], "counter", amount_minor=12500, currency="USD")
    await make(deal.buyer, cid, 12600)
    async with read_session(app.state.ctx) as session:
        statuses = list(await session.scalars(select(Offer.status).order_by(Offer.id)))
    assert statuses == ["withdrawn", "countered", "countered", "withdrawn", "open"]


async def test_two_accepts_at_once_give_one_200_and_one_409(
    app: FastAPI, market: Marketplace
) -> None:
    deal, _, offer = await deal_with_offer(market)
    first, second = await asyncio.gather(
        act(deal.seller, offer["id"], "accept"), act(deal.seller, offer["id"], "accept")
    )
    assert sorted((first.status_code, second.status_code)) == [200, 409]
    loser = first if first.status_code == 409 else second
    assert loser.json()["code"] == "offer_not_open"
    assert len(await webhooks(app)) == 1


async def test_racing_accept_and_withdraw_leave_exactly_one_outcome(
    app: FastAPI, market: Marketplace
) -> None:
    deal, _, offer = await deal_with_offer(market)
    accept, withdraw = await asyncio.gather(
        act(deal.seller, offer["id"], "accept"), act(deal.buyer, offer["id"], "withdraw")
    )
    assert sorted((accept.status_code, withdraw.status_code)) == [200, 409]
    winner = "accepted" if accept.status_code == 200 else "withdrawn"
    assert await stored_status(app, offer["id"]) == winner
    assert len(await webhooks(app)) == (1 if winner == "accepted" else 0)


async def test_racing_counters_make_one_counteroffer(app: FastAPI, market: Marketplace) -> None:
    deal, _, offer = await deal_with_offer(market)
    responses = await asyncio.gather(
        *(
            act(deal.seller, offer["id"], "counter", amount_minor=11000 + i, currency="USD")
            for i in range(4)
        )
    )
    assert sorted(r.status_code for r in responses) == [201, 409, 409, 409]
    async with read_session(app.state.ctx) as session:
        open_count = len(list(await session.scalars(select(Offer).where(Offer.status == "open"))))
    assert open_count == 1


async def test_an_offer_expires_at_its_expiry_instant(
    app: FastAPI, market: Marketplace, clock: ManualClock
) -> None:
    deal = await market.transaction()
    cid = await market.conversation_id(deal)
    expires_at = clock.now() + timedelta(minutes=10)
    late = await make(deal.buyer, cid, 12100, expires_at=expires_at.isoformat())

    clock.advance(timedelta(minutes=10) - timedelta(seconds=1))
    seen = (await deal.seller.client.get(f"/v1/offers/{late['id']}")).json()
    assert seen["status"] == "open"

    clock.advance(timedelta(seconds=1))  # exactly expires_at
    seen = (await deal.seller.client.get(f"/v1/offers/{late['id']}")).json()
    assert seen["status"] == "expired"  # read as expired before anyone acts
    assert await stored_status(app, late["id"]) == "open"

    sub = app.state.ctx.broker.subscribe(deal.buyer.id)
    refused = await act(deal.seller, late["id"], "accept")
    assert refused.status_code == 409
    assert refused.json()["code"] == "offer_expired"
    # The request failed, but the expiry it found is kept, and the maker hears of it.
    assert await stored_status(app, late["id"]) == "expired"
    frame = json.loads(sub.queue.get_nowait().frame)
    assert (frame["type"], frame["data"]["id"], frame["data"]["status"]) == (
        "offer.updated",
        late["id"],
        "expired",
    )
    sub.close()
    again = await act(deal.buyer, late["id"], "withdraw")
    assert again.status_code == 409
    assert again.json()["code"] == "offer_not_open"
    assert again.json()["offer_status"] == "expired"
    assert await webhooks(app) == []


async def test_one_tick_before_expiry_an_offer_can_still_be_accepted(
    market: Marketplace, clock: ManualClock
) -> None:
    deal = await market.transaction()
    cid = await market.conversation_id(deal)
    offer = await make(deal.buyer, cid, expires_at=(clock.now() + timedelta(minutes=5)).isoformat())
    clock.advance(timedelta(minutes=5) - timedelta(microseconds=1))
    accepted = await act(deal.seller, offer["id"], "accept")
    assert accepted.status_code == 200
    assert accepted.json()["status"] == "accepted"


async def test_an_expired_offer_from_the_other_side_no_longer_blocks_a_new_one(
    app: FastAPI, market: Marketplace, clock: ManualClock
) -> None:
    deal = await market.transaction()
    cid = await market.conversation_id(deal)
    old = await make(deal.buyer, cid, expires_at=(clock.now() + timedelta(minutes=5)).isoformat())
    clock.advance(timedelta(minutes=5))
    mine = await make(deal.seller, cid, 14000)
    assert mine["status"] == "open"
    assert await stored_status(app, old["id"]) == "expired"


async def test_counter_on_an_expired_offer_is_refused_and_the_expiry_kept(
    app: FastAPI, market: Marketplace, clock: ManualClock
) -> None:
    deal = await market.transaction()
    cid = await market.conversation_id(deal)
    offer = await make(deal.buyer, cid, expires_at=(clock.now() + timedelta(minutes=5)).isoformat())
    clock.advance(timedelta(minutes=6))
    refused = await act(deal.seller, offer["id"], "counter", amount_minor=9000, currency="USD")
    assert refused.status_code == 409
    assert refused.json()["code"] == "offer_expired"
    assert await stored_status(app, offer["id"]) == "expired"
    async with read_session(app.state.ctx) as session:
        assert len(list(await session.scalars(select(Offer)))) == 1


async def test_offers_lapse_after_the_default_lifetime_when_no_expiry_is_given(
    market: Marketplace, clock: ManualClock
) -> None:
    _deal, _, offer = await deal_with_offer(market)
    assert datetime.fromisoformat(offer["expires_at"]) == clock.now() + timedelta(hours=48)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("amount_minor", 0),
        ("amount_minor", -100),
        ("amount_minor", 10**12 + 1),
        ("amount_minor", 120.5),
        ("amount_minor", "12000"),
        ("amount_minor", True),
        ("amount_minor", None),
        ("currency", "usd"),
        ("currency", "ZZZ"),
        ("currency", "XXX"),
        ("currency", "US"),
        ("currency", 840),
        ("quantity", 0),
        ("quantity", 1.5),
        ("quantity", 10_001),
        ("expires_at", "2026-01-01T00:00:00"),  # no time zone
        ("expires_at", "next tuesday"),
        ("note", ""),
        ("note", "x" * 1001),
        ("note", "bad\x00byte"),
        ("surprise", 1),
    ],
)
async def test_bad_offers_are_refused_and_nothing_is_stored(
    app: FastAPI, market: Marketplace, field: str, value: Any
) -> None:
    deal = await market.transaction()
    cid = await market.conversation_id(deal)
    body = {"amount_minor": 12000, "currency": "USD", field: value}
    response = await deal.buyer.client.post(f"/v1/conversations/{cid}/offers", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "validation_error"
    async with read_session(app.state.ctx) as session:
        assert list(await session.scalars(select(Offer))) == []


async def test_the_largest_amount_and_zero_decimal_currencies_are_fine(
    market: Marketplace,
) -> None:
    deal = await market.transaction()
    cid = await market.conversation_id(deal)
    offer = await make(deal.buyer, cid, 10**12)
    assert offer["amount_minor"] == 10**12
    yen = await deal.buyer.client.post(
        f"/v1/conversations/{cid}/offers", json={"amount_minor": 5000, "currency": "JPY"}
    )
    items = (await deal.buyer.client.get(f"/v1/conversations/{cid}/messages")).json()["items"]
    assert yen.status_code == 201
    assert items[0]["body"] == "Offer: JPY 5,000 \u00d7 1"


@pytest.mark.parametrize("offset", [timedelta(seconds=-1), timedelta(0), timedelta(days=31)])
async def test_an_expiry_in_the_past_or_too_far_ahead_is_refused(
    market: Marketplace, clock: ManualClock, offset: timedelta
) -> None:
    deal = await market.transaction()
    cid = await market.conversation_id(deal)
    response = await deal.buyer.client.post(
        f"/v1/conversations/{cid}/offers",
        json={
            "amount_minor": 100,
            "currency": "EUR",
            "expires_at": (clock.now() + offset).isoformat(),
        },
    )
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_expiry"


async def test_outsiders_see_404_for_everything(app: FastAPI, market: Marketplace) -> None:
    deal, cid, offer = await deal_with_offer(market)
    outsider = await market.user()
    counter = {"amount_minor": 100, "currency": "USD"}
    assert (await outsider.client.get(f"/v1/offers/{offer['id']}")).status_code == 404
    for action in ("accept", "decline", "withdraw", "counter"):
        body = counter if action == "counter" else {}
        response = await act(outsider, offer["id"], action, **body)
        assert response.status_code == 404, action
        assert response.json()["code"] == "not_found"
    made = await outsider.client.post(f"/v1/conversations/{cid}/offers", json=counter)
    assert made.status_code == 404
    assert (await deal.seller.client.get("/v1/offers/999999")).status_code == 404
    assert (await market.anonymous.get(f"/v1/offers/{offer['id']}")).status_code == 401
    assert await stored_status(app, offer["id"]) == "open"


async def test_the_thread_shows_offers_as_items_with_their_current_state(
    market: Marketplace,
) -> None:
    deal, cid, offer = await deal_with_offer(market)
    await market.send(deal.seller, cid, "Let me think about it")
    await act(deal.seller, offer["id"], "decline")
    items = (await deal.buyer.client.get(f"/v1/conversations/{cid}/messages")).json()["items"]
    assert [(m["kind"], m["offer"] is None) for m in items] == [("text", True), ("offer", False)]
    item = items[1]
    assert item["id"] == offer["message_id"]
    assert item["sender_id"] == deal.buyer.id
    assert item["sender_role"] == "buyer"
    assert item["body"] == "Offer: USD 120.00 \u00d7 1"
    assert item["offer"]["id"] == offer["id"]
    assert item["offer"]["status"] == "declined"  # the state now, not when it was made


async def test_an_offer_counts_as_unread_and_shows_in_the_inbox(market: Marketplace) -> None:
    deal, _, offer = await deal_with_offer(market)
    inbox = (await deal.seller.client.get("/v1/conversations")).json()["items"]
    assert inbox[0]["unread_count"] == 1
    assert inbox[0]["last_message"]["kind"] == "offer"
    assert inbox[0]["last_message"]["offer"]["id"] == offer["id"]
    assert (await deal.buyer.client.get("/v1/conversations")).json()["items"][0][
        "unread_count"
    ] == 0


async def test_a_page_of_offers_is_loaded_without_a_query_per_item(
    app: FastAPI, market: Marketplace
) -> None:
    deal = await market.transaction()
    cid = await market.conversation_id(deal)
    engine = app.state.ctx.db.read_engine.sync_engine
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    async def queries_for_page() -> int:
        statements.clear()
        event.listen(engine, "before_cursor_execute", count)
        try:
            response = await deal.buyer.client.get(f"/v1/conversations/{cid}/messages")
        finally:
            event.remove(engine, "before_cursor_execute", count)
        assert response.status_code == 200
        return len(statements)

    await make(deal.buyer, cid, 10000)
    one = await queries_for_page()
    assert one > 0
    for amount in range(10100, 10600, 100):
        await make(deal.buyer, cid, amount)
        await market.send(deal.seller, cid, f"not {amount}")
    assert await queries_for_page() == one


async def test_offer_events_go_to_exactly_the_participants(
    app: FastAPI, market: Marketplace
) -> None:
    deal = await market.transaction()
    outsider = await market.user()
    cid = await market.conversation_id(deal)
    broker = app.state.ctx.broker
    subs = {u.id: broker.subscribe(u.id) for u in (deal.buyer, deal.seller, outsider)}
    offer = await make(deal.buyer, cid)
    accepted = (await act(deal.seller, offer["id"], "accept")).json()
    for user in (deal.buyer, deal.seller):
        frames = []
        while not subs[user.id].queue.empty():
            frames.append(json.loads(subs[user.id].queue.get_nowait().frame))
        assert [f["type"] for f in frames] == ["message.created", "offer.updated"]
        assert frames[0]["data"]["offer"] == offer
        assert frames[1]["data"] == accepted
    assert subs[outsider.id].queue.empty()
    for sub in subs.values():
        sub.close()


async def test_a_counter_and_a_replacement_announce_both_offers(
    app: FastAPI, market: Marketplace
) -> None:
    deal, _cid, offer = await deal_with_offer(market)
    sub = app.state.ctx.broker.subscribe(deal.buyer.id)
    counter = (
        await act(deal.seller, offer["id"], "counter", amount_minor=12900, currency="USD")
    ).json()
    frames = []
    while not sub.queue.empty():
        frames.append(json.loads(sub.queue.get_nowait().frame))
    assert [
        (f["type"], f["data"].get("status") or f["data"]["offer"]["status"]) for f in frames
    ] == [
        ("message.created", "open"),
        ("offer.updated", "countered"),
    ]
    assert frames[0]["data"]["offer"]["id"] == counter["id"]
    sub.close()
