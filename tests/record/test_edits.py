"""Editing and withdrawing messages keeps the record: versions stay, tombstones show, search
forgets replaced text, and nobody but the sender can change a message."""

from __future__ import annotations

import json
from datetime import timedelta

from fastapi import FastAPI
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from tests.fixtures.marketplace import Marketplace
from tradetalk.db import read_session, unit_of_work
from tradetalk.kit.clock import ManualClock
from tradetalk.realtime.models import Event


def url(cid: int, mid: int | None = None) -> str:
    return f"/v1/conversations/{cid}/messages" + (f"/{mid}" if mid else "")


async def test_the_sender_edits_within_the_window_and_earlier_text_is_kept(
    market: Marketplace, clock: ManualClock
) -> None:
    deal = await market.transaction()
    cid = await market.conversation_id(deal)
    sent = await market.send(deal.seller, cid, "Ships Monday")
    clock.advance(timedelta(minutes=2))
    edited = await deal.seller.client.patch(url(cid, sent["id"]), json={"body": "Ships Tuesday"})
    assert edited.status_code == 200, edited.text
    body = edited.json()
    assert (body["body"], body["edit_count"], body["withdrawn"]) == ("Ships Tuesday", 1, False)
    assert body["edited_at"] is not None
    seen_by_buyer = (await deal.buyer.client.get(url(cid))).json()["items"][0]
    assert seen_by_buyer["body"] == "Ships Tuesday" and seen_by_buyer["edit_count"] == 1
    versions = await deal.buyer.client.get(url(cid, sent["id"]) + "/versions")
    assert versions.status_code == 200
    assert [(v["version"], v["body"], v["replaced_because"]) for v in versions.json()["items"]] == [
        (0, "Ships Monday", "edited")
    ]


async def test_the_edit_window_closes_after_the_setting(
    market: Marketplace, clock: ManualClock
) -> None:
    deal = await market.transaction()
    cid = await market.conversation_id(deal)
    first = await market.send(deal.buyer, cid, "first")
    second = await market.send(deal.buyer, cid, "second")
    clock.advance(timedelta(seconds=900))  # the default window, to the second
    assert (
        await deal.buyer.client.patch(url(cid, first["id"]), json={"body": "first!"})
    ).status_code == 200
    clock.advance(timedelta(seconds=1))
    late = await deal.buyer.client.patch(url(cid, second["id"]), json={"body": "second!"})
    assert late.status_code == 409
    assert late.json()["code"] == "edit_window_closed"


async def test_only_the_sender_can_edit_or_withdraw(market: Marketplace) -> None:
    deal = await market.transaction()
    outsider = await market.user()
    cid = await market.conversation_id(deal)
    sent = await market.send(deal.buyer, cid, "mine")
    other_party = await deal.seller.client.patch(url(cid, sent["id"]), json={"body": "yours"})
    assert other_party.status_code == 403
    assert other_party.json()["code"] == "not_your_message"
    assert (await deal.seller.client.delete(url(cid, sent["id"]))).status_code == 403
    for call in (
        outsider.client.patch(url(cid, sent["id"]), json={"body": "x"}),
        outsider.client.delete(url(cid, sent["id"])),
        outsider.client.get(url(cid, sent["id"]) + "/versions"),
    ):
        assert (await call).status_code == 404
    assert (await deal.buyer.client.delete(url(cid, 999999))).status_code == 404
    items = (await deal.buyer.client.get(url(cid))).json()["items"]
    assert [(m["body"], m["edit_count"]) for m in items] == [("mine", 0)]


async def test_an_unchanged_edit_makes_no_version(market: Marketplace) -> None:
    deal = await market.transaction()
    cid = await market.conversation_id(deal)
    sent = await market.send(deal.buyer, cid, "same")
    again = await deal.buyer.client.patch(url(cid, sent["id"]), json={"body": "same"})
    assert again.json()["edit_count"] == 0
    versions = await deal.buyer.client.get(url(cid, sent["id"]) + "/versions")
    assert versions.json()["items"] == []


async def test_withdrawing_leaves_a_tombstone_for_both_parties(
    app: FastAPI, market: Marketplace
) -> None:
    deal = await market.transaction()
    cid = await market.conversation_id(deal)
    sent = await market.send(deal.buyer, cid, "call me on my mobile tomorrow")
    withdrawn = await deal.buyer.client.delete(url(cid, sent["id"]))
    assert withdrawn.status_code == 200
    assert (withdrawn.json()["withdrawn"], withdrawn.json()["body"]) == (True, "")
    for party in (deal.buyer, deal.seller):
        item = (await party.client.get(url(cid))).json()["items"][0]
        assert (item["id"], item["withdrawn"], item["body"]) == (sent["id"], True, "")
        assert item["original_body"] is None
        versions = await party.client.get(url(cid, sent["id"]) + "/versions")
        assert versions.json()["items"] == []
        hits = await party.client.get("/v1/search", params={"q": "mobile"})
        assert hits.json()["items"] == []
    # Withdrawing again is the same tombstone; editing it is refused.
    assert (await deal.buyer.client.delete(url(cid, sent["id"]))).status_code == 200
    edit = await deal.buyer.client.patch(url(cid, sent["id"]), json={"body": "again"})
    assert edit.json()["code"] == "message_withdrawn"
    # Both parties were told, with the tombstone only.
    async with read_session(app.state.ctx) as session:
        updates = (
            await session.scalars(select(Event).where(Event.type == "message.updated"))
        ).all()
    assert sorted(e.user_id for e in updates) == sorted([deal.buyer.id, deal.seller.id])
    assert all("mobile" not in e.data for e in updates)


async def test_a_withdrawn_text_is_gone_from_replays_and_the_feed(
    app: FastAPI, market: Marketplace
) -> None:
    """Found by tests/reliability/test_visibility_model.py: the stream replayed with `after=`
    and the recipient's notification feed still quoted what the sender had withdrawn."""
    deal = await market.transaction()
    cid = await market.conversation_id(deal)
    sent = await market.send(deal.buyer, cid, "my mobile is the quickest way")
    await deal.buyer.client.patch(url(cid, sent["id"]), json={"body": "mobile or landline"})
    feed = (await deal.seller.client.get("/v1/notifications")).json()["items"]
    assert "mobile" in feed[0]["body"]  # the feed quotes the message as first sent
    assert (await deal.buyer.client.delete(url(cid, sent["id"]))).status_code == 200

    feed = (await deal.seller.client.get("/v1/notifications")).json()["items"]
    assert [(n["conversation_id"], n["body"]) for n in feed] == [(cid, "")]
    async with read_session(app.state.ctx) as session:
        stored = (await session.scalars(select(Event).order_by(Event.user_id, Event.id))).all()
    # What a replay serves each party: the message's events, all with the tombstone now.
    assert [(e.user_id, e.type) for e in stored] == [
        (deal.buyer.id, "message.created"),
        (deal.buyer.id, "message.updated"),
        (deal.buyer.id, "message.updated"),
        (deal.seller.id, "message.created"),
        (deal.seller.id, "message.updated"),
        (deal.seller.id, "message.updated"),
    ]
    for event in stored:
        data = json.loads(event.data)
        assert (data["id"], data["body"], data["withdrawn"]) == (sent["id"], "", True)
        assert "mobile" not in event.data
    # The record keeps the text for support in a dispute.
    support = await market.user(is_support=True)
    await market.server.post(f"/v1/transactions/{deal.id}/dispute", json={"reason": "contact"})
    items = (await support.client.get(url(cid))).json()["items"]
    assert [i["original_body"] for i in items if i["id"] == sent["id"]] == ["mobile or landline"]


async def test_search_finds_the_current_text_only(market: Marketplace) -> None:
    deal = await market.transaction()
    cid = await market.conversation_id(deal)
    sent = await market.send(deal.seller, cid, "price is firm")
    await deal.seller.client.patch(url(cid, sent["id"]), json={"body": "price is negotiable"})
    found = await deal.buyer.client.get("/v1/search", params={"q": "negotiable"})
    gone = await deal.buyer.client.get("/v1/search", params={"q": "firm"})
    assert [h["id"] for h in found.json()["items"]] == [sent["id"]]
    assert gone.json()["items"] == []


async def test_only_text_messages_change(app: FastAPI, market: Marketplace) -> None:
    deal = await market.transaction()
    cid = await market.conversation_id(deal)
    await market.server.post(f"/v1/transactions/{deal.id}/dispute", json={"reason": "late"})
    note = (await deal.buyer.client.get(url(cid))).json()["items"][0]
    assert note["kind"] == "system"
    refused = await deal.buyer.client.delete(url(cid, note["id"]))
    assert refused.status_code == 403  # nobody sent it: not the caller's


async def test_the_database_refuses_to_rewrite_the_record(
    app: FastAPI, market: Marketplace
) -> None:
    deal = await market.transaction()
    cid = await market.conversation_id(deal)
    sent = await market.send(deal.buyer, cid, "first")
    await deal.buyer.client.patch(url(cid, sent["id"]), json={"body": "second"})
    for statement in (
        "UPDATE record_entries SET payload = '{}'",
        "UPDATE message_versions SET body = 'forged'",
    ):
        try:
            async with unit_of_work(app.state.ctx) as uow:
                await uow.session.execute(text(statement))
        except DBAPIError as exc:
            assert "append-only" in str(exc)
        else:
            raise AssertionError(f"{statement} was allowed")
    transcript = (await deal.buyer.client.get(f"/v1/conversations/{cid}/transcript")).json()
    assert [e["kind"] for e in transcript["entries"]] == ["message.posted", "message.edited"]
    assert json.dumps(transcript).count("first") == 1
