"""Sellers' response-time figures: median first reply and shares within 1 h and 24 h."""

from __future__ import annotations

from datetime import timedelta

from tests.fixtures.marketplace import Marketplace, TestUser
from tradetalk.kit.clock import ManualClock


async def test_response_stats_over_the_last_30_days(
    market: Marketplace, clock: ManualClock
) -> None:
    seller = await market.user(name="Ada's Coins")

    async def ask(body: str) -> tuple[TestUser, int]:
        deal = await market.transaction(seller=seller)
        cid = await market.conversation_id(deal)
        await market.send(deal.buyer, cid, body)
        return deal.buyer, cid

    async def answer(cid: int, body: str = "Hi!") -> None:
        await market.refresh(seller)
        await market.send(seller, cid, body)

    # Answered fast, but 31 days ago: outside the window.
    _, old = await ask("old question")
    clock.advance(timedelta(minutes=10))
    await answer(old)
    clock.advance(timedelta(days=31))

    _, fast = await ask("fast")  # answered after 30 min
    _, same_day = await ask("same day")  # after 5 h
    _, late = await ask("late")  # after 30 h
    await ask("never")  # unanswered for 51 h when measured
    seller_first = await market.transaction(seller=seller)
    first_cid = await market.conversation_id(seller_first)
    await answer(first_cid, "Thanks for buying! Any questions?")  # the seller opened: left out
    await market.send(seller_first.buyer, first_cid, "No, thanks")

    clock.advance(timedelta(minutes=30))
    await answer(fast)
    clock.advance(timedelta(hours=4, minutes=30))
    await answer(same_day)
    clock.advance(timedelta(hours=25))
    await answer(late)
    clock.advance(timedelta(hours=20))
    await ask("pending")  # waiting 1 h when measured: no verdict yet
    clock.advance(timedelta(hours=1))

    response = await market.anonymous.get(f"/v1/users/{seller.id}/response-stats")
    assert response.status_code == 200
    assert response.json() == {
        "median_first_response_seconds": (5 * 3600 + 30 * 3600) / 2,
        "replied_within_1h": 0.25,
        "replied_within_24h": 0.5,
        "sample_size": 4,
    }

    newcomer = await market.user()
    assert (await market.anonymous.get(f"/v1/users/{newcomer.id}/response-stats")).json() == {
        "median_first_response_seconds": None,
        "replied_within_1h": None,
        "replied_within_24h": None,
        "sample_size": 0,
    }
    assert (await market.anonymous.get("/v1/users/nobody/response-stats")).status_code == 404
