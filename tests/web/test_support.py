"""The support console: the moderation queue with findings highlighted, and its actions."""

from __future__ import annotations

from tests.fixtures.marketplace import Marketplace
from tests.web.conftest import Browser, csrf_of


async def test_support_dismisses_a_flagged_message(market: Marketplace, browser: Browser) -> None:
    deal = await market.transaction()
    cid = await market.conversation_id(deal)
    refused = await deal.buyer.client.post(
        f"/v1/conversations/{cid}/messages",
        json={"body": "<b>Call</b> me at 415-555-0134"},
    )
    assert refused.status_code == 422
    support = await market.user(is_support=True)
    await browser.sign_in(support)
    page = await browser.http.get("/support")
    assert page.status_code == 200
    assert "&lt;b&gt;Call&lt;/b&gt; me at " in page.text
    assert '<mark class="finding" title="phone">415-555-0134' in page.text
    queue = (await market.server.get("/v1/moderation/queue")).json()["items"]
    item_id = queue[0]["id"]
    done = await browser.http.post(
        f"/support/items/{item_id}/dismiss", data={"csrf_token": csrf_of(page.text)}
    )
    assert done.status_code == 303
    item = (await market.server.get(f"/v1/moderation/items/{item_id}")).json()
    assert item["status"] == "dismissed"
    assert "415-555-0134" not in (await browser.http.get("/support")).text


async def test_support_restricts_and_lifts_a_user(market: Marketplace, browser: Browser) -> None:
    user = await market.user()
    await browser.sign_in(await market.user(is_support=True))
    page = await browser.http.get(f"/support/users/{user.id}")
    csrf = csrf_of(page.text)
    restricted = await browser.http.post(
        f"/support/users/{user.id}/restrict",
        data={"csrf_token": csrf, "reason": "Repeated off-platform deals", "hours": "24"},
    )
    assert restricted.status_code == 303
    record = (await market.server.get(f"/v1/moderation/users/{user.id}")).json()
    assert [r["active"] for r in record["restrictions"]] == [True]
    assert (
        "Repeated off-platform deals" in (await browser.http.get(f"/support/users/{user.id}")).text
    )
    lifted = await browser.http.post(f"/support/users/{user.id}/lift", data={"csrf_token": csrf})
    assert lifted.status_code == 303
    record = (await market.server.get(f"/v1/moderation/users/{user.id}")).json()
    assert [r["active"] for r in record["restrictions"]] == [False]


async def test_the_console_is_not_found_for_other_users(
    market: Marketplace, browser: Browser
) -> None:
    user = await market.user()
    await browser.sign_in(user)
    assert (await browser.http.get("/support")).status_code == 404
    assert (await browser.http.get(f"/support/users/{user.id}")).status_code == 404


async def test_support_reads_a_disputed_conversation_and_exports_it(
    market: Marketplace, browser: Browser
) -> None:
    deal = await market.transaction(title="Rolex Submariner 5513")
    cid = await market.conversation_id(deal)
    await market.send(deal.buyer, cid, "The <em>bezel</em> is not original!")
    await market.send(deal.seller, cid, "It was serviced, the bezel is a service part.")
    support = await market.user(is_support=True)
    await browser.sign_in(support)
    assert (await browser.http.get(f"/support/conversations/{cid}")).status_code == 404

    opened = await market.server.post(
        f"/v1/transactions/{deal.id}/dispute", json={"reason": "Item not as described"}
    )
    assert opened.status_code == 201, opened.text
    console = await browser.http.get("/support")
    assert "Item not as described" in console.text
    assert f'href="/support/conversations/{cid}"' in console.text
    record = await browser.http.get(f"/support/conversations/{cid}")
    assert record.status_code == 200
    assert "The &lt;em&gt;bezel&lt;/em&gt; is not original!" in record.text
    assert "the bezel is a service part" in record.text
    pdf = await browser.http.get(f"/support/conversations/{cid}/transcript?format=pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    exported = await browser.http.get(f"/support/conversations/{cid}/transcript?format=json")
    assert exported.status_code == 200 and "bezel" in exported.text

    audit = (await market.server.get("/v1/audit-log", params={"conversation_id": cid})).json()
    assert {"conversation.read", "transcript.read"} <= {e["action"] for e in audit["items"]}
