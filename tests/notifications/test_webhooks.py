"""Webhooks reach the operator signed, survive failures and crashes, and can be redelivered."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import pytest
from fastapi import FastAPI
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from tests.fixtures.marketplace import Marketplace
from tests.notifications.conftest import WEBHOOK_SECRET, Pass, Receiver
from tradetalk.db import read_session, unit_of_work
from tradetalk.kit.clock import ManualClock
from tradetalk.notifications import webhooks
from tradetalk.notifications.models import OutboxItem
from tradetalk.notifications.worker import Worker, claim


async def test_message_created_webhook_verifies_with_the_operator_secret(
    market: Marketplace, receiver: Receiver, after: Pass
) -> None:
    deal = await market.transaction()
    cid = await market.conversation_id(deal)
    sent = await market.send(deal.buyer, cid, "Is it still available?")
    await after()

    [(headers, body)] = receiver.requests
    event = Webhook(WEBHOOK_SECRET).verify(body, headers)
    assert event["type"] == "message.created"
    assert event["data"] == sent
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + "d3Jvbmctc2VjcmV0LXdyb25nLXNlY3JldA==").verify(body, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(WEBHOOK_SECRET).verify(body.replace(b"available", b"AVAILABLE"), headers)

    log = (await market.server.get("/v1/webhooks/deliveries")).json()
    [delivery] = log["items"]
    assert delivery["event_type"] == "message.created"
    assert delivery["status"] == "delivered" and delivery["attempts"] == 1
    assert delivery["webhook_id"] == headers["Webhook-Id"]


async def test_failed_deliveries_are_retried_with_backoff_and_the_same_id(
    market: Marketplace, receiver: Receiver, after: Pass
) -> None:
    receiver.failures_left = 2
    deal = await market.transaction()
    cid = await market.conversation_id(deal)
    await market.send(deal.buyer, cid, "hello")
    await after()
    assert len(receiver.requests) == 1
    await after(seconds=5)  # the first retry waits about 10 s
    assert len(receiver.requests) == 1
    await after(seconds=10)
    assert len(receiver.requests) == 2
    await after(seconds=30)  # then about 20 s
    assert len(receiver.requests) == 3

    assert len(set(receiver.ids())) == 1
    for headers, body in receiver.requests:
        Webhook(WEBHOOK_SECRET).verify(body, headers)
    [delivery] = (await market.server.get("/v1/webhooks/deliveries")).json()["items"]
    assert (delivery["status"], delivery["attempts"]) == ("delivered", 3)
    await after(minutes=30)
    assert len(receiver.requests) == 3


async def test_dead_letters_and_redelivery(
    market: Marketplace, receiver: Receiver, after: Pass, app: FastAPI
) -> None:
    app.state.ctx.settings = app.state.ctx.settings.model_copy(update={"outbox_max_attempts": 3})
    receiver.failures_left = 100
    deal = await market.transaction()
    cid = await market.conversation_id(deal)
    await market.send(deal.buyer, cid, "hello")
    for _ in range(5):
        await after(minutes=10)
    assert len(receiver.requests) == 3
    async with read_session(app.state.ctx) as session:
        item = await session.get(OutboxItem, 2)
        assert item is not None and (item.kind, item.status) == ("webhook", "dead")
        assert "503" in (item.last_error or "")
    failed = (await market.server.get("/v1/webhooks/deliveries?status=failed")).json()["items"]
    assert [d["status"] for d in failed] == ["failed"]

    receiver.failures_left = 0
    response = await market.server.post(f"/v1/webhooks/deliveries/{failed[0]['id']}/redeliver")
    assert response.status_code == 202
    await after()
    assert len(receiver.requests) == 4
    assert len(set(receiver.ids())) == 1  # the same event, recognisably
    assert receiver.requests[-1][1] == receiver.requests[0][1]
    [delivery] = (await market.server.get("/v1/webhooks/deliveries")).json()["items"]
    assert delivery["status"] == "delivered"

    missing = await market.server.post("/v1/webhooks/deliveries/999/redeliver")
    assert missing.status_code == 404
    assert (await market.anonymous.get("/v1/webhooks/deliveries")).status_code == 401


async def test_a_worker_killed_mid_delivery_loses_nothing_and_repeats_only_the_same_id(
    market: Marketplace,
    receiver: Receiver,
    app: FastAPI,
    clock: ManualClock,
    worker: Worker,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ctx = app.state.ctx
    deal = await market.transaction()
    cid = await market.conversation_id(deal)
    await market.send(deal.buyer, cid, "hello")

    # Worker A posts the webhook and dies before it can record anything.
    class Killed(BaseException):
        pass

    async def die(*args: object, **kwargs: object) -> None:
        raise Killed

    monkeypatch.setattr(webhooks, "_record_attempt", die)
    with pytest.raises(Killed):
        await worker.run_once()
    monkeypatch.undo()
    assert len(receiver.requests) == 1

    # Its lease has not run out: nobody else takes the item yet.
    assert await worker.run_once() == 0
    clock.advance(timedelta(seconds=ctx.settings.worker_lease_seconds + 1))
    await worker.run_once()
    assert len(receiver.requests) == 2
    assert len(set(receiver.ids())) == 1  # the operator dedupes on webhook-id

    # A worker that dies after recording the delivery but before marking the item done:
    # the next one sees the log and does not post again.
    await market.refresh(deal.buyer)
    await market.send(deal.buyer, cid, "second")
    async with unit_of_work(ctx) as uow:
        [item] = await claim(uow.session, clock.now(), lease=timedelta(minutes=2), limit=1)
    await worker.webhooks.deliver(item.id, item.created_at, json.loads(item.payload), final=False)
    assert len(receiver.requests) == 3
    clock.advance(timedelta(minutes=3))
    await worker.run_once()
    assert len(receiver.requests) == 3
    async with read_session(ctx) as session:
        stored = await session.get(OutboxItem, item.id)
        assert stored is not None and stored.status == "done"


async def test_no_webhooks_are_queued_without_a_url(
    market: Marketplace, receiver: Receiver, app: FastAPI, after: Pass
) -> None:
    app.state.ctx.settings = app.state.ctx.settings.model_copy(update={"webhook_url": None})
    deal = await market.transaction()
    cid = await market.conversation_id(deal)
    await market.send(deal.buyer, cid, "hello")
    await after(minutes=10)
    assert receiver.requests == []
    async with read_session(app.state.ctx) as session:
        from sqlalchemy import select

        kinds = set(await session.scalars(select(OutboxItem.kind)))
    assert "webhook" not in kinds


async def test_the_embedded_worker_delivers_without_being_asked(
    market: Marketplace, receiver: Receiver, app: FastAPI
) -> None:
    from tradetalk.notifications.worker import running_worker

    async with running_worker(app.state.ctx):
        deal = await market.transaction()
        cid = await market.conversation_id(deal)
        await market.send(deal.buyer, cid, "hello")
        for _ in range(100):
            if receiver.requests:
                break
            await asyncio.sleep(0.05)
    assert len(receiver.requests) == 1
