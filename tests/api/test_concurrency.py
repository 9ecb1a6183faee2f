"""Retries and races: a send is stored once, a thread stays ordered, one conversation per deal."""

from __future__ import annotations

import asyncio

from tests.fixtures.marketplace import Marketplace


async def test_twenty_concurrent_retries_store_one_message(market: Marketplace) -> None:
    deal = await market.transaction()
    cid = await market.conversation_id(deal)
    url = f"/v1/conversations/{cid}/messages"
    payload = {"body": "Is the box included?", "client_message_id": "retry-me"}
    responses = await asyncio.gather(
        *(deal.buyer.client.post(url, json=payload) for _ in range(20))
    )
    assert {r.status_code for r in responses} == {201}
    assert len({r.json()["id"] for r in responses}) == 1
    items = (await deal.seller.client.get(url)).json()["items"]
    assert len(items) == 1
    assert items[0]["seq"] == 1


async def test_concurrent_sends_get_distinct_gapless_positions(market: Marketplace) -> None:
    deal = await market.transaction()
    cid = await market.conversation_id(deal)
    url = f"/v1/conversations/{cid}/messages"
    responses = await asyncio.gather(
        *(
            (deal.buyer if i % 2 else deal.seller).client.post(url, json={"body": f"m{i}"})
            for i in range(20)
        )
    )
    assert {r.status_code for r in responses} == {201}
    items = (await deal.seller.client.get(url, params={"limit": 100})).json()["items"]
    assert sorted(m["seq"] for m in items) == list(range(1, 21))
    # Newer positions never carry older timestamps.
    by_seq = sorted(items, key=lambda m: m["seq"])
    assert [m["created_at"] for m in by_seq] == sorted(m["created_at"] for m in by_seq)


async def test_both_parties_opening_at_once_share_one_conversation(market: Marketplace) -> None:
    deal = await market.transaction()
    url = f"/v1/transactions/{deal.id}/conversation"
    responses = await asyncio.gather(
        *((deal.buyer if i % 2 else deal.seller).client.get(url) for i in range(10))
    )
    assert {r.status_code for r in responses} == {200}
    assert len({r.json()["id"] for r in responses}) == 1
