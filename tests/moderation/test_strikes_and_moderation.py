"""Strikes pause and restrict repeat offenders; support reviews, dismisses, confirms, lifts."""

from __future__ import annotations

import json
from datetime import timedelta

from fastapi import FastAPI
from sqlalchemy import select

from tests.fixtures.marketplace import Marketplace, TestUser
from tradetalk.db import read_session
from tradetalk.kit.clock import ManualClock
from tradetalk.notifications.models import OutboxItem

PHONE = "call me 415-555-0199"


async def _attempt(user: TestUser, cid: int, body: str = PHONE) -> int:
    response = await user.client.post(f"/v1/conversations/{cid}/messages", json={"body": body})
    return response.status_code


async def _webhooks(app: FastAPI, event_type: str) -> list[dict[str, object]]:
    async with read_session(app.state.ctx) as session:
        rows = await session.scalars(select(OutboxItem).where(OutboxItem.kind == "webhook"))
        payloads = [json.loads(r.payload) for r in rows]
    return [p for p in payloads if p["type"] == event_type]


async def test_three_strikes_pause_sending_for_a_day(
    market: Marketplace, clock: ManualClock
) -> None:
    deal = await market.transaction()
    cid = await market.conversation_id(deal)
    assert [await _attempt(deal.buyer, cid) for _ in range(3)] == [422, 422, 422]
    paused = await deal.buyer.client.post(
        f"/v1/conversations/{cid}/messages", json={"body": "ok, fine"}
    )
    assert paused.status_code == 403
    assert paused.json()["code"] == "messaging_paused"
    assert "until" in paused.json()
    # The other party is not affected.
    await market.send(deal.seller, cid, "please keep it on the platform")
    clock.advance(timedelta(hours=24, seconds=1))
    await market.refresh(deal.buyer)
    await market.send(deal.buyer, cid, "sorry, understood")


async def test_five_strikes_restrict_and_notify_the_operator(
    app: FastAPI, market: Marketplace, clock: ManualClock
) -> None:
    seller = await market.user()
    support = await market.user(is_support=True)
    statuses = []
    for _ in range(5):
        deal = await market.transaction(seller=seller)
        cid = await market.conversation_id(deal)
        statuses.append(await _attempt(seller, cid))
        clock.advance(timedelta(hours=25))  # outlast each pause
        await market.refresh(seller)
    assert statuses == [422] * 5
    await market.refresh(support)
    restricted = await seller.client.post(
        f"/v1/conversations/{cid}/messages", json={"body": "hello"}
    )
    assert restricted.status_code == 403
    assert restricted.json()["code"] == "messaging_restricted"
    hooks = await _webhooks(app, "user.restricted")
    assert [h["data"]["user_id"] for h in hooks] == [seller.id]  # type: ignore[index]
    record = (await support.client.get(f"/v1/moderation/users/{seller.id}")).json()
    assert record["active_strikes"] == 5
    assert [r["kind"] for r in record["restrictions"] if r["active"]] == ["restricted"]
    lifted = await support.client.post(
        f"/v1/moderation/users/{seller.id}/lift", json={"note": "talked to the seller"}
    )
    assert lifted.status_code == 200
    assert not any(r["active"] for r in lifted.json()["restrictions"])
    await market.send(seller, cid, "back to normal")
    actions = [a["action"] for a in lifted.json()["actions"]]
    assert "restrict" in actions and "lift" in actions


async def test_dismissing_a_blocked_attempt_removes_its_strike(market: Marketplace) -> None:
    deal = await market.transaction()
    cid = await market.conversation_id(deal)
    support = await market.user(is_support=True)
    assert await _attempt(deal.buyer, cid) == 422
    assert await _attempt(deal.buyer, cid) == 422
    queue = (await support.client.get("/v1/moderation/queue")).json()["items"]
    assert [i["kind"] for i in queue] == ["blocked", "blocked"]
    assert queue[0]["original_text"] == PHONE
    dismissed = await support.client.post(f"/v1/moderation/items/{queue[0]['id']}/dismiss")
    assert dismissed.json()["status"] == "dismissed"
    again = await support.client.post(f"/v1/moderation/items/{queue[0]['id']}/dismiss")
    assert again.status_code == 409
    # With one strike left, a third attempt makes two: still no pause.
    assert await _attempt(deal.buyer, cid) == 422
    assert await _attempt(deal.buyer, cid, "still there?") == 201
    record = (await support.client.get(f"/v1/moderation/users/{deal.buyer.id}")).json()
    assert record["active_strikes"] == 2


async def test_confirming_a_flagged_message_is_a_strike(market: Marketplace) -> None:
    deal = await market.transaction()
    cid = await market.conversation_id(deal)
    support = await market.user(is_support=True)
    await market.send(deal.buyer, cid, "let's skip the app fees, I can pay you directly")
    item = (await support.client.get("/v1/moderation/queue")).json()["items"][0]
    confirmed = await support.client.post(f"/v1/moderation/items/{item['id']}/confirm")
    assert confirmed.json()["status"] == "confirmed"
    record = (await support.client.get(f"/v1/moderation/users/{deal.buyer.id}")).json()
    assert record["active_strikes"] == 1
    assert (await support.client.get("/v1/moderation/queue")).json()["items"] == []


async def test_a_retried_blocked_send_counts_once(market: Marketplace) -> None:
    deal = await market.transaction()
    cid = await market.conversation_id(deal)
    support = await market.user(is_support=True)
    for _ in range(4):
        response = await deal.buyer.client.post(
            f"/v1/conversations/{cid}/messages", json={"body": PHONE, "client_message_id": "c1"}
        )
        assert response.status_code == 422
    record = (await support.client.get(f"/v1/moderation/users/{deal.buyer.id}")).json()
    assert record["active_strikes"] == 1


async def test_moderation_is_for_support_and_the_operator_only(market: Marketplace) -> None:
    deal = await market.transaction()
    support = await market.user(is_support=True)
    for client, expected in (
        (deal.buyer.client, 404),
        (market.anonymous, 401),
        (support.client, 200),
        (market.server, 200),
    ):
        response = await client.get("/v1/moderation/queue")
        assert response.status_code == expected
    restrict = await market.server.post(
        f"/v1/moderation/users/{deal.buyer.id}/restrict", json={"reason": "chargeback fraud"}
    )
    assert restrict.status_code == 201
    assert restrict.json()["created_by"] == "operator"
    nobody = await support.client.post("/v1/moderation/users/ghost/restrict", json={"reason": "x"})
    assert nobody.status_code == 404


async def test_reports_land_in_the_queue_and_stay_private(market: Marketplace) -> None:
    deal = await market.transaction()
    cid = await market.conversation_id(deal)
    support = await market.user(is_support=True)
    outsider = await market.user()
    rude = await market.send(deal.seller, cid, "you are wasting my time")
    reported = await deal.buyer.client.post(
        "/v1/reports", json={"message_id": rude["id"], "reason": "abusive"}
    )
    assert reported.status_code == 201
    hidden = await outsider.client.post(
        "/v1/reports", json={"message_id": rude["id"], "reason": "x"}
    )
    assert hidden.status_code == 404
    both = await deal.buyer.client.post(
        "/v1/reports", json={"message_id": rude["id"], "user_id": deal.seller.id, "reason": "x"}
    )
    assert both.status_code == 422
    user_report = await deal.buyer.client.post(
        "/v1/reports", json={"user_id": deal.seller.id, "reason": "asked for my phone number"}
    )
    assert user_report.status_code == 201
    queue = (await support.client.get("/v1/moderation/queue")).json()["items"]
    assert [(i["kind"], i["subject_id"], i["reporter_id"]) for i in queue] == [
        ("reported_message", deal.seller.id, deal.buyer.id),
        ("reported_user", deal.seller.id, deal.buyer.id),
    ]
    assert queue[0]["original_text"] == "you are wasting my time"
