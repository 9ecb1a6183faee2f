"""Direct conversations have no transaction: no dispute, but a grant still lets support read."""

from __future__ import annotations

import pytest

from tests.fixtures.marketplace import Marketplace
from tradetalk.config import Settings


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"direct_messages": True})


async def test_direct_conversations_take_grants_not_disputes(market: Marketplace) -> None:
    buyer, seller = await market.user(), await market.user()
    support = await market.user(is_support=True)
    started = await buyer.client.post("/v1/conversations", json={"user_id": seller.id})
    cid = started.json()["id"]
    await market.send(buyer, cid, "Do you have more of these?")
    asked = await buyer.client.post(
        f"/v1/conversations/{cid}/dispute-requests", json={"reason": "spam"}
    )
    assert (asked.status_code, asked.json()["code"]) == (422, "not_a_transaction_conversation")
    assert (await support.client.get(f"/v1/conversations/{cid}")).status_code == 404
    await market.server.post(
        f"/v1/conversations/{cid}/support-grants", json={"user_id": support.id}
    )
    page = await support.client.get(f"/v1/conversations/{cid}/messages")
    assert [m["body"] for m in page.json()["items"]] == ["Do you have more of these?"]
