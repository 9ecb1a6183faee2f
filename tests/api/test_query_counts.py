"""Hot paths issue a fixed number of queries, however much data a page holds (no N+1)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi import FastAPI
from sqlalchemy import event

from tests.fixtures.marketplace import Marketplace, TestUser


@contextmanager
def count_queries(app: FastAPI) -> Iterator[list[str]]:
    statements: list[str] = []
    engines = {app.state.ctx.db.write_engine.sync_engine, app.state.ctx.db.read_engine.sync_engine}

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if not statement.lstrip().upper().startswith(("BEGIN", "PRAGMA")):
            statements.append(statement)

    for engine in engines:
        event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", record)


async def _seller_with_conversations(market: Marketplace, count: int) -> TestUser:
    seller = await market.user()
    for _ in range(count):
        deal = await market.transaction(seller=seller)
        cid = await market.conversation_id(deal)
        await market.send(deal.buyer, cid, "is this available?")
    return seller


async def test_inbox_queries_do_not_grow_with_the_page(app: FastAPI, market: Marketplace) -> None:
    small = await _seller_with_conversations(market, 1)
    large = await _seller_with_conversations(market, 12)
    with count_queries(app) as one:
        assert len((await small.client.get("/v1/conversations")).json()["items"]) == 1
    with count_queries(app) as many:
        assert len((await large.client.get("/v1/conversations")).json()["items"]) == 12
    assert len(one) == len(many)
    assert len(many) <= 5  # auth, page, members, last messages, their attachments


async def test_history_and_send_use_a_fixed_number_of_queries(
    app: FastAPI, market: Marketplace
) -> None:
    deal = await market.transaction()
    cid = await market.conversation_id(deal)
    for i in range(15):
        await market.send(deal.buyer, cid, f"note {i}")
    with count_queries(app) as page:
        await deal.seller.client.get(f"/v1/conversations/{cid}/messages")
    assert len(page) <= 4  # auth, visibility, page, attachments of the page
    with count_queries(app) as send:
        await market.send(deal.seller, cid, "thanks!")
    # auth, visibility (conversation, dispute access), members, restrictions, shield history,
    # seq, insert, activity, record head and entry, notification preferences and feed
    # (lookup, write), event ids and events, outbox. PostgreSQL runs some of them together:
    # auth, the members and their notification preferences come with the visibility check;
    # restrictions with shield history; seq, insert, activity and the record's head; and at
    # commit the record entry, feed write, event ids, events and outbox in one.
    postgres = app.state.ctx.db.dialect == "postgresql"
    assert len(send) <= (4 if postgres else 16), [s[:60] for s in send]
    with count_queries(app) as buyer_send:
        await market.send(deal.buyer, cid, "see you then")
    # A buyer's message also asks who spoke before it (the seller's reminders start from a
    # buyer's first unanswered message); on PostgreSQL the append reads it.
    assert len(buyer_send) <= (4 if postgres else 17), [s[:60] for s in buyer_send]
    with count_queries(app) as send_with_id:
        await market.send(deal.seller, cid, "and again", client_message_id="c-1")
    # ... and for a client id, one look-up (under the conversation's lock, which the
    # visibility check takes on PostgreSQL, where the look-up comes with the restrictions)
    assert len(send_with_id) <= len(send) + (0 if postgres else 1), [s[:60] for s in send_with_id]
