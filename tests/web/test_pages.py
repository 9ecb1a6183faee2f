"""The web pages over HTTP (in process): sign-in by link, CSRF, privacy, escaping, CSP."""

from __future__ import annotations

from datetime import timedelta

from tests.fixtures.marketplace import Marketplace
from tests.web.conftest import Browser, csrf_of, login_link
from tradetalk.kit.clock import ManualClock


async def test_a_login_link_signs_in_once(market: Marketplace, browser: Browser) -> None:
    user = await market.user()
    url = await login_link(market, user)
    first = await browser.http.get(url)
    assert first.status_code == 303
    assert first.headers["location"] == "/inbox"
    cookie = first.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie
    inbox = await browser.http.get("/inbox")
    assert inbox.status_code == 200
    assert user.display_name in inbox.text

    other = Browser(market)
    again = await other.http.get(url)
    assert again.status_code == 404
    assert "already used" in again.text
    assert (await other.http.get("/inbox")).status_code == 303
    await other.http.aclose()


async def test_an_expired_login_link_does_not_sign_in(
    market: Marketplace, browser: Browser, clock: ManualClock
) -> None:
    user = await market.user()
    url = await login_link(market, user)
    clock.advance(timedelta(minutes=6))
    response = await browser.http.get(url)
    assert response.status_code == 404
    assert (await browser.http.get("/inbox")).status_code == 303


async def test_login_links_need_the_server_key_and_a_known_user(market: Marketplace) -> None:
    user = await market.user()
    assert (await user.client.post(f"/v1/users/{user.id}/login-links")).status_code == 401
    assert (await market.server.post("/v1/users/nobody/login-links")).status_code == 404


async def test_revoking_tokens_ends_web_sessions(market: Marketplace, browser: Browser) -> None:
    user = await market.user()
    await browser.sign_in(user)
    assert (await browser.http.get("/inbox")).status_code == 200
    assert (await market.server.delete(f"/v1/users/{user.id}/tokens")).status_code == 204
    assert (await browser.http.get("/inbox")).status_code == 303


async def test_forms_without_the_csrf_token_are_refused(
    market: Marketplace, browser: Browser
) -> None:
    deal = await market.transaction()
    cid = await market.conversation_id(deal)
    await browser.sign_in(deal.buyer)
    page = await browser.http.get(f"/inbox/{cid}")
    refused = await browser.http.post(f"/inbox/{cid}/messages", data={"body": "Hello there"})
    assert refused.status_code == 403
    forged = await browser.http.post(
        f"/inbox/{cid}/messages", data={"body": "Hello there", "csrf_token": "forged"}
    )
    assert forged.status_code == 403
    sent = await browser.http.post(
        f"/inbox/{cid}/messages", data={"body": "Hello there", "csrf_token": csrf_of(page.text)}
    )
    assert sent.status_code == 303
    messages = (await deal.seller.client.get(f"/v1/conversations/{cid}/messages")).json()
    assert [m["body"] for m in messages["items"]] == ["Hello there"]


async def test_someone_elses_conversation_is_not_found(
    market: Marketplace, browser: Browser
) -> None:
    deal = await market.transaction()
    cid = await market.conversation_id(deal)
    await market.send(deal.buyer, cid, "Private question")
    await browser.sign_in(await market.user())
    response = await browser.http.get(f"/inbox/{cid}")
    assert response.status_code == 404
    assert "Private question" not in response.text


async def test_markup_in_messages_is_shown_as_text(market: Marketplace, browser: Browser) -> None:
    deal = await market.transaction(title="<b>Coin</b>")
    cid = await market.conversation_id(deal)
    await market.send(deal.buyer, cid, '<script>alert("x")</script><img src=x onerror=alert(1)>')
    await browser.sign_in(deal.seller)
    for path in ("/inbox", f"/inbox/{cid}"):
        html = (await browser.http.get(path)).text
        assert "<script>alert" not in html
        assert "<img src=x" not in html
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
        assert "&lt;b&gt;Coin&lt;/b&gt;" in html


async def test_pages_carry_a_strict_content_security_policy(
    market: Marketplace, browser: Browser
) -> None:
    await browser.sign_in(await market.user())
    for path in ("/", "/inbox"):
        response = await browser.http.get(path)
        policy = response.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
        assert "<script>" not in response.text  # no inline scripts
        assert " style=" not in response.text  # no inline styles


async def test_the_thread_shows_unread_and_marks_read(
    market: Marketplace, browser: Browser
) -> None:
    deal = await market.transaction(title="Canon AE-1")
    cid = await market.conversation_id(deal)
    await market.send(deal.buyer, cid, "Does the light meter work?")
    await browser.sign_in(deal.seller)
    inbox = await browser.http.get("/inbox")
    assert "Canon AE-1" in inbox.text and "Does the light meter work?" in inbox.text
    assert '<span class="badge" data-role="badge">1' in inbox.text
    thread = await browser.http.get(f"/inbox/{cid}")
    assert "Today" in thread.text
    read = (await deal.seller.client.get(f"/v1/conversations/{cid}")).json()
    assert read["unread_count"] == 0


async def test_a_refusal_is_explained_in_place_with_the_draft_kept(
    market: Marketplace, browser: Browser
) -> None:
    deal = await market.transaction()
    cid = await market.conversation_id(deal)
    await browser.sign_in(deal.buyer)
    page = await browser.http.get(f"/inbox/{cid}")
    draft = "Call me at 415-555-0134 tonight"
    response = await browser.http.post(
        f"/inbox/{cid}/messages", data={"body": draft, "csrf_token": csrf_of(page.text)}
    )
    assert response.status_code == 422
    assert 'role="alert"' in response.text and "phone" in response.text.lower()
    assert draft in response.text
    messages = (await deal.seller.client.get(f"/v1/conversations/{cid}/messages")).json()
    assert messages["items"] == []


async def test_an_offer_is_accepted_from_the_page(market: Marketplace, browser: Browser) -> None:
    deal = await market.transaction()
    cid = await market.conversation_id(deal)
    made = await deal.buyer.client.post(
        f"/v1/conversations/{cid}/offers", json={"amount_minor": 11000, "currency": "USD"}
    )
    assert made.status_code == 201, made.text
    offer_id = made.json()["id"]
    await browser.sign_in(deal.seller)
    page = await browser.http.get(f"/inbox/{cid}")
    assert "USD 110.00" in page.text and f"/web/offers/{offer_id}/accept" in page.text
    accepted = await browser.http.post(
        f"/web/offers/{offer_id}/accept", data={"csrf_token": csrf_of(page.text)}
    )
    assert accepted.status_code == 303
    offer = (await deal.buyer.client.get(f"/v1/offers/{offer_id}")).json()
    assert offer["status"] == "accepted"


async def test_the_web_token_is_for_the_signed_in_user(
    market: Marketplace, browser: Browser
) -> None:
    user = await market.user()
    assert (await browser.http.get("/web/token")).status_code == 303
    await browser.sign_in(user)
    token = (await browser.http.get("/web/token")).json()["token"]
    me = await market.client({"Authorization": f"Bearer {token}"}).get("/v1/conversations")
    assert me.status_code == 200


async def test_outside_demo_mode_nobody_can_sign_in_as_anyone(
    market: Marketplace, browser: Browser
) -> None:
    user = await market.user()
    home = await browser.http.get("/")
    assert home.status_code == 200 and "Sign in as" not in home.text
    response = await browser.http.post(f"/web/demo-login/{user.id}", data={"csrf_token": "x"})
    assert response.status_code == 404


async def test_an_offer_is_countered_from_the_page(market: Marketplace, browser: Browser) -> None:
    deal = await market.transaction()
    cid = await market.conversation_id(deal)
    made = await deal.buyer.client.post(
        f"/v1/conversations/{cid}/offers", json={"amount_minor": 10000, "currency": "USD"}
    )
    offer_id = made.json()["id"]
    await browser.sign_in(deal.seller)
    page = await browser.http.get(f"/inbox/{cid}")
    csrf = csrf_of(page.text)
    bad = await browser.http.post(
        f"/web/offers/{offer_id}/counter", data={"csrf_token": csrf, "amount": "lots"}
    )
    assert bad.status_code == 409 and "Enter a valid amount." in bad.text
    countered = await browser.http.post(
        f"/web/offers/{offer_id}/counter", data={"csrf_token": csrf, "amount": "115.50"}
    )
    assert countered.status_code == 303
    original = (await deal.buyer.client.get(f"/v1/offers/{offer_id}")).json()
    assert original["status"] == "countered"
    counter = (await deal.buyer.client.get(f"/v1/offers/{original['superseded_by']}")).json()
    assert counter["amount_minor"] == 11550 and counter["maker_id"] == deal.seller.id
    thread = await browser.http.get(f"/inbox/{cid}")
    assert "USD 115.50" in thread.text and f"/web/offers/{counter['id']}/withdraw" in thread.text


async def test_an_offer_is_made_from_the_page(market: Marketplace, browser: Browser) -> None:
    deal = await market.transaction()
    cid = await market.conversation_id(deal)
    await browser.sign_in(deal.buyer)
    page = await browser.http.get(f"/inbox/{cid}")
    made = await browser.http.post(
        f"/inbox/{cid}/offers",
        data={"csrf_token": csrf_of(page.text), "amount": "99.90", "currency": "USD"},
    )
    assert made.status_code == 303
    messages = (await deal.seller.client.get(f"/v1/conversations/{cid}/messages")).json()
    offer = messages["items"][0]["offer"]
    assert offer["amount_minor"] == 9990 and offer["status"] == "open"
