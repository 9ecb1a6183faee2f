"""Replies from the mailbox land in the thread, or are refused with an explanation."""

from __future__ import annotations

import json
from datetime import timedelta
from email.message import EmailMessage
from email.utils import parseaddr

import aiosmtplib
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from tests.fixtures.marketplace import Marketplace, TestTransaction
from tests.notifications.conftest import RELAY_DOMAIN, Mailbox, Pass, free_port
from tests.notifications.test_email import text_of
from tradetalk.config import Settings
from tradetalk.db import read_session
from tradetalk.kit.clock import ManualClock
from tradetalk.notifications.models import OutboxItem
from tradetalk.protection.models import Restriction


def reply_to(notification: EmailMessage, *, sender: str, body: str) -> bytes:
    """A reply as a mail client writes it: new text on top, the notification quoted below."""
    reply = EmailMessage()
    reply["From"] = sender
    reply["To"] = str(notification["Reply-To"])
    reply["Subject"] = "Re: " + str(notification["Subject"])
    reply["In-Reply-To"] = str(notification["Message-ID"])
    reply["Message-ID"] = f"<reply-{abs(hash(body))}@mail.example>"
    quoted = "\n".join("> " + line for line in text_of(notification).splitlines())
    reply.set_content(f"{body}\n\nOn Mon, 23 Nov 2026 at 10:00, tradetalk wrote:\n{quoted}\n")
    return reply.as_bytes()


async def notified(
    market: Marketplace, after: Pass, mailbox: Mailbox
) -> tuple[TestTransaction, int, EmailMessage]:
    deal = await market.transaction(title="Air Jordan 1, size 10.5")
    cid = await market.conversation_id(deal)
    await market.send(deal.buyer, cid, "Are these deadstock?")
    await after(minutes=6)
    [notification] = mailbox.to(f"{deal.seller.id}@example.com")
    return deal, cid, notification


async def thread(market: Marketplace, deal: TestTransaction, cid: int) -> list[dict[str, str]]:
    response = await deal.buyer.client.get(f"/v1/conversations/{cid}/messages")
    assert response.status_code == 200
    items: list[dict[str, str]] = response.json()["items"]
    return list(reversed(items))


async def post_inbound(market: Marketplace, raw: bytes) -> None:
    response = await market.server.post(
        "/v1/inbound/email", content=raw, headers={"content-type": "message/rfc822"}
    )
    assert response.status_code == 202, response.text


async def test_a_reply_from_the_mailbox_lands_in_the_thread(
    market: Marketplace, mailbox: Mailbox, after: Pass
) -> None:
    deal, cid, notification = await notified(market, after, mailbox)
    relay = parseaddr(str(notification["Reply-To"]))[1]
    assert relay.endswith("@" + RELAY_DOMAIN)
    raw = reply_to(
        notification,
        sender=f"Seller <{deal.seller.id}@example.com>",
        body="Yes, deadstock with the original box.\n\nBest regards,\nBo\n--\nBo's Sneaker Vault",
    )
    await post_inbound(market, raw)
    await post_inbound(market, raw)  # the mail server retried: still one message
    await after()

    messages = await thread(market, deal, cid)
    assert [(m["sender_id"], m["body"]) for m in messages] == [
        (deal.buyer.id, "Are these deadstock?"),
        (deal.seller.id, "Yes, deadstock with the original box."),
    ]
    # ...and the buyer is told about the answer in the usual way.
    await after(minutes=6)
    assert len(mailbox.to(f"{deal.buyer.id}@example.com")) == 1


async def test_a_reply_from_another_address_is_refused_and_the_owner_told(
    market: Marketplace, mailbox: Mailbox, after: Pass
) -> None:
    deal, cid, notification = await notified(market, after, mailbox)
    raw = reply_to(notification, sender="Mallory <mallory@evil.example>", body="Pay me outside")
    await post_inbound(market, raw)
    await after()

    assert [m["body"] for m in await thread(market, deal, cid)] == ["Are these deadstock?"]
    assert mailbox.to("mallory@evil.example") == []
    refusals = mailbox.to(f"{deal.seller.id}@example.com")[1:]
    assert len(refusals) == 1
    assert "not posted" in str(refusals[0]["Subject"])
    text = text_of(refusals[0])
    assert "not the one on your account" in text
    assert "Pay me outside" not in text  # a forged message is not echoed


async def test_a_reply_with_contact_details_is_refused_with_the_reason(
    market: Marketplace, mailbox: Mailbox, after: Pass
) -> None:
    deal, cid, notification = await notified(market, after, mailbox)
    raw = reply_to(
        notification,
        sender=f"{deal.seller.id}@example.com",
        body="Yes! Write me at bo.sneakers@gmail.com and I'll give you a discount.",
    )
    await post_inbound(market, raw)
    await after()

    assert len(await thread(market, deal, cid)) == 1
    [refusal] = mailbox.to(f"{deal.seller.id}@example.com")[1:]
    text = text_of(refusal)
    assert "an email address" in text
    assert "bo.sneakers@gmail.com" in text  # the sender sees what was not posted
    feed = (await deal.seller.client.get("/v1/notifications")).json()
    assert feed["items"][0]["type"] == "reply_refused"


async def test_forged_relay_addresses_and_auto_replies_are_dropped(
    market: Marketplace, mailbox: Mailbox, after: Pass
) -> None:
    deal, cid, notification = await notified(market, after, mailbox)
    relay = parseaddr(str(notification["Reply-To"]))[1]
    local, _, domain = relay.partition("@")
    forged = local[:-4] + ("aaaa" if not local.endswith("aaaa") else "bbbb") + "@" + domain
    message = EmailMessage()
    message["From"] = f"{deal.seller.id}@example.com"
    message["To"] = forged
    message["Subject"] = "Re: hello"
    message.set_content("Sure thing")
    await post_inbound(market, message.as_bytes())

    away = EmailMessage()
    away["From"] = f"{deal.seller.id}@example.com"
    away["To"] = relay
    away["Subject"] = "Out of office"
    away["Auto-Submitted"] = "auto-replied"
    away.set_content("I am on holiday until Monday.")
    await post_inbound(market, away.as_bytes())
    await after()

    assert len(await thread(market, deal, cid)) == 1
    assert len(mailbox.messages) == 1  # no refusal emails: nobody to tell, no loops


async def test_inbound_needs_the_server_key_and_a_body(market: Marketplace, app: FastAPI) -> None:
    deal = await market.transaction()
    denied = await deal.seller.client.post(
        "/v1/inbound/email", content=b"From: x\n\nhi", headers={"content-type": "message/rfc822"}
    )
    assert denied.status_code == 401
    empty = await market.server.post(
        "/v1/inbound/email", content=b"  ", headers={"content-type": "message/rfc822"}
    )
    assert empty.status_code == 422


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"smtp_listen": f"127.0.0.1:{free_port()}"})


async def test_replies_through_the_smtp_listener(
    market: Marketplace, mailbox: Mailbox, after: Pass, settings: Settings
) -> None:
    deal, cid, notification = await notified(market, after, mailbox)
    host, _, port = (settings.smtp_listen or "").rpartition(":")
    raw = reply_to(notification, sender=f"{deal.seller.id}@example.com", body="Shipped today!")
    relay = parseaddr(str(notification["Reply-To"]))[1]
    await aiosmtplib.send(
        raw,
        sender=f"{deal.seller.id}@example.com",
        recipients=[relay],
        hostname=host,
        port=int(port),
    )
    with pytest.raises(aiosmtplib.SMTPRecipientsRefused):
        await aiosmtplib.send(
            raw,
            sender=f"{deal.seller.id}@example.com",
            recipients=["postmaster@" + RELAY_DOMAIN],
            hostname=host,
            port=int(port),
        )
    await after()
    assert [m["body"] for m in await thread(market, deal, cid)][-1] == "Shipped today!"


async def test_a_reply_refused_by_the_shield_in_context_tells_no_one_of_an_undone_restriction(
    app: FastAPI, market: Marketplace, mailbox: Mailbox, after: Pass, clock: ManualClock
) -> None:
    # Four strikes (each pause outlasted): the fifth would restrict the seller.
    seller = await market.user()
    for _ in range(4):
        deal = await market.transaction(seller=seller)
        cid = await market.conversation_id(deal)
        blocked = await seller.client.post(
            f"/v1/conversations/{cid}/messages", json={"body": "call me 415-555-0199"}
        )
        assert blocked.status_code == 422
        clock.advance(timedelta(hours=25))
        await market.refresh(seller)
    deal = await market.transaction(seller=seller, title="Air Jordan 1, size 10.5")
    cid = await market.conversation_id(deal)
    await market.send(deal.buyer, cid, "Are these deadstock?")
    await after(minutes=6)
    [notification] = mailbox.to(f"{seller.id}@example.com")
    # The worker's plain check lets it through (tests give it a shield that only knows
    # "@gmail"); the send's own shield refuses it, inside the savepoint the reply is posted in,
    # which undoes the strike and the restriction it brought.
    raw = reply_to(notification, sender=f"{seller.id}@example.com", body="Call 415-555-0199")
    await post_inbound(market, raw)
    await after()

    assert len(await thread(market, deal, cid)) == 1
    async with read_session(app.state.ctx) as session:
        restrictions = list(await session.scalars(select(Restriction.kind)))
        webhooks = [
            json.loads(payload)["type"]
            for payload in await session.scalars(
                select(OutboxItem.payload).where(OutboxItem.kind == "webhook")
            )
        ]
    # Nothing announces a restriction that is not there.
    assert ("restricted" in restrictions) == ("user.restricted" in webhooks)
    assert "user.restricted" not in webhooks
