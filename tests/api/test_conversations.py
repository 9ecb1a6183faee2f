"""Conversations of transactions, messages, pagination, read state, the inbox and search."""

from __future__ import annotations

from datetime import timedelta

from tests.fixtures.marketplace import Marketplace, TestUser
from tradetalk.kit.clock import ManualClock


async def test_one_conversation_per_transaction_made_on_first_use(market: Marketplace) -> None:
    deal = await market.transaction()
    by_seller = await deal.seller.client.get(f"/v1/transactions/{deal.id}/conversation")
    by_buyer = await deal.buyer.client.get(f"/v1/transactions/{deal.id}/conversation")
    assert by_seller.status_code == by_buyer.status_code == 200
    assert by_seller.json()["id"] == by_buyer.json()["id"]
    conversation = by_buyer.json()
    assert conversation["transaction_id"] == deal.id
    assert conversation["kind"] == "transaction"
    roles = {p["user_id"]: p["role"] for p in conversation["participants"]}
    assert roles == {deal.buyer.id: "buyer", deal.seller.id: "seller"}
    assert conversation["unread_count"] == 0
    assert conversation["last_message"] is None


async def test_outsiders_and_unknown_transactions_get_404(market: Marketplace) -> None:
    deal = await market.transaction()
    outsider = await market.user()
    support = await market.user(is_support=True)
    for client in (outsider.client, support.client):
        response = await client.get(f"/v1/transactions/{deal.id}/conversation")
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"
    unknown = await deal.buyer.client.get("/v1/transactions/nope/conversation")
    assert unknown.status_code == 404
    # An outsider's failed attempt neither creates nor reveals the conversation.
    assert (await outsider.client.get(f"/v1/transactions/{deal.id}/conversation")).json()[
        "detail"
    ] == unknown.json()["detail"]


async def test_send_and_read_back_newest_first_with_cursors(market: Marketplace) -> None:
    deal = await market.transaction()
    cid = await market.conversation_id(deal)
    bodies = [f"message {i}" for i in range(7)]
    for i, body in enumerate(bodies):
        await market.send(deal.buyer if i % 2 == 0 else deal.seller, cid, body)
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 3} | ({"before": cursor} if cursor else {})
        page = (
            await deal.seller.client.get(f"/v1/conversations/{cid}/messages", params=params)
        ).json()
        seen += [m["body"] for m in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(bodies))
    first = (await deal.buyer.client.get(f"/v1/conversations/{cid}/messages")).json()["items"]
    assert [m["seq"] for m in first] == list(range(7, 0, -1))
    assert {m["sender_role"] for m in first} == {"buyer", "seller"}
    assert all(m["kind"] == "text" for m in first)


async def test_message_bodies_are_validated(market: Marketplace) -> None:
    deal = await market.transaction()
    cid = await market.conversation_id(deal)
    url = f"/v1/conversations/{cid}/messages"
    refused = [
        {"body": ""},
        {"body": "   \n\t "},
        {"body": "x" * 5001},
        {"body": "hi", "colour": "red"},
        {"body": "nul \x00 byte"},
        {"body": 42},
        {"body": "hi", "client_message_id": ""},
        {"body": "hi", "client_message_id": "x" * 101},
        {},
    ]
    for payload in refused:
        response = await deal.buyer.client.post(url, json=payload)
        assert response.status_code == 422, payload
        assert response.headers["content-type"] == "application/problem+json"
    ok = await deal.buyer.client.post(url, json={"body": "  " + "y" * 5000 + "  "})
    assert ok.status_code == 201
    assert ok.json()["body"] == "y" * 5000
    messages = (await deal.buyer.client.get(url)).json()["items"]
    assert len(messages) == 1


async def test_bad_limits_and_cursors_are_refused(market: Marketplace) -> None:
    deal = await market.transaction()
    cid = await market.conversation_id(deal)
    for params in ({"limit": 0}, {"limit": 101}, {"limit": "x"}, {"before": "garbage!"}):
        response = await deal.buyer.client.get(f"/v1/conversations/{cid}/messages", params=params)
        assert response.status_code == 422, params
    response = await deal.buyer.client.get("/v1/conversations", params={"cursor": "bm9wZQ"})
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_cursor"


async def test_same_client_message_id_returns_the_same_message(market: Marketplace) -> None:
    deal = await market.transaction()
    cid = await market.conversation_id(deal)
    first = await market.send(deal.buyer, cid, "still sealed?", client_message_id="m-1")
    again = await market.send(deal.buyer, cid, "still sealed?", client_message_id="m-1")
    assert first == again
    # The same client id from the other participant is their own message.
    theirs = await market.send(deal.seller, cid, "yes", client_message_id="m-1")
    assert theirs["id"] != first["id"]
    items = (await deal.buyer.client.get(f"/v1/conversations/{cid}/messages")).json()["items"]
    assert len(items) == 2


async def test_read_marker_and_unread_counts(market: Marketplace) -> None:
    deal = await market.transaction()
    cid = await market.conversation_id(deal)
    await market.send(deal.buyer, cid, "hello?")
    second = await market.send(deal.buyer, cid, "are you there?")
    third = await market.send(deal.buyer, cid, "I'd like it by Friday")
    inbox = (await deal.seller.client.get("/v1/conversations")).json()
    assert inbox["items"][0]["unread_count"] == 3
    assert inbox["items"][0]["last_message"]["id"] == third["id"]
    # The sender's own messages never count as unread for them.
    assert (await deal.buyer.client.get("/v1/conversations")).json()["items"][0][
        "unread_count"
    ] == 0
    url = f"/v1/conversations/{cid}/read"
    marked = await deal.seller.client.post(url, json={"message_id": second["id"]})
    assert marked.status_code == 200
    assert marked.json() == {
        "conversation_id": cid,
        "last_read_message_id": second["id"],
        "unread_count": 1,
    }
    # Marking an older message does not move the marker back.
    first_id = second["id"] - 1
    back = await deal.seller.client.post(url, json={"message_id": first_id})
    assert back.json()["last_read_message_id"] == second["id"]
    # Replying means the seller has seen everything before the reply.
    await market.send(deal.seller, cid, "Yes, ships Thursday.")
    assert (await deal.seller.client.get(f"/v1/conversations/{cid}")).json()["unread_count"] == 0
    buyer_view = (await deal.buyer.client.get(f"/v1/conversations/{cid}")).json()
    assert buyer_view["unread_count"] == 1


async def test_read_marker_must_name_a_message_of_this_conversation(market: Marketplace) -> None:
    deal, other = await market.transaction(), await market.transaction()
    cid, other_cid = await market.conversation_id(deal), await market.conversation_id(other)
    foreign = await market.send(other.buyer, other_cid, "not yours")
    response = await deal.buyer.client.post(
        f"/v1/conversations/{cid}/read", json={"message_id": foreign["id"]}
    )
    assert response.status_code == 422
    assert response.json()["code"] == "unknown_message"


async def test_inbox_orders_by_latest_activity_and_pages(
    market: Marketplace, clock: ManualClock
) -> None:
    seller = await market.user()
    deals = [await market.transaction(seller=seller) for _ in range(5)]
    ids = []
    for deal in deals:
        clock.advance(timedelta(minutes=1))
        cid = await market.conversation_id(deal)
        ids.append(cid)
        await market.send(deal.buyer, cid, f"question about {deal.id}")
    # An old conversation with a new message moves to the top.
    clock.advance(timedelta(minutes=1))
    await market.send(seller, ids[1], "answer")
    # A conversation without messages stays out of the inbox.
    empty = await market.transaction(seller=seller)
    await market.conversation_id(empty)
    expected = [ids[1], ids[4], ids[3], ids[2], ids[0]]
    assert await _inbox_ids(seller, page_size=2) == expected
    top = (await seller.client.get("/v1/conversations", params={"limit": 1})).json()["items"][0]
    assert top["last_message"]["body"] == "answer"
    assert top["unread_count"] == 0
    assert {p["user_id"] for p in top["participants"]} == {seller.id, deals[1].buyer.id}


async def test_inbox_pages_through_conversations_active_at_the_same_instant(
    market: Marketplace,
) -> None:
    # The clock stands still: every conversation has the same latest activity, and the
    # cursor's second key (the conversation id) alone decides where each page starts.
    seller = await market.user()
    ids = []
    for _ in range(5):
        deal = await market.transaction(seller=seller)
        cid = await market.conversation_id(deal)
        await market.send(deal.buyer, cid, "same moment")
        ids.append(cid)
    assert await _inbox_ids(seller, page_size=2) == sorted(ids, reverse=True)


async def _inbox_ids(user: TestUser, *, page_size: int) -> list[int]:
    """The conversation ids of a user's whole inbox, page by page through the cursors."""
    seen: list[int] = []
    cursor = None
    while True:
        params = {"limit": page_size} | ({"cursor": cursor} if cursor else {})
        page = (await user.client.get("/v1/conversations", params=params)).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            return seen


async def test_search_covers_only_the_callers_conversations(market: Marketplace) -> None:
    deal, other = await market.transaction(), await market.transaction()
    cid, other_cid = await market.conversation_id(deal), await market.conversation_id(other)
    await market.send(deal.buyer, cid, "Is the Morgan dollar in a PCGS slab?")
    await market.send(deal.seller, cid, "Yes, graded MS-63.")
    await market.send(other.buyer, other_cid, "Is the Morgan dollar toned?")
    hits = (await deal.buyer.client.get("/v1/search", params={"q": "morgan"})).json()["items"]
    assert [h["conversation_id"] for h in hits] == [cid]
    prefix = (await deal.seller.client.get("/v1/search", params={"q": "grad"})).json()["items"]
    assert [h["body"] for h in prefix] == ["Yes, graded MS-63."]
    both_words = (await other.buyer.client.get("/v1/search", params={"q": "morgan toned"})).json()[
        "items"
    ]
    assert len(both_words) == 1
    # Query syntax characters are plain text, not operators.
    for q in ['"', "morgan OR *", "NEAR(", "a:b", "!!!"]:
        response = await deal.buyer.client.get("/v1/search", params={"q": q})
        assert response.status_code == 200, q
    assert (await deal.buyer.client.get("/v1/search", params={"q": ""})).status_code == 422


async def test_search_pages_with_cursor(market: Marketplace) -> None:
    deal = await market.transaction()
    cid = await market.conversation_id(deal)
    for i in range(5):
        await market.send(deal.buyer, cid, f"sneaker size {i}")
    seen = []
    cursor = None
    while True:
        params = {"q": "sneaker", "limit": 2} | ({"cursor": cursor} if cursor else {})
        page = (await deal.seller.client.get("/v1/search", params=params)).json()
        seen += [h["body"] for h in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == [f"sneaker size {i}" for i in range(4, -1, -1)]
