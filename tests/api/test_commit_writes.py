"""What a unit of work queues (events, side effects, ledger entries, feed notes) is written with
its commit, all of it or none of it, and a failed savepoint takes back what it queued."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from tests.conftest import SECRET
from tests.fixtures.marketplace import Marketplace
from tradetalk.conversations import repository as conversations_repo
from tradetalk.db import read_session, unit_of_work
from tradetalk.notifications.models import Notification, OutboxItem
from tradetalk.notifications.repository import PendingFeedNote
from tradetalk.realtime.models import Event
from tradetalk.record import chain
from tradetalk.record import service as record_service
from tradetalk.record.models import RecordEntry


async def _rows(app: FastAPI) -> tuple[list[tuple[str, int, str]], list[str | None], int]:
    async with read_session(app.state.ctx) as session:
        events = [
            (e.user_id, e.id, e.type)
            for e in await session.scalars(select(Event).order_by(Event.user_id, Event.id))
        ]
        keys = list(await session.scalars(select(OutboxItem.idempotency_key)))
        entries = await session.scalar(select(func.count()).select_from(RecordEntry))
    return events, keys, int(entries or 0)


async def test_an_event_for_two_commits_with_its_side_effects_and_ledger_entry(
    app: FastAPI, market: Marketplace
) -> None:
    deal = await market.transaction()
    cid = await market.conversation_id(deal)
    buyer, seller = deal.buyer.id, deal.seller.id
    events_before, keys_before, entries_before = await _rows(app)
    async with unit_of_work(app.state.ctx) as uow:
        uow.outbox("webhook", {"n": 1}, key="once")
    async with unit_of_work(app.state.ctx) as uow:
        await conversations_repo.lock(uow.session, cid)
        uow.emit("test.happened", {"n": 2}, to=[seller, buyer])
        uow.outbox("webhook", {"n": 2}, key="once")  # queued already: skipped
        uow.outbox("email", {"n": 2}, key="fresh")
        uow.outbox("email", {"n": 3})
        await record_service.append(uow, cid, "test.happened", {"n": 2})
    events, keys, entries = await _rows(app)
    new_events = [e for e in events if e not in events_before]
    assert sorted((user, kind) for user, _, kind in new_events) == [
        (buyer, "test.happened"),
        (seller, "test.happened"),
    ]
    # Each recipient's stream goes on from its last id, without a gap.
    for user in (buyer, seller):
        last_before = max((i for u, i, _ in events_before if u == user), default=0)
        assert [i for u, i, _ in new_events if u == user] == [last_before + 1]
    assert sorted(k or "" for k in keys if k not in keys_before) == ["", "fresh", "once"]
    assert entries == entries_before + 1
    document = (await deal.buyer.client.get(f"/v1/conversations/{cid}/transcript")).json()
    assert chain.verify(document, key=chain.seal_key(SECRET.encode())).ok


async def test_a_failed_savepoint_takes_back_what_it_queued(
    app: FastAPI, market: Marketplace
) -> None:
    deal = await market.transaction()
    cid = await market.conversation_id(deal)
    await market.send(deal.buyer, cid, "Still available?")
    events_before, keys_before, entries_before = await _rows(app)
    async with unit_of_work(app.state.ctx) as uow:
        await conversations_repo.lock(uow.session, cid)
        uow.emit("test.kept", {}, to=[deal.buyer.id, deal.seller.id])
        with pytest.raises(RuntimeError):
            async with uow.savepoint():
                uow.emit("test.dropped", {}, to=[deal.buyer.id, deal.seller.id])
                uow.outbox("email", {}, key="dropped")
                uow.note(_note(deal.seller.id, cid, "dropped"))
                await record_service.append(uow, cid, "test.dropped", {})
                raise RuntimeError("the change failed")
        await record_service.append(uow, cid, "test.kept", {})
    events, keys, entries = await _rows(app)
    assert {kind for e in events if e not in events_before for kind in [e[2]]} == {"test.kept"}
    assert [k for k in keys if k not in keys_before] == []
    assert entries == entries_before + 1
    assert "dropped" not in [body for _, _, body, _ in await _feed(app, deal.seller.id)]
    # The kept entry follows the stored head, not the one the savepoint dropped.
    document = (await deal.buyer.client.get(f"/v1/conversations/{cid}/transcript")).json()
    result = chain.verify(document, key=chain.seal_key(SECRET.encode()))
    assert result.ok, result.problem
    assert [e["kind"] for e in document["entries"]][-1] == "test.kept"


def _note(user_id: str, cid: int, body: str) -> PendingFeedNote:
    return PendingFeedNote(
        user_id, "message", cid, title="New message", fold_title="{count} new messages", body=body
    )


async def _feed(app: FastAPI, user_id: str) -> list[tuple[int | None, int, str, str]]:
    async with read_session(app.state.ctx) as session:
        items = await session.scalars(
            select(Notification).where(Notification.user_id == user_id).order_by(Notification.id)
        )
        return [(n.conversation_id, n.count, n.body, n.title) for n in items]


async def test_feed_notes_are_written_with_the_commit_and_fold_into_the_unseen_item(
    app: FastAPI, market: Marketplace
) -> None:
    deal = await market.transaction()
    other = await market.transaction(seller=deal.seller)
    cid, other_cid = await market.conversation_id(deal), await market.conversation_id(other)
    buyer, seller = deal.buyer.id, deal.seller.id
    # With one event for two (on PostgreSQL, the single statement at commit) ...
    async with unit_of_work(app.state.ctx) as uow:
        await conversations_repo.lock(uow.session, cid)
        uow.emit("test.happened", {}, to=[seller, buyer])
        uow.note(_note(seller, cid, "first"))
        assert await _feed(app, seller) == []  # nothing before the commit
    assert await _feed(app, seller) == [(cid, 1, "first", "New message")]
    async with unit_of_work(app.state.ctx) as uow:
        await conversations_repo.lock(uow.session, cid)
        uow.emit("test.happened", {}, to=[seller, buyer])
        uow.note(_note(seller, cid, "second"))
    assert await _feed(app, seller) == [(cid, 2, "second", "2 new messages")]
    # ... and otherwise (two notes, no event), one statement each.
    async with unit_of_work(app.state.ctx) as uow:
        uow.note(_note(seller, cid, "third"))
        uow.note(_note(seller, other_cid, "elsewhere"))
    assert await _feed(app, seller) == [
        (cid, 3, "third", "3 new messages"),
        (other_cid, 1, "elsewhere", "New message"),
    ]
    # A unit of work that fails writes none.
    with pytest.raises(RuntimeError):
        async with unit_of_work(app.state.ctx) as uow:
            uow.emit("test.happened", {}, to=[seller, buyer])
            uow.note(_note(seller, cid, "lost"))
            raise RuntimeError("the change failed")
    assert [body for _, _, body, _ in await _feed(app, seller)] == ["third", "elsewhere"]
