"""What a party does in a thread from the pages besides sending: edit and withdraw their own
messages, post a tracking number, ask for a dispute, download the transcript, page back
through a long thread, make a detailed offer, choose email preferences; and Support writing in
a disputed conversation from the console."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import select

from tests.fixtures.marketplace import Marketplace
from tests.web.conftest import Browser, csrf_of
from tradetalk.db import read_session
from tradetalk.kit.clock import ManualClock
from tradetalk.notifications.models import OutboxItem
from tradetalk.web import pages

UPS = "1Z999AA10123456784"


async def _messages(market_user: Any, cid: int) -> list[dict[str, Any]]:
    response = await market_user.client.get(f"/v1/conversations/{cid}/messages")
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_a_sender_edits_and_withdraws_their_message(
    market: Marketplace, browser: Browser
) -> None:
    deal = await market.transaction()
    cid = await market.conversation_id(deal)
    sent = await market.send(deal.buyer, cid, "Is it still sealed?")
    await market.send(deal.seller, cid, "Yes it is.")
    await browser.sign_in(deal.buyer)
    page = await browser.http.get(f"/inbox/{cid}")
    edit_url = f"/inbox/{cid}/messages/{sent['id']}/edit"
    assert f'action="{edit_url}"' in page.text
    # Only one's own messages carry the controls.
    assert page.text.count("/withdraw") == 1

    edited = await browser.http.post(
        edit_url, data={"csrf_token": csrf_of(page.text), "body": "Is the box still sealed?"}
    )
    assert edited.status_code == 303
    seen = await _messages(deal.seller, cid)
    mine = next(m for m in seen if m["id"] == sent["id"])
    assert mine["body"] == "Is the box still sealed?" and mine["edited_at"] is not None
    assert "edited" in (await browser.http.get(f"/inbox/{cid}")).text

    withdrawn = await browser.http.post(
        f"/inbox/{cid}/messages/{sent['id']}/withdraw", data={"csrf_token": csrf_of(page.text)}
    )
    assert withdrawn.status_code == 303
    mine = next(m for m in await _messages(deal.seller, cid) if m["id"] == sent["id"])
    assert mine["withdrawn"] is True and mine["body"] == ""
    seller_page = Browser(market)
    await seller_page.sign_in(deal.seller)
    assert "This message was withdrawn." in (await seller_page.http.get(f"/inbox/{cid}")).text
    await seller_page.http.aclose()


async def test_an_edit_after_the_window_or_with_contact_details_is_explained(
    market: Marketplace, browser: Browser, clock: ManualClock
) -> None:
    deal = await market.transaction()
    cid = await market.conversation_id(deal)
    sent = await market.send(deal.buyer, cid, "Can you ship on Monday?")
    await browser.sign_in(deal.buyer)
    page = await browser.http.get(f"/inbox/{cid}")
    csrf = csrf_of(page.text)
    url = f"/inbox/{cid}/messages/{sent['id']}/edit"

    sneaky = await browser.http.post(
        url, data={"csrf_token": csrf, "body": "Text me on 415 555 0134 instead"}
    )
    assert sneaky.status_code == 422
    assert 'role="alert">' in sneaky.text and "contact" in sneaky.text.lower()
    assert (await _messages(deal.seller, cid))[0]["body"] == "Can you ship on Monday?"

    clock.advance(timedelta(minutes=16))
    await browser.sign_in(deal.buyer)  # the session outlives the clock jump; a fresh one is simpler
    late_page = await browser.http.get(f"/inbox/{cid}")
    assert f'action="{url}"' not in late_page.text  # no Edit control once the window closed
    late = await browser.http.post(
        url, data={"csrf_token": csrf_of(late_page.text), "body": "Can you ship on Tuesday?"}
    )
    assert late.status_code == 422
    assert "can be edited for 900 seconds" in late.text
    assert (await _messages(deal.seller, cid))[0]["body"] == "Can you ship on Monday?"


async def test_the_seller_posts_a_tracking_number_from_the_thread(
    market: Marketplace, browser: Browser
) -> None:
    deal = await market.transaction()
    cid = await market.conversation_id(deal)
    await browser.sign_in(deal.seller)
    page = await browser.http.get(f"/inbox/{cid}")
    assert "Add a tracking number" in page.text
    wrong = await browser.http.post(
        f"/inbox/{cid}/shipping",
        data={"csrf_token": csrf_of(page.text), "tracking_number": "1Z999AA10123456785"},
    )
    assert wrong.status_code == 422 and "Check the number on the label" in wrong.text
    posted = await browser.http.post(
        f"/inbox/{cid}/shipping", data={"csrf_token": csrf_of(page.text), "tracking_number": UPS}
    )
    assert posted.status_code == 303
    items = await _messages(deal.buyer, cid)
    assert [m["kind"] for m in items] == ["shipping_update"]
    thread = (await browser.http.get(f"/inbox/{cid}")).text
    assert "Track the parcel" in thread and UPS in thread

    buyer = Browser(market)
    await buyer.sign_in(deal.buyer)
    buyer_page = await buyer.http.get(f"/inbox/{cid}")
    assert "Add a tracking number" not in buyer_page.text
    refused = await buyer.http.post(
        f"/inbox/{cid}/shipping",
        data={"csrf_token": csrf_of(buyer_page.text), "tracking_number": UPS},
    )
    assert refused.status_code == 422 and "from the seller" in refused.text
    await buyer.http.aclose()


async def test_a_buyer_asks_for_a_dispute_and_downloads_the_transcript(
    app: FastAPI, market: Marketplace, browser: Browser
) -> None:
    deal = await market.transaction(title="Leica M6")
    cid = await market.conversation_id(deal)
    await market.send(deal.buyer, cid, "The shutter sticks at 1/1000.")
    await browser.sign_in(deal.buyer)
    page = await browser.http.get(f"/inbox/{cid}")
    empty = await browser.http.post(
        f"/inbox/{cid}/dispute-request", data={"csrf_token": csrf_of(page.text), "reason": " "}
    )
    assert empty.status_code == 422
    asked = await browser.http.post(
        f"/inbox/{cid}/dispute-request",
        data={"csrf_token": csrf_of(page.text), "reason": "Not as described"},
    )
    assert asked.status_code == 200 and "sent to the marketplace" in asked.text
    async with read_session(app.state.ctx) as session:
        rows = await session.scalars(select(OutboxItem).where(OutboxItem.kind == "webhook"))
        hooks = [json.loads(row.payload) for row in rows]
    requested = [h["data"] for h in hooks if h["type"] == "dispute.requested"]
    assert [(r["requested_by"], r["reason"]) for r in requested] == [
        (deal.buyer.id, "Not as described")
    ]

    pdf = await browser.http.get(f"/inbox/{cid}/transcript?format=pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    chained = await browser.http.get(f"/inbox/{cid}/transcript?format=json")
    assert "The shutter sticks" in chained.text and "hash" in chained.text

    outsider = Browser(market)
    await outsider.sign_in(await market.user())
    hidden = await outsider.http.get(f"/inbox/{cid}/transcript?format=pdf")
    assert hidden.status_code == 404 and "text/html" in hidden.headers["content-type"]
    await outsider.http.aclose()


async def test_a_long_thread_pages_back_to_its_beginning(
    market: Marketplace, browser: Browser, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pages, "THREAD_PAGE_SIZE", 3)
    deal = await market.transaction()
    cid = await market.conversation_id(deal)
    for n in range(1, 8):
        await market.send(deal.buyer, cid, f"Question number {n}")
    await browser.sign_in(deal.seller)

    def shown(html: str) -> list[int]:
        thread = html.split('id="thread"', 1)[1].split("</ol>", 1)[0]
        return [n for n in range(1, 8) if f"Question number {n}<" in thread]

    latest = (await browser.http.get(f"/inbox/{cid}")).text
    assert shown(latest) == [5, 6, 7]
    seen: list[int] = []
    page = latest
    while "Show earlier messages" in page:
        link = page.split('<li class="earlier"><a href="', 1)[1].split('"', 1)[0]
        page = (await browser.http.get(link)).text
        seen = shown(page) + seen
    assert seen == [1, 2, 3, 4]
    assert "Back to the latest messages" in page


async def test_an_offer_with_quantity_note_and_lifetime(
    market: Marketplace, browser: Browser, clock: ManualClock
) -> None:
    deal = await market.transaction()
    cid = await market.conversation_id(deal)
    await browser.sign_in(deal.buyer)
    page = await browser.http.get(f"/inbox/{cid}")
    made = await browser.http.post(
        f"/inbox/{cid}/offers",
        data={
            "csrf_token": csrf_of(page.text),
            "amount": "180.50",
            "currency": "USD",
            "quantity": "2",
            "note": "Both, if they ship together",
            "expires_in_hours": "24",
        },
    )
    assert made.status_code == 303, made.text
    offer = (await _messages(deal.seller, cid))[0]["offer"]
    assert (offer["amount_minor"], offer["quantity"], offer["note"]) == (
        18050,
        2,
        "Both, if they ship together",
    )
    assert offer["expires_at"].startswith((clock.now() + timedelta(hours=24)).date().isoformat())


async def test_email_preferences_are_chosen_on_the_settings_page(
    market: Marketplace, browser: Browser
) -> None:
    user = await market.user()
    await browser.sign_in(user)
    page = await browser.http.get("/settings")
    assert page.status_code == 200 and "Email me about messages" in page.text
    saved = await browser.http.post(
        "/settings/email", data={"csrf_token": csrf_of(page.text), "mode": "daily_digest"}
    )
    assert saved.status_code == 303
    prefs = (await user.client.get("/v1/me/notification-preferences")).json()
    assert prefs["email"] == "daily_digest"
    assert 'value="daily_digest" checked' in (await browser.http.get("/settings")).text


async def test_support_writes_in_a_disputed_conversation_from_the_console(
    market: Marketplace, browser: Browser
) -> None:
    deal = await market.transaction(title="Omega Seamaster")
    cid = await market.conversation_id(deal)
    await market.send(deal.buyer, cid, "The crystal is scratched.")
    support = await market.user(is_support=True)
    await browser.sign_in(support)
    opened = await market.server.post(
        f"/v1/transactions/{deal.id}/dispute", json={"reason": "Damaged in transit"}
    )
    assert opened.status_code == 201, opened.text
    record = await browser.http.get(f"/support/conversations/{cid}")
    assert "Send as Support" in record.text
    sent = await browser.http.post(
        f"/support/conversations/{cid}/messages",
        data={"csrf_token": csrf_of(record.text), "body": "Please both send photos of the box."},
    )
    assert sent.status_code == 303
    for party in (deal.buyer, deal.seller):
        last = next(m for m in await _messages(party, cid) if m["kind"] == "text")
        assert (last["body"], last["sender_role"], last["sender_id"]) == (
            "Please both send photos of the box.",
            "support",
            support.id,
        )

    await market.server.request(
        "DELETE", f"/v1/transactions/{deal.id}/dispute", json={"resolution": "Refunded"}
    )
    closed = await browser.http.post(
        f"/support/conversations/{cid}/messages",
        data={"csrf_token": csrf_of(record.text), "body": "One more thing"},
    )
    assert closed.status_code == 404 and "text/html" in closed.headers["content-type"]
    bodies = [m["body"] for m in await _messages(deal.buyer, cid) if m["kind"] == "text"]
    assert bodies == ["Please both send photos of the box.", "The crystal is scratched."]


async def test_support_pages_are_a_not_found_page_for_everyone_else(
    market: Marketplace, browser: Browser
) -> None:
    user = await market.user()
    await browser.sign_in(user)
    for path in ("/support", f"/support/users/{user.id}", "/support/conversations/1"):
        response = await browser.http.get(path)
        assert response.status_code == 404
        assert response.headers["content-type"].startswith("text/html")
        assert "Not found" in response.text


async def test_the_marketplace_links_straight_to_an_orders_conversation(
    market: Marketplace, browser: Browser
) -> None:
    deal = await market.transaction(title="Canon AE-1")
    await browser.sign_in(deal.seller)
    opened = await browser.http.get(f"/inbox/transactions/{deal.id}")
    assert opened.status_code == 303
    cid = await market.conversation_id(deal)
    assert opened.headers["location"] == f"/inbox/{cid}"
    outsider = Browser(market)
    await outsider.sign_in(await market.user())
    hidden = await outsider.http.get(f"/inbox/transactions/{deal.id}")
    assert hidden.status_code == 404 and "Not found" in hidden.text
    await outsider.http.aclose()


async def test_a_direct_conversation_starts_only_after_asking(
    app: FastAPI, market: Marketplace, browser: Browser
) -> None:
    buyer, seller = await market.user(), await market.user(name="Vintage Vera")
    await browser.sign_in(buyer)
    # Off by default: conversations start from a transaction.
    assert (await browser.http.get(f"/inbox/with/{seller.id}")).status_code == 404
    ctx = app.state.ctx
    ctx.settings = ctx.settings.model_copy(update={"direct_messages": True})
    page = await browser.http.get(f"/inbox/with/{seller.id}")
    assert page.status_code == 200 and "Message Vintage Vera" in page.text
    existing = await buyer.client.post("/v1/conversations", json={"user_id": seller.id})
    assert existing.status_code == 201  # asking alone started nothing: this one is new
    started = await browser.http.post(
        f"/inbox/with/{seller.id}", data={"csrf_token": csrf_of(page.text)}
    )
    assert started.status_code == 303
    assert started.headers["location"] == f"/inbox/{existing.json()['id']}"
    again = await browser.http.get(f"/inbox/with/{seller.id}")
    assert again.status_code == 303 and again.headers["location"] == started.headers["location"]
    self_page = await browser.http.get(f"/inbox/with/{buyer.id}")
    assert self_page.status_code == 404


async def test_a_party_reports_the_other_sides_message(
    market: Marketplace, browser: Browser
) -> None:
    deal = await market.transaction()
    cid = await market.conversation_id(deal)
    rude = await market.send(deal.seller, cid, "Stop wasting my time, idiot")
    mine = await market.send(deal.buyer, cid, "I only asked about the box")
    await browser.sign_in(deal.buyer)
    page = await browser.http.get(f"/inbox/{cid}")
    assert f"/messages/{rude['id']}/report" in page.text
    assert f"/messages/{mine['id']}/report" not in page.text  # nobody reports themselves
    reported = await browser.http.post(
        f"/inbox/{cid}/messages/{rude['id']}/report",
        data={"csrf_token": csrf_of(page.text), "reason": "Insulting"},
    )
    assert reported.status_code == 200 and "reported to the moderators" in reported.text
    queue = (await market.server.get("/v1/moderation/queue")).json()["items"]
    assert [(q["kind"], q["subject_id"], q["reason"]) for q in queue] == [
        ("reported_message", deal.seller.id, "Insulting")
    ]
    other = await market.transaction()
    other_cid = await market.conversation_id(other)
    elsewhere = await market.send(other.seller, other_cid, "Not yours to report")
    hidden = await browser.http.post(
        f"/inbox/{cid}/messages/{elsewhere['id']}/report",
        data={"csrf_token": csrf_of(page.text), "reason": "Insulting"},
    )
    assert hidden.status_code == 404


async def test_a_direct_conversation_can_be_blocked_and_unblocked(
    app: FastAPI, market: Marketplace, browser: Browser
) -> None:
    ctx = app.state.ctx
    ctx.settings = ctx.settings.model_copy(update={"direct_messages": True})
    pest, seller = await market.user(), await market.user(name="Busy Bea")
    started = await pest.client.post("/v1/conversations", json={"user_id": seller.id})
    cid = started.json()["id"]
    await market.send(pest, cid, "Hello? Hello? Answer me")
    await browser.sign_in(seller)
    page = await browser.http.get(f"/inbox/{cid}")
    assert "Block " in page.text
    csrf = csrf_of(page.text)
    blocked = await browser.http.post(f"/inbox/{cid}/block", data={"csrf_token": csrf})
    assert blocked.status_code == 303
    refused = await pest.client.post(
        f"/v1/conversations/{cid}/messages", json={"body": "Why no answer?"}
    )
    assert refused.status_code in (403, 422), refused.text
    assert "Unblock" in (await browser.http.get(f"/inbox/{cid}")).text
    unblocked = await browser.http.post(
        f"/inbox/{cid}/block", data={"csrf_token": csrf_of(page.text), "unblock": "true"}
    )
    assert unblocked.status_code == 303
    await market.send(pest, cid, "Sorry for the noise")
    deal = await market.transaction(pest, seller)
    deal_page = await browser.http.get(f"/inbox/{await market.conversation_id(deal)}")
    # Orders' conversations stay open: no blocking there.
    assert deal_page.status_code == 200 and "Block " not in deal_page.text


async def test_earlier_versions_of_an_edited_message_are_shown(
    market: Marketplace, browser: Browser
) -> None:
    deal = await market.transaction()
    cid = await market.conversation_id(deal)
    sent = await market.send(deal.seller, cid, "Ships Monday <b>for sure</b>")
    edited = await deal.seller.client.patch(
        f"/v1/conversations/{cid}/messages/{sent['id']}", json={"body": "Ships Tuesday"}
    )
    assert edited.status_code == 200, edited.text
    await browser.sign_in(deal.buyer)
    thread = await browser.http.get(f"/inbox/{cid}")
    link = f"/inbox/{cid}/messages/{sent['id']}/versions"
    assert f'href="{link}"' in thread.text
    page = await browser.http.get(link)
    assert page.status_code == 200
    assert "Ships Tuesday" in page.text and "Ships Monday &lt;b&gt;for sure&lt;/b&gt;" in page.text
    outsider = Browser(market)
    await outsider.sign_in(await market.user())
    assert (await outsider.http.get(link)).status_code == 404
    await outsider.http.aclose()


async def test_the_feed_is_marked_read_from_the_dashboard(
    market: Marketplace, browser: Browser
) -> None:
    deal = await market.transaction()
    cid = await market.conversation_id(deal)
    await market.send(deal.buyer, cid, "Hi, is this available?")
    assert (await deal.seller.client.get("/v1/notifications")).json()["unread"] == 1
    await browser.sign_in(deal.seller)
    page = await browser.http.get("/dashboard")
    assert "Mark all as read" in page.text
    done = await browser.http.post(
        "/dashboard/notifications/seen", data={"csrf_token": csrf_of(page.text)}
    )
    assert done.status_code == 303
    assert (await deal.seller.client.get("/v1/notifications")).json()["unread"] == 0
    assert "Mark all as read" not in (await browser.http.get("/dashboard")).text


async def test_search_pages_through_older_matches_and_opens_them_in_place(
    market: Marketplace, browser: Browser, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pages, "SEARCH_PAGE_SIZE", 2)
    monkeypatch.setattr(pages, "THREAD_PAGE_SIZE", 2)
    deal = await market.transaction()
    cid = await market.conversation_id(deal)
    question = "Does the lens have fungus? ({})"
    sent = [await market.send(deal.buyer, cid, question.format(n)) for n in range(3)]
    await market.send(deal.buyer, cid, "Also the caps")
    await market.send(deal.buyer, cid, "And the hood")
    outsider_deal = await market.transaction()
    other_cid = await market.conversation_id(outsider_deal)
    await market.send(outsider_deal.buyer, other_cid, "No fungus here")  # not the seller's
    await browser.sign_in(deal.seller)

    first = await browser.http.get("/inbox", params={"q": "fungus"})
    assert "No fungus here" not in first.text
    assert "(2)" in first.text and "(1)" in first.text and "(0)" not in first.text
    older = first.text.split('<p><a href="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    second = await browser.http.get(older)
    assert "(0)" in second.text and "Older matches" not in second.text
    # A match older than the thread's latest page opens on the page that holds it.
    hit = f"#m{sent[0]['id']}"
    link = second.text.split('class="hits">', 1)[1].split('href="', 1)[1].split('"', 1)[0]
    assert link.endswith(hit)
    thread = await browser.http.get(link.split("#", 1)[0])
    assert f'id="m{sent[0]["id"]}"' in thread.text
