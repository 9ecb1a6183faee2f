"""The dashboard feed and the reminders to sellers whose buyers wait."""

from __future__ import annotations

from tests.fixtures.marketplace import Marketplace
from tests.notifications.conftest import Mailbox, Pass
from tests.notifications.test_email import text_of


async def test_feed_folds_a_thread_counts_unseen_and_marks_seen(
    market: Marketplace, after: Pass
) -> None:
    seller = await market.user()
    first = await market.transaction(seller=seller)
    second = await market.transaction(seller=seller)
    cid1 = await market.conversation_id(first)
    cid2 = await market.conversation_id(second)
    await market.send(first.buyer, cid1, "one")
    await market.send(first.buyer, cid1, "two")
    await market.send(second.buyer, cid2, "three")

    feed = (await seller.client.get("/v1/notifications")).json()
    assert feed["unread"] == 2
    assert [(i["conversation_id"], i["count"], i["body"]) for i in feed["items"]] == [
        (cid2, 1, "three"),
        (cid1, 2, "two"),
    ]
    assert feed["items"][1]["title"] == f"2 new messages from {first.buyer.display_name}"
    assert (await seller.client.get("/v1/notifications/unread-count")).json() == {"unread": 2}
    # Nobody else sees them.
    assert (await first.buyer.client.get("/v1/notifications")).json()["items"] == []
    assert (await market.anonymous.get("/v1/notifications")).status_code == 401

    # Reading a thread clears its items; marking seen clears the rest.
    messages = (await seller.client.get(f"/v1/conversations/{cid1}/messages")).json()["items"]
    await seller.client.post(
        f"/v1/conversations/{cid1}/read", json={"message_id": messages[0]["id"]}
    )
    assert (await seller.client.get("/v1/notifications/unread-count")).json() == {"unread": 1}
    seen = await seller.client.post("/v1/notifications/seen", json={})
    assert seen.json() == {"unread": 0}

    # A new message after that starts a fresh item, listed before the seen ones.
    await market.send(first.buyer, cid1, "four")
    page = (await seller.client.get("/v1/notifications?limit=1")).json()
    assert page["unread"] == 1
    assert [(i["body"], i["seen_at"]) for i in page["items"]] == [("four", None)]
    rest = (await seller.client.get(f"/v1/notifications?cursor={page['next_cursor']}")).json()
    assert [i["body"] for i in rest["items"]] == ["three", "two"]
    assert rest["next_cursor"] is None
    assert all(i["seen_at"] for i in rest["items"])

    bad = await seller.client.post("/v1/notifications/seen", json={"ids": ["x"]})
    assert bad.status_code == 422
    bad_cursor = await seller.client.get("/v1/notifications?cursor=nope")
    assert bad_cursor.status_code == 422


async def test_seller_is_reminded_after_1_and_20_hours_unless_answered(
    market: Marketplace, mailbox: Mailbox, after: Pass
) -> None:
    slow = await market.transaction(title="Leica M6")
    quick = await market.transaction(title="Rolex Submariner")
    slow_cid = await market.conversation_id(slow)
    quick_cid = await market.conversation_id(quick)
    await market.send(slow.buyer, slow_cid, "Is the meter accurate?")
    await market.send(slow.buyer, slow_cid, "Also, box and papers?")  # no second clock
    await market.send(quick.buyer, quick_cid, "Is it serviced?")
    await after(minutes=30)
    await market.send(quick.seller, quick_cid, "Yes, last year.")

    await after(minutes=31)
    slow_mail = mailbox.to(f"{slow.seller.id}@example.com")
    reminders = [m for m in slow_mail if "waiting" in str(m["Subject"])]
    assert len(reminders) == 1
    assert "Leica M6" in str(reminders[0]["Subject"])
    quick_mail = mailbox.to(f"{quick.seller.id}@example.com")
    assert not [m for m in quick_mail if "waiting" in str(m["Subject"])]
    await market.refresh(slow.seller)
    feed = (await slow.seller.client.get("/v1/notifications")).json()["items"]
    assert feed[0]["type"] == "reminder"
    assert feed[0]["title"] == f"{slow.buyer.display_name} has been waiting 1 hour for your answer"

    await after(hours=19)
    reminders = [
        m for m in mailbox.to(f"{slow.seller.id}@example.com") if "waiting" in str(m["Subject"])
    ]
    assert len(reminders) == 2
    assert "waiting 20 hours" in text_of(reminders[1])

    # Once the seller answers, the buyer's next question starts a new clock.
    await market.refresh(slow.seller)
    await market.refresh(slow.buyer)
    await market.send(slow.seller, slow_cid, "Accurate, and yes.")
    await market.send(slow.buyer, slow_cid, "Great, what about shipping?")
    await market.send(slow.seller, slow_cid, "Free, tracked.")
    await after(hours=21)
    reminders = [
        m for m in mailbox.to(f"{slow.seller.id}@example.com") if "waiting" in str(m["Subject"])
    ]
    assert len(reminders) == 2
