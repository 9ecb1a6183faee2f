"""The embedded SQLite database runs statements on the event loop (tradetalk.kit.sqlite_inline):
writers of the app take turns, a writer of another process never stalls the loop, and a read
session cannot write."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import event, select, text

from tests.fixtures.marketplace import Marketplace
from tradetalk.config import Settings
from tradetalk.conversations.models import Message
from tradetalk.db import read_session

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def _path(settings: Settings) -> str:
    return settings.database_url.removeprefix("sqlite:///")


async def test_concurrent_sends_all_land_in_order(app: FastAPI, market: Marketplace) -> None:
    deal = await market.transaction()
    cid = await market.conversation_id(deal)
    sends = [
        market.send(
            deal.buyer if i % 2 else deal.seller, cid, f"note {i}", client_message_id=str(i)
        )
        for i in range(40)
    ]
    sent = await asyncio.gather(*sends)
    async with read_session(app.state.ctx) as session:
        rows = (await session.execute(select(Message.seq, Message.body))).all()
    assert sorted(seq for seq, _ in rows) == list(range(1, 41))
    assert {body for _, body in rows} == {m["body"] for m in sent}


async def test_a_writer_elsewhere_holds_the_send_without_stalling_the_server(
    app: FastAPI, market: Marketplace, settings: Settings
) -> None:
    deal = await market.transaction()
    cid = await market.conversation_id(deal)
    other_process = sqlite3.connect(_path(settings), isolation_level=None)
    try:
        other_process.execute("BEGIN IMMEDIATE")  # as a `tradetalk worker` mid-transaction
        send = asyncio.create_task(market.send(deal.buyer, cid, "waiting for the lock"))
        await asyncio.sleep(0.3)
        assert not send.done()
        # The server still answers reads while the send waits for the other writer.
        history = await asyncio.wait_for(
            deal.seller.client.get(f"/v1/conversations/{cid}/messages"), timeout=5
        )
        assert history.status_code == 200 and history.json()["items"] == []
        other_process.execute("COMMIT")
        sent = await asyncio.wait_for(send, timeout=10)
    finally:
        other_process.close()
    history = await deal.seller.client.get(f"/v1/conversations/{cid}/messages")
    assert [m["id"] for m in history.json()["items"]] == [sent["id"]]


async def test_a_read_session_cannot_write(app: FastAPI) -> None:
    async with read_session(app.state.ctx) as session:
        with pytest.raises(Exception, match="readonly"):
            await session.execute(text("DELETE FROM messages"))


async def test_a_slow_search_does_not_hold_up_other_requests(
    app: FastAPI, market: Marketplace
) -> None:
    deal = await market.transaction()
    cid = await market.conversation_id(deal)
    await market.send(deal.buyer, cid, "is the silver coin still available")
    # Every full-text statement now takes half a second inside SQLite, as a search for a
    # common word over millions of messages would.
    engine = app.state.ctx.db.read_engine
    await engine.dispose()
    in_full_text = threading.Event()

    @event.listens_for(engine.sync_engine, "connect")
    def _slow_full_text(dbapi_connection: Any, _record: Any) -> None:
        def trace(sql: str) -> None:
            if "messages_fts" in sql:
                in_full_text.set()
                time.sleep(0.5)

        raw: sqlite3.Connection = dbapi_connection.driver_connection._conn
        raw.set_trace_callback(trace)

    search = asyncio.create_task(deal.seller.client.get("/v1/search", params={"q": "silver"}))
    assert await asyncio.to_thread(in_full_text.wait, 10)
    await market.send(deal.seller, cid, "yes, still here")
    assert not search.done()  # the reply went through while the search was still running

    found = await search
    assert found.status_code == 200
    assert [hit["body"] for hit in found.json()["items"]] == ["is the silver coin still available"]

    # A search given up half way (the client went away) leaves its connection fit for reuse.
    in_full_text.clear()
    abandoned = asyncio.create_task(deal.seller.client.get("/v1/search", params={"q": "coin"}))
    assert await asyncio.to_thread(in_full_text.wait, 10)
    abandoned.cancel()
    with pytest.raises(asyncio.CancelledError):
        await abandoned
    again = await deal.buyer.client.get("/v1/search", params={"q": "still"})
    assert again.status_code == 200
    assert len(again.json()["items"]) == 2
