"""Concurrent changes to one conversation never fork its chain."""

from __future__ import annotations

import asyncio

from tests.conftest import SECRET
from tests.fixtures.marketplace import Marketplace
from tradetalk.record import chain


async def test_racing_sends_edits_and_withdrawals_keep_one_intact_chain(
    market: Marketplace,
) -> None:
    deal = await market.transaction()
    cid = await market.conversation_id(deal)
    url = f"/v1/conversations/{cid}/messages"
    first = await market.send(deal.buyer, cid, "first")
    second = await market.send(deal.seller, cid, "second")
    calls = [
        (deal.buyer if i % 2 else deal.seller).client.post(url, json={"body": f"m{i}"})
        for i in range(12)
    ]
    calls += [
        deal.buyer.client.patch(f"{url}/{first['id']}", json={"body": "first, edited"}),
        deal.seller.client.delete(f"{url}/{second['id']}"),
    ]
    responses = await asyncio.gather(*calls)
    assert all(r.status_code in (200, 201) for r in responses), [r.text for r in responses]
    document = (await deal.buyer.client.get(f"/v1/conversations/{cid}/transcript")).json()
    result = chain.verify(document, key=chain.seal_key(SECRET.encode()))
    assert result.ok, result.problem
    assert result.entry_count == 16
    posted = [
        e["payload"]["seq"]
        for e in document["entries"]
        if e["kind"] == "message.posted" and e["payload"] is not None
    ]
    assert posted == sorted(posted)  # the record's order is the thread's order
