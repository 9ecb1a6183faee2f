"""The operator syncs transactions; the conversation follows its buyer and seller."""

from __future__ import annotations

from tests.fixtures.marketplace import Marketplace


async def test_transaction_upsert_and_validation(market: Marketplace) -> None:
    buyer, seller = await market.user(), await market.user()
    good = {
        "buyer_id": buyer.id,
        "seller_id": seller.id,
        "title": "Canon AE-1",
        "status": "initiated",
        "amount_minor": 18900,
        "currency": "USD",
    }
    created = await market.server.put("/v1/transactions/t-1", json=good)
    assert created.status_code == 201
    assert created.json()["status"] == "initiated"
    paid = await market.server.put("/v1/transactions/t-1", json={**good, "status": "paid"})
    assert paid.status_code == 200
    assert paid.json()["status"] == "paid"
    bad_payloads = [
        {**good, "status": "lost"},
        {**good, "seller_id": buyer.id},
        {**good, "currency": "usd"},
        {**good, "amount_minor": -1},
        {**good, "amount_minor": 10**12 + 1},
        {**good, "currency": None},
        {**good, "title": " "},
        {**good, "extra": 1},
    ]
    for payload in bad_payloads:
        response = await market.server.put("/v1/transactions/t-2", json=payload)
        assert response.status_code == 422, payload
        assert response.json()["code"] == "validation_error"
    unknown = await market.server.put("/v1/transactions/t-2", json={**good, "buyer_id": "ghost"})
    assert unknown.status_code == 422
    assert unknown.json()["code"] == "unknown_user"
    assert unknown.json()["user_ids"] == ["ghost"]


async def test_status_updates_keep_the_conversation_and_only_add_system_notes(
    market: Marketplace,
) -> None:
    deal = await market.transaction()
    conversation_id = await market.conversation_id(deal)
    await market.send(deal.buyer, conversation_id, "When will it ship?")
    for status in ("paid", "shipped", "delivered", "refunded"):
        response = await market.server.put(
            f"/v1/transactions/{deal.id}",
            json={
                "buyer_id": deal.buyer.id,
                "seller_id": deal.seller.id,
                "title": "1921 Morgan silver dollar",
                "status": status,
            },
        )
        assert response.status_code == 200
    conversation = (await deal.seller.client.get(f"/v1/transactions/{deal.id}/conversation")).json()
    assert conversation["id"] == conversation_id
    assert conversation["transaction"]["status"] == "refunded"
    messages = (
        await deal.seller.client.get(f"/v1/conversations/{conversation_id}/messages")
    ).json()
    # Newest first: the buyer's message stays, each status change is a system note after it.
    assert [(m["kind"], m["body"]) for m in messages["items"]] == [
        ("system", "Order refunded"),
        ("system", "Order marked as delivered"),
        ("system", "Order marked as shipped"),
        ("system", "Order marked as paid"),
        ("text", "When will it ship?"),
    ]


async def test_sending_never_changes_the_transaction(market: Marketplace) -> None:
    deal = await market.transaction(status="paid")
    conversation_id = await market.conversation_id(deal)
    await market.send(deal.buyer, conversation_id, "please cancel my order")
    conversation = (await deal.buyer.client.get(f"/v1/conversations/{conversation_id}")).json()
    assert conversation["transaction"]["status"] == "paid"


async def test_parties_are_fixed_once_the_conversation_exists(market: Marketplace) -> None:
    deal = await market.transaction()
    other = await market.user()
    body = {
        "buyer_id": other.id,
        "seller_id": deal.seller.id,
        "title": "x",
        "status": "paid",
    }
    # Before anyone opened the conversation, the operator may still correct the buyer.
    assert (await market.server.put(f"/v1/transactions/{deal.id}", json=body)).status_code == 200
    body["buyer_id"] = deal.buyer.id
    assert (await market.server.put(f"/v1/transactions/{deal.id}", json=body)).status_code == 200
    await market.conversation_id(deal)
    body["buyer_id"] = other.id
    response = await market.server.put(f"/v1/transactions/{deal.id}", json=body)
    assert response.status_code == 409
    assert response.json()["code"] == "transaction_parties_fixed"
