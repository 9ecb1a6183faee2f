"""A client that missed more than the replay limit is told to resync instead of flooded."""

from __future__ import annotations

import pytest

from tests.fixtures.marketplace import Marketplace
from tests.realtime.conftest import Connect
from tradetalk.config import Settings


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"event_replay_limit": 2})


async def test_too_many_missed_events_mean_resync(
    market: Marketplace, open_socket: Connect
) -> None:
    deal = await market.transaction()
    cid = await market.conversation_id(deal)
    for n in range(3):
        await market.send(deal.buyer, cid, f"message {n}")
    seller = await open_socket(deal.seller.token, after=0)
    assert seller.replayed == [
        {"id": None, "type": "resync", "data": {"last_event_id": 3, "reason": "too_many"}}
    ]
    within = await open_socket(deal.seller.token, after=1)
    assert [f["id"] for f in within.replayed] == [2, 3]
