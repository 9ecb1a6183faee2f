"""The shield on the send path: block, mask, flag, context across messages, false alarms."""

from __future__ import annotations

from fastapi import FastAPI

from tests.fixtures.marketplace import Marketplace, TestTransaction


async def _conversation(market: Marketplace) -> tuple[TestTransaction, int]:
    deal = await market.transaction()
    return deal, await market.conversation_id(deal)


async def test_disguised_phone_number_is_refused_with_findings(
    app: FastAPI, market: Marketplace
) -> None:
    deal, cid = await _conversation(market)
    sub = app.state.ctx.broker.subscribe(deal.seller.id)
    response = await deal.buyer.client.post(
        f"/v1/conversations/{cid}/messages",
        json={"body": "text me at four one five, five five five, zero one nine nine"},
    )
    assert response.status_code == 422
    problem = response.json()
    assert response.headers["content-type"] == "application/problem+json"
    assert problem["code"] == "contact_info_blocked"
    assert "phone" in {f["kind"] for f in problem["findings"]}
    assert "phone number" in problem["detail"]
    assert sub.queue.empty()
    sub.close()
    items = (await deal.seller.client.get(f"/v1/conversations/{cid}/messages")).json()["items"]
    assert items == []


async def test_disguised_email_and_handles_are_refused(market: Marketplace) -> None:
    for body, kind in (
        ("email me: john dot smith at gmail dot com", "email"),
        ("add me on wh4tsapp", "messaging_app"),
        ("venmo @coin-dealer-22 and I'll ship today", "payment_handle"),
        ("see photos at bit.ly/3xYzAbC", "url"),
    ):
        deal, cid = await _conversation(market)  # a fresh sender each time: no strikes pile up
        response = await deal.buyer.client.post(
            f"/v1/conversations/{cid}/messages", json={"body": body}
        )
        assert response.status_code == 422, body
        assert kind in {f["kind"] for f in response.json()["findings"]}, body


async def test_prices_weights_and_tracking_numbers_go_through(market: Marketplace) -> None:
    deal, cid = await _conversation(market)
    body = (
        "Paid $1,250.00 for the 1921 Morgan (PCGS cert 41234567, MS-63, 26.73 g). "
        "Shipped USPS 9400 1000 0000 0000 0000 00 on 12/03/2024 at 3:30 pm, "
        "order #112-3456789-1234567."
    )
    sent = await market.send(deal.seller, cid, body)
    assert sent["body"] == body


async def test_solicitation_is_delivered_and_flagged(market: Marketplace) -> None:
    deal, cid = await _conversation(market)
    support = await market.user(is_support=True)
    body = "let's skip the app fees, I can pay you directly"
    sent = await market.send(deal.buyer, cid, body)
    assert sent["body"] == body
    queue = (await support.client.get("/v1/moderation/queue")).json()["items"]
    assert [(i["kind"], i["message_id"]) for i in queue] == [("flagged", sent["id"])]
    assert queue[0]["findings"][0]["kind"] == "solicitation"


async def test_number_split_over_three_messages_is_caught(market: Marketplace) -> None:
    deal, cid = await _conversation(market)
    await market.send(deal.buyer, cid, "my cell is 415")
    await market.send(deal.buyer, cid, "555")
    response = await deal.buyer.client.post(
        f"/v1/conversations/{cid}/messages", json={"body": "0199"}
    )
    assert response.status_code == 422
    assert response.json()["code"] == "contact_info_blocked"


async def test_a_refused_attempt_is_not_held_against_the_next_message(
    market: Marketplace,
) -> None:
    deal, cid = await _conversation(market)
    url = f"/v1/conversations/{cid}/messages"
    refused = await deal.buyer.client.post(url, json={"body": "my whatsapp: 415 555"})
    assert refused.status_code == 422
    # Had the refused text been kept as context, these digits would complete a phone number.
    ok = await deal.buyer.client.post(url, json={"body": "0199 is the lot number, by the way"})
    assert ok.status_code == 201, ok.text


async def test_live_check_tells_the_composer_what_would_happen(market: Marketplace) -> None:
    deal, cid = await _conversation(market)
    clean = await deal.buyer.client.post(
        "/v1/shield/check", json={"body": "Is it still available?", "conversation_id": cid}
    )
    assert clean.json()["action"] is None
    dirty = await deal.buyer.client.post(
        "/v1/shield/check", json={"body": "my gmail is coins4u at gmail dot com"}
    )
    body = dirty.json()
    assert body["action"] == "block"
    assert body["findings"][0]["kind"] == "email"
    assert body["explanation"]
    outsider = await market.user()
    hidden = await outsider.client.post(
        "/v1/shield/check", json={"body": "hi", "conversation_id": cid}
    )
    assert hidden.status_code == 404


async def test_display_names_with_contact_details_are_stored_masked(market: Marketplace) -> None:
    response = await market.server.put(
        "/v1/users/sneaky", json={"display_name": "Bo - text 415 555 0199"}
    )
    assert response.status_code == 201
    name = response.json()["display_name"]
    assert "415" not in name
    assert name.startswith("Bo - ")
    plain = await market.server.put("/v1/users/bo2", json={"display_name": "Bo's Coins 1921"})
    assert plain.json()["display_name"] == "Bo's Coins 1921"
