"""Support reads a conversation only while a dispute is open or a grant is in force; everything
support reads or does is on the audit log; parties can ask for a dispute."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import select

from tests.fixtures.marketplace import Marketplace, TestTransaction, TestUser
from tradetalk.db import read_session
from tradetalk.kit.clock import ManualClock
from tradetalk.notifications.models import OutboxItem
from tradetalk.realtime.models import Event


@dataclass
class Case:
    deal: TestTransaction
    cid: int
    support: TestUser
    message: dict[str, Any]

    def urls(self) -> list[str]:
        c = self.cid
        return [
            f"/v1/conversations/{c}",
            f"/v1/conversations/{c}/messages",
            f"/v1/conversations/{c}/messages/{self.message['id']}/versions",
            f"/v1/conversations/{c}/transcript",
        ]


@pytest.fixture
async def case(market: Marketplace) -> Case:
    deal = await market.transaction()
    cid = await market.conversation_id(deal)
    message = await market.send(deal.buyer, cid, "The coin arrived scratched")
    support = await market.user(is_support=True, name="Sam Support")
    return Case(deal, cid, support, message)


async def _outbox(app: FastAPI, kind: str = "webhook") -> list[dict[str, Any]]:
    async with read_session(app.state.ctx) as session:
        rows = await session.scalars(select(OutboxItem).where(OutboxItem.kind == kind))
        return [json.loads(row.payload) for row in rows]


async def _audit(market: Marketplace, **params: Any) -> list[dict[str, Any]]:
    response = await market.server.get("/v1/audit-log", params=params)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_support_reads_only_while_the_dispute_is_open(
    market: Marketplace, case: Case
) -> None:
    for path in case.urls():
        assert (await case.support.client.get(path)).status_code == 404, path
    opened = await market.server.post(
        f"/v1/transactions/{case.deal.id}/dispute", json={"reason": "item not as described"}
    )
    assert opened.status_code == 201
    assert opened.json()["status"] == "open"
    for path in case.urls():
        assert (await case.support.client.get(path)).status_code == 200, path
    conversation = (await case.support.client.get(case.urls()[0])).json()
    assert {p["user_id"] for p in conversation["participants"]} == {
        case.deal.buyer.id,
        case.deal.seller.id,
    }
    closed = await market.server.request(
        "DELETE",
        f"/v1/transactions/{case.deal.id}/dispute",
        json={"resolution": "partial refund"},
    )
    assert closed.status_code == 200
    assert (closed.json()["status"], closed.json()["resolution"]) == ("closed", "partial refund")
    for path in case.urls():
        assert (await case.support.client.get(path)).status_code == 404, path
    # Support never joins the conversation or its inbox.
    assert (await case.support.client.get("/v1/conversations")).json()["items"] == []


async def test_the_parties_are_told_when_support_comes_and_goes(
    market: Marketplace, case: Case
) -> None:
    await market.server.post(f"/v1/transactions/{case.deal.id}/dispute", json={"reason": "x"})
    await market.server.delete(f"/v1/transactions/{case.deal.id}/dispute")
    items = (await case.deal.seller.client.get(f"/v1/conversations/{case.cid}/messages")).json()
    notes = [m["body"] for m in items["items"] if m["kind"] == "system"]
    assert len(notes) == 2
    assert "no longer has access" in notes[0] and "Support can now read" in notes[1]
    transcript = (
        await case.deal.buyer.client.get(f"/v1/conversations/{case.cid}/transcript")
    ).json()
    kinds = [e["kind"] for e in transcript["entries"]]
    assert "dispute.opened" in kinds and "dispute.closed" in kinds


async def test_support_writes_as_support_and_both_parties_see_it(
    app: FastAPI, market: Marketplace, case: Case
) -> None:
    denied = await case.support.client.post(
        f"/v1/conversations/{case.cid}/messages", json={"body": "hello"}
    )
    assert denied.status_code == 404
    dispute = (
        await market.server.post(f"/v1/transactions/{case.deal.id}/dispute", json={"reason": "x"})
    ).json()
    sent = await case.support.client.post(
        f"/v1/conversations/{case.cid}/messages",
        json={"body": "Please send photos of the scratch."},
    )
    assert sent.status_code == 201, sent.text
    message = sent.json()
    assert (message["sender_id"], message["sender_role"]) == (case.support.id, "support")
    for party in (case.deal.buyer, case.deal.seller):
        page = (await party.client.get(f"/v1/conversations/{case.cid}/messages")).json()
        assert page["items"][0]["id"] == message["id"]
        inbox = (await party.client.get("/v1/conversations")).json()["items"][0]
        assert inbox["unread_count"] >= 1
    async with read_session(app.state.ctx) as session:
        created = (
            await session.scalars(select(Event).where(Event.type == "message.created"))
        ).all()
    receivers = {e.user_id for e in created if json.loads(e.data)["id"] == message["id"]}
    assert receivers == {case.deal.buyer.id, case.deal.seller.id, case.support.id}
    hooks = [h for h in await _outbox(app) if h["type"] == "dispute.message"]
    assert [h["data"]["message"]["id"] for h in hooks] == [message["id"]]
    assert hooks[0]["data"]["dispute_id"] == dispute["id"]


async def test_support_sees_what_a_party_withdrew_only_in_a_dispute(
    market: Marketplace, case: Case
) -> None:
    mid = case.message["id"]
    await case.deal.buyer.client.delete(f"/v1/conversations/{case.cid}/messages/{mid}")
    await market.server.post(f"/v1/transactions/{case.deal.id}/dispute", json={"reason": "x"})
    page = (await case.support.client.get(f"/v1/conversations/{case.cid}/messages")).json()
    item = next(m for m in page["items"] if m["id"] == mid)
    assert (item["withdrawn"], item["body"], item["original_body"]) == (
        True,
        "",
        "The coin arrived scratched",
    )
    versions = await case.support.client.get(
        f"/v1/conversations/{case.cid}/messages/{mid}/versions"
    )
    assert [v["body"] for v in versions.json()["items"]] == ["The coin arrived scratched"]
    transcript = await case.support.client.get(f"/v1/conversations/{case.cid}/transcript")
    assert "The coin arrived scratched" in transcript.text
    party = await case.deal.seller.client.get(f"/v1/conversations/{case.cid}/transcript")
    assert "The coin arrived scratched" not in party.text


async def test_a_grant_lets_one_support_user_read_for_a_while(
    market: Marketplace, clock: ManualClock, case: Case
) -> None:
    colleague = await market.user(is_support=True)
    granted = await market.server.post(
        f"/v1/conversations/{case.cid}/support-grants",
        json={"user_id": case.support.id, "ttl_seconds": 600, "reason": "fraud review"},
    )
    assert granted.status_code == 201, granted.text
    for path in case.urls():
        assert (await case.support.client.get(path)).status_code == 200, path
        assert (await colleague.client.get(path)).status_code == 404, path
    # A grant is for reading: writing as Support needs an open dispute.
    write = await case.support.client.post(
        f"/v1/conversations/{case.cid}/messages", json={"body": "hi"}
    )
    assert (write.status_code, write.json()["code"]) == (403, "support_access_read_only")
    clock.advance(timedelta(seconds=599))
    await market.refresh(case.support)
    assert (await case.support.client.get(case.urls()[0])).status_code == 200
    clock.advance(timedelta(seconds=1))
    for path in case.urls():
        assert (await case.support.client.get(path)).status_code == 404, path


async def test_a_grant_can_be_revoked_and_only_names_support_users(
    market: Marketplace, case: Case
) -> None:
    ordinary = await market.user()
    grants = f"/v1/conversations/{case.cid}/support-grants"
    for client in (case.support.client, case.deal.buyer.client, market.anonymous):
        as_user = await client.post(grants, json={"user_id": case.support.id})
        assert as_user.status_code == 401
        assert (await client.get(grants)).status_code == 401
        assert (await client.delete(f"{grants}/{case.support.id}")).status_code == 401
    refused = await market.server.post(
        f"/v1/conversations/{case.cid}/support-grants", json={"user_id": ordinary.id}
    )
    assert (refused.status_code, refused.json()["code"]) == (422, "not_a_support_user")
    await market.server.post(
        f"/v1/conversations/{case.cid}/support-grants", json={"user_id": case.support.id}
    )
    listed = await market.server.get(f"/v1/conversations/{case.cid}/support-grants")
    assert [g["user_id"] for g in listed.json()["items"]] == [case.support.id]
    assert (await case.support.client.get(case.urls()[0])).status_code == 200
    revoked = await market.server.delete(
        f"/v1/conversations/{case.cid}/support-grants/{case.support.id}"
    )
    assert revoked.status_code == 204
    assert (await case.support.client.get(case.urls()[0])).status_code == 404
    again = await market.server.delete(
        f"/v1/conversations/{case.cid}/support-grants/{case.support.id}"
    )
    assert again.status_code == 404


async def test_every_support_read_and_action_is_audited(market: Marketplace, case: Case) -> None:
    await market.server.post(f"/v1/transactions/{case.deal.id}/dispute", json={"reason": "x"})
    for path in case.urls():
        await case.support.client.get(path)
    await case.support.client.get(f"/v1/conversations/{case.cid}/transcript?format=pdf")
    sent = await case.support.client.post(
        f"/v1/conversations/{case.cid}/messages", json={"body": "Looking into it"}
    )
    await case.support.client.patch(
        f"/v1/conversations/{case.cid}/messages/{sent.json()['id']}",
        json={"body": "Looking into it now"},
    )
    # Parties' own reads are not support work and are not logged.
    await case.deal.buyer.client.get(f"/v1/conversations/{case.cid}/messages")
    entries = await _audit(market, conversation_id=case.cid)
    mine = [e for e in reversed(entries) if e["actor_id"] == case.support.id]
    assert [e["action"] for e in mine] == [
        "conversation.read",
        "messages.read",
        "message.versions.read",
        "transcript.read",
        "transcript.read",
        "message.sent",
        "message.edited",
    ]
    assert all(e["actor_type"] == "support" and e["detail"]["via"] == "dispute" for e in mine)
    assert mine[4]["detail"]["format"] == "pdf"
    assert [e["action"] for e in entries if e["actor_type"] == "operator"] == ["dispute.opened"]
    assert {e["actor_id"] for e in entries} == {case.support.id, None}


async def test_the_audit_log_pages_and_is_for_the_operator_only(
    market: Marketplace, case: Case
) -> None:
    await market.server.post(f"/v1/transactions/{case.deal.id}/dispute", json={"reason": "x"})
    for _ in range(3):
        await case.support.client.get(case.urls()[0])
    first = (await market.server.get("/v1/audit-log", params={"limit": 2})).json()
    second = (
        await market.server.get(
            "/v1/audit-log", params={"limit": 2, "cursor": first["next_cursor"]}
        )
    ).json()
    ids = [e["id"] for e in first["items"] + second["items"]]
    assert ids == sorted(ids, reverse=True) and len(ids) == 4
    assert second["next_cursor"] is None
    for client in (case.support.client, case.deal.buyer.client, market.anonymous):
        assert (await client.get("/v1/audit-log")).status_code == 401


async def test_disputes_open_once_and_close_once(market: Marketplace, case: Case) -> None:
    url = f"/v1/transactions/{case.deal.id}/dispute"
    assert (await market.server.post(url, json={"reason": "x"})).status_code == 201
    twice = await market.server.post(url, json={"reason": "again"})
    assert (twice.status_code, twice.json()["code"]) == (409, "dispute_already_open")
    assert (await market.server.delete(url)).status_code == 200
    none_open = await market.server.delete(url)
    assert (none_open.status_code, none_open.json()["code"]) == (404, "no_open_dispute")
    latest = await market.server.get(url)
    assert latest.json()["status"] == "closed"
    # A new dispute can follow a closed one.
    assert (await market.server.post(url, json={"reason": "it broke"})).status_code == 201
    missing = await market.server.post("/v1/transactions/nope/dispute", json={"reason": "x"})
    assert missing.status_code == 404
    for client in (case.support.client, case.deal.buyer.client):
        assert (await client.post(url, json={"reason": "x"})).status_code == 401


async def test_a_dispute_opened_before_anyone_spoke_covers_the_later_conversation(
    market: Marketplace,
) -> None:
    deal = await market.transaction()
    support = await market.user(is_support=True)
    assert (
        await market.server.post(f"/v1/transactions/{deal.id}/dispute", json={"reason": "x"})
    ).status_code == 201
    cid = await market.conversation_id(deal)
    assert (await support.client.get(f"/v1/conversations/{cid}")).status_code == 200


async def test_a_party_asks_for_a_dispute_and_the_operator_is_told(
    app: FastAPI, market: Marketplace, case: Case
) -> None:
    asked = await case.deal.buyer.client.post(
        f"/v1/conversations/{case.cid}/dispute-requests",
        json={"reason": "The seller stopped answering"},
    )
    assert asked.status_code == 202, asked.text
    hooks = [h for h in await _outbox(app) if h["type"] == "dispute.requested"]
    assert len(hooks) == 1
    data = hooks[0]["data"]
    assert (data["transaction_id"], data["requested_by"], data["requested_by_role"]) == (
        case.deal.id,
        case.deal.buyer.id,
        "buyer",
    )
    assert data["reason"] == "The seller stopped answering"
    # Asking gives support no access; the operator decides.
    assert (await case.support.client.get(case.urls()[0])).status_code == 404
    outsider = await market.user()
    for client in (outsider.client, case.support.client):
        response = await client.post(
            f"/v1/conversations/{case.cid}/dispute-requests", json={"reason": "x"}
        )
        assert response.status_code == 404
    await market.server.post(f"/v1/transactions/{case.deal.id}/dispute", json={"reason": "x"})
    already = await case.deal.seller.client.post(
        f"/v1/conversations/{case.cid}/dispute-requests", json={"reason": "x"}
    )
    assert (already.status_code, already.json()["code"]) == (409, "dispute_already_open")
