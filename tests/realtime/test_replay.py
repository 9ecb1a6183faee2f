"""`after=` replays what a client missed from the log, then continues live; or says resync."""

from __future__ import annotations

from datetime import timedelta

from fastapi import FastAPI

from tests.fixtures.marketplace import Marketplace
from tests.realtime.conftest import Connect
from tradetalk.db import unit_of_work
from tradetalk.kit.clock import ManualClock
from tradetalk.realtime import service as realtime_service
from tradetalk.realtime.broker import Delivery


async def test_after_replays_the_missed_events_in_order_then_goes_live(
    market: Marketplace, open_socket: Connect
) -> None:
    deal = await market.transaction()
    cid = await market.conversation_id(deal)
    missed = [await market.send(deal.buyer, cid, f"question {n}") for n in range(1, 4)]
    seller = await open_socket(deal.seller.token, after=1)
    assert [(f["id"], f["data"]) for f in seller.replayed] == [(2, missed[1]), (3, missed[2])]
    assert seller.ready == {"last_event_id": 3}
    live = await market.send(deal.buyer, cid, "question 4")
    frame = await seller.event()
    assert (frame["id"], frame["data"]) == (4, live)


async def test_without_after_the_stream_starts_at_the_latest_event(
    market: Marketplace, open_socket: Connect
) -> None:
    deal = await market.transaction()
    cid = await market.conversation_id(deal)
    await market.send(deal.buyer, cid, "before")
    seller = await open_socket(deal.seller.token)
    assert seller.replayed == []
    assert seller.ready == {"last_event_id": 1}
    after = await market.send(deal.buyer, cid, "after")
    assert (await seller.event())["data"] == after


async def test_after_zero_replays_everything_kept(
    market: Marketplace, open_socket: Connect
) -> None:
    deal = await market.transaction()
    cid = await market.conversation_id(deal)
    first = await market.send(deal.buyer, cid, "one")
    await deal.seller.client.post(f"/v1/conversations/{cid}/read", json={"message_id": first["id"]})
    seller = await open_socket(deal.seller.token, after=0)
    assert [(f["id"], f["type"]) for f in seller.replayed] == [
        (1, "message.created"),
        (2, "conversation.read"),
    ]


async def test_reconnecting_with_the_last_id_seen_misses_nothing_and_repeats_nothing(
    market: Marketplace, open_socket: Connect
) -> None:
    deal = await market.transaction()
    cid = await market.conversation_id(deal)
    seller = await open_socket(deal.seller.token)
    await market.send(deal.buyer, cid, "one")
    last_seen = (await seller.event())["id"]
    await seller.close()
    during = [await market.send(deal.buyer, cid, f"while away {n}") for n in range(2)]
    again = await open_socket(deal.seller.token, after=last_seen)
    later = await market.send(deal.buyer, cid, "back")
    received = [*again.replayed, await again.event()]
    assert [f["id"] for f in received] == [2, 3, 4]
    assert [f["data"] for f in received] == [*during, later]


async def test_a_missed_live_publish_is_recovered_from_the_log(
    app: FastAPI, market: Marketplace, open_socket: Connect
) -> None:
    """If a node's publish never arrives, the next event reveals the gap and fills it."""
    deal = await market.transaction()
    cid = await market.conversation_id(deal)
    seller = await open_socket(deal.seller.token)
    broker = app.state.ctx.broker
    lost: list[Delivery] = []
    publish = broker.publish

    async def drop_first(deliveries: list[Delivery]) -> None:
        if not lost:
            lost.extend(deliveries)
            return
        await publish(deliveries)

    broker.publish = drop_first
    try:
        first = await market.send(deal.buyer, cid, "this publish is lost")
        second = await market.send(deal.buyer, cid, "this one arrives")
    finally:
        broker.publish = publish
    frames = [await seller.event(), await seller.event()]
    assert [(f["id"], f["data"]) for f in frames] == [(1, first), (2, second)]


async def test_a_client_ahead_of_the_log_is_told_to_resync(
    market: Marketplace, open_socket: Connect
) -> None:
    deal = await market.transaction()
    cid = await market.conversation_id(deal)
    await market.send(deal.buyer, cid, "one")
    seller = await open_socket(deal.seller.token, after=99)
    assert seller.replayed == [
        {"id": None, "type": "resync", "data": {"last_event_id": 1, "reason": "ahead"}}
    ]
    live = await market.send(deal.buyer, cid, "two")
    assert (await seller.event())["data"] == live


async def test_a_client_away_longer_than_the_retention_is_told_to_resync(
    market: Marketplace, open_socket: Connect, app: FastAPI, clock: ManualClock
) -> None:
    deal = await market.transaction()
    cid = await market.conversation_id(deal)
    await market.send(deal.buyer, cid, "old")
    clock.advance(timedelta(hours=73))
    await market.refresh(deal.buyer)
    await market.refresh(deal.seller)
    kept = await market.send(deal.buyer, cid, "recent")
    async with unit_of_work(app.state.ctx) as uow:
        assert await realtime_service.do_prune_events(uow) == 2  # buyer's and seller's copy
    away = await open_socket(deal.seller.token, after=0)
    assert away.replayed == [
        {"id": None, "type": "resync", "data": {"last_event_id": 2, "reason": "expired"}}
    ]
    recent = await open_socket(deal.seller.token, after=1)
    assert [(f["id"], f["data"]) for f in recent.replayed] == [(2, kept)]
