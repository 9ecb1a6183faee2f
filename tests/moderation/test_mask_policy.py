"""Mask mode: the recipient sees the text without the detail; moderators see the original."""

from __future__ import annotations

import pytest

from tests.fixtures.marketplace import Marketplace
from tradetalk.config import Settings


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"shield_policy": {"phone": "mask"}})


async def test_mask_mode_delivers_without_the_detail_and_keeps_the_original(
    market: Marketplace,
) -> None:
    deal = await market.transaction()
    cid = await market.conversation_id(deal)
    support = await market.user(is_support=True)
    sent = await market.send(deal.buyer, cid, "Call me on 415-555-0199 tonight")
    assert "415" not in sent["body"]
    assert "[contact details removed]" in sent["body"]
    seen = (await deal.seller.client.get(f"/v1/conversations/{cid}/messages")).json()["items"]
    assert seen[0]["body"] == sent["body"]
    queue = (await support.client.get("/v1/moderation/queue")).json()["items"]
    assert [(i["kind"], i["original_text"]) for i in queue] == [
        ("masked", "Call me on 415-555-0199 tonight")
    ]
    # The original is never searchable by the participants.
    hits = (await deal.seller.client.get("/v1/search", params={"q": "0199"})).json()["items"]
    assert hits == []
