"""The seller dashboard: unread, first-reply figures and who has waited longest."""

from __future__ import annotations

from datetime import timedelta

from tests.fixtures.marketplace import Marketplace
from tests.web.conftest import Browser, csrf_of
from tradetalk.kit.clock import ManualClock


async def test_the_dashboard_shows_figures_and_who_waits(
    market: Marketplace, browser: Browser, clock: ManualClock
) -> None:
    seller = await market.user(name="Ada Coins")
    answered = await market.transaction(seller=seller, title="Morgan dollar")
    waiting = await market.transaction(seller=seller, title="<i>Peace dollar</i>")
    first = await market.conversation_id(answered)
    second = await market.conversation_id(waiting)
    await market.send(answered.buyer, first, "Is it still available?")
    clock.advance(timedelta(minutes=30))
    await market.send(seller, first, "Yes it is.")
    await market.send(waiting.buyer, second, "Could you do free shipping?")
    clock.advance(timedelta(hours=2))

    await browser.sign_in(seller)
    page = await browser.http.get("/dashboard")
    assert page.status_code == 200
    html = page.text
    assert 'id="unread-messages">1<' in html
    assert "30 min" in html and "100%" in html  # one answered conversation, in 30 minutes
    waiting_list = html[html.index('class="waiting"') :]
    assert "Could you do free shipping?" in waiting_list
    assert "&lt;i&gt;Peace dollar&lt;/i&gt;" in waiting_list
    assert "waiting 2.0 h" in waiting_list
    assert "Yes it is." not in waiting_list  # answered: nobody waits there
    assert "content-security-policy" in page.headers


async def test_the_dashboard_needs_a_session(market: Marketplace, browser: Browser) -> None:
    assert (await browser.http.get("/dashboard")).status_code == 303


async def test_saved_replies_are_kept_and_offered_in_the_composer(
    market: Marketplace, browser: Browser
) -> None:
    deal = await market.transaction()
    cid = await market.conversation_id(deal)
    await browser.sign_in(deal.seller)
    page = await browser.http.get("/dashboard")
    csrf = csrf_of(page.text)
    saved = await browser.http.post(
        "/dashboard/replies",
        data={"csrf_token": csrf, "title": "Shipping", "body": 'Ships in 2 days <"tracked">'},
    )
    assert saved.status_code == 303
    thread = await browser.http.get(f"/inbox/{cid}")
    assert 'data-body="Ships in 2 days &lt;&#34;tracked&#34;&gt;">Shipping</option>' in thread.text
    dashboard = await browser.http.get("/dashboard")
    delete = dashboard.text.split('action="/dashboard/replies/')[1].split('"')[0]
    # Someone else cannot delete it.
    other = Browser(market)
    await other.sign_in(deal.buyer)
    other_page = await other.http.get("/dashboard")
    refused = await other.http.post(
        f"/dashboard/replies/{delete}", data={"csrf_token": csrf_of(other_page.text)}
    )
    assert refused.status_code == 404
    await other.http.aclose()
    gone = await browser.http.post(f"/dashboard/replies/{delete}", data={"csrf_token": csrf})
    assert gone.status_code == 303
    assert "Shipping</option>" not in (await browser.http.get(f"/inbox/{cid}")).text
