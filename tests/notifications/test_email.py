"""Email about unread messages: after the delay, only if unread, batched, as preferred."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import parseaddr

from tests.fixtures.marketplace import Marketplace
from tests.notifications.conftest import RELAY_DOMAIN, Mailbox, Pass


def text_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    content: str = part.get_content()
    return content


def html_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("html",))
    assert part is not None
    content: str = part.get_content()
    return content


async def test_unread_message_brings_one_well_formed_email_after_the_delay(
    market: Marketplace, mailbox: Mailbox, after: Pass
) -> None:
    seller = await market.user("seller-ada", name="Ada's Coins", email="ada@ada-coins.example")
    buyer = await market.user("buyer-dan", name="Dan Okafor", email="dan.private@example.org")
    deal = await market.transaction(buyer, seller, title="1921 Morgan silver dollar")
    cid = await market.conversation_id(deal)
    await market.send(buyer, cid, "Is it still in the <PCGS> holder? & is shipping free?")

    await after(seconds=299)
    assert mailbox.messages == []
    await after(seconds=2)

    [message] = mailbox.messages
    assert parseaddr(str(message["To"])) == ("Ada's Coins", "ada@ada-coins.example")
    assert "1921 Morgan silver dollar" in str(message["Subject"])
    assert "Dan Okafor" in str(message["Subject"])
    reply_to = parseaddr(str(message["Reply-To"]))[1]
    assert reply_to.startswith("reply+") and reply_to.endswith("@" + RELAY_DOMAIN)
    assert str(message["List-Unsubscribe"]).strip().startswith("<http://testserver/v1/unsubscribe/")
    assert str(message["List-Unsubscribe-Post"]) == "List-Unsubscribe=One-Click"
    assert str(message["Message-ID"]).startswith("<tt.")
    assert str(message["Auto-Submitted"]) == "auto-generated"
    text = text_of(message)
    assert "Hi Ada's Coins" in text
    assert "Is it still in the <PCGS> holder? & is shipping free?" in text
    assert f"http://testserver/inbox/{cid}" in text
    html = html_of(message)
    assert "&lt;PCGS&gt; holder? &amp; is shipping free?" in html
    # The buyer's own address never reaches the seller.
    assert "dan.private@example.org" not in message.as_string()

    await after(minutes=30)
    assert len(mailbox.messages) == 1


async def test_a_message_read_within_the_delay_sends_no_email(
    market: Marketplace, mailbox: Mailbox, after: Pass
) -> None:
    deal = await market.transaction()
    cid = await market.conversation_id(deal)
    sent = await market.send(deal.buyer, cid, "Hello, still available?")
    await after(minutes=2)
    response = await deal.seller.client.post(
        f"/v1/conversations/{cid}/read", json={"message_id": sent["id"]}
    )
    assert response.status_code == 200
    await after(minutes=10)
    assert mailbox.messages == []


async def test_messages_arriving_within_the_delay_are_batched_into_one_email(
    market: Marketplace, mailbox: Mailbox, after: Pass
) -> None:
    seller = await market.user(name="Cy Cameras")
    first = await market.transaction(seller=seller, title="Canon AE-1")
    second = await market.transaction(seller=seller, title="Nikon FM2")
    cid1 = await market.conversation_id(first)
    cid2 = await market.conversation_id(second)
    await market.send(first.buyer, cid1, "Does the light meter work?")
    await after(minutes=2)
    await market.send(first.buyer, cid1, "And is there fungus in the lens?")
    await after(minutes=2)
    await market.send(second.buyer, cid2, "Would you take 180 for the FM2?")
    await after(minutes=2)  # 6 minutes after the first message

    [message] = mailbox.to(f"{seller.id}@example.com")
    text = text_of(message)
    for body in (
        "Does the light meter work?",
        "And is there fungus in the lens?",
        "Would you take 180 for the FM2?",
    ):
        assert body in text
    assert "Canon AE-1" in text and "Nikon FM2" in text
    assert str(message["Subject"]) == "3 new messages on tradetalk"

    await after(minutes=30)  # the later messages' own timers find them already emailed
    assert len(mailbox.messages) == 1

    await market.send(first.buyer, cid1, "Hello?")
    await after(minutes=6)
    assert len(mailbox.messages) == 2
    assert "Hello?" in text_of(mailbox.messages[-1])
    assert "light meter" not in text_of(mailbox.messages[-1])


async def test_preferences_off_immediately_and_daily_digest(
    market: Marketplace, mailbox: Mailbox, after: Pass
) -> None:
    deal = await market.transaction()
    cid = await market.conversation_id(deal)
    seller = deal.seller
    response = await seller.client.get("/v1/me/notification-preferences")
    assert response.json() == {"email": "batched"}

    assert (
        await seller.client.put("/v1/me/notification-preferences", json={"email": "off"})
    ).json() == {"email": "off"}
    await market.send(deal.buyer, cid, "one")
    await after(minutes=10)
    assert mailbox.messages == []

    await seller.client.put("/v1/me/notification-preferences", json={"email": "immediately"})
    await market.send(deal.buyer, cid, "two")
    await after()
    [message] = mailbox.messages
    # Everything still unread and never emailed goes in, also what came while emails were off.
    assert "one" in text_of(message) and "two" in text_of(message)

    await seller.client.put("/v1/me/notification-preferences", json={"email": "daily_digest"})
    await market.send(deal.buyer, cid, "three")
    await market.send(deal.buyer, cid, "four")
    await after(minutes=10)
    assert len(mailbox.messages) == 1
    await after(hours=24)
    # (Reminders that the buyer is waiting are not digested; they are left out here.)
    unread_mail = [m for m in mailbox.messages if "waiting" not in str(m["Subject"])]
    assert len(unread_mail) == 2
    digest = text_of(unread_mail[-1])
    assert "three" in digest and "four" in digest

    await market.refresh(seller)
    bad = await seller.client.put("/v1/me/notification-preferences", json={"email": "hourly"})
    assert bad.status_code == 422
    assert (await market.anonymous.get("/v1/me/notification-preferences")).status_code == 401


async def test_one_click_unsubscribe_turns_emails_off(
    market: Marketplace, mailbox: Mailbox, after: Pass
) -> None:
    deal = await market.transaction()
    cid = await market.conversation_id(deal)
    await market.send(deal.buyer, cid, "first")
    await after(minutes=6)
    [message] = mailbox.messages
    url = str(message["List-Unsubscribe"]).strip().strip("<>").removeprefix("http://testserver")

    landing = await market.anonymous.get(url)
    assert landing.status_code == 200 and "<form" in landing.text
    # Looking at the link changes nothing (mail scanners follow links).
    await market.send(deal.buyer, cid, "second")
    await after(minutes=6)
    assert len(mailbox.messages) == 2

    # RFC 8058: the mail provider POSTs "List-Unsubscribe=One-Click", without credentials.
    response = await market.anonymous.post(
        url,
        content=b"List-Unsubscribe=One-Click",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 200
    await market.send(deal.buyer, cid, "third")
    await after(minutes=6)
    assert len(mailbox.messages) == 2
    preferences = await deal.seller.client.get("/v1/me/notification-preferences")
    assert preferences.json() == {"email": "off"}

    forged = await market.anonymous.post(url[:-3] + "abc")
    assert forged.status_code == 404


async def test_batched_mode_sends_at_most_one_email_per_window(
    market: Marketplace, mailbox: Mailbox, after: Pass
) -> None:
    deal = await market.transaction()
    cid = await market.conversation_id(deal)
    await market.send(deal.buyer, cid, "one")
    await after(minutes=5)
    assert len(mailbox.messages) == 1
    await market.send(deal.buyer, cid, "two")
    await after(minutes=1)
    await market.send(deal.buyer, cid, "three")
    await after(minutes=3)  # "two" is due, but an email went out less than 5 minutes ago
    assert len(mailbox.messages) == 1
    await after(minutes=2)
    assert len(mailbox.messages) == 2
    text = text_of(mailbox.messages[-1])
    assert "two" in text and "three" in text
