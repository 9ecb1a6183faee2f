"""On PostgreSQL an email about unread messages and a send in the same thread take their locks
in one order: neither can deadlock the other (found by tests/reliability/test_worker_crash.py,
where sends failed with 500 "deadlock detected")."""

from __future__ import annotations

import asyncio

import pytest
from fastapi import FastAPI
from sqlalchemy import text

from tests.fixtures.marketplace import Marketplace
from tradetalk.conversations import repository as conversations_repo
from tradetalk.db import read_session, unit_of_work
from tradetalk.notifications import repository as notifications_repo


async def _waiting_for_a_lock(app: FastAPI) -> int:
    async with read_session(app.state.ctx) as session:
        waiting = await session.scalar(
            text(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
        )
        return int(waiting or 0)


# Concurrent writers exist only on PostgreSQL (SQLite takes one writer at a time).
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_an_unread_email_and_a_send_in_its_thread_do_not_deadlock(
    app: FastAPI, market: Marketplace
) -> None:
    ctx = app.state.ctx
    deal = await market.transaction()
    conversation_id = await market.conversation_id(deal)
    await market.send(deal.buyer, conversation_id, "Is the coin graded?")
    seller = deal.seller.id

    async with asyncio.timeout(30):
        # A send with a client id holds the conversation's row lock from its start...
        async with unit_of_work(ctx) as send:
            await conversations_repo.lock(send.session, conversation_id)

            # ...while the worker emails the seller: it locks their settings and then records
            # the email cursor, whose foreign key waits for the send's conversation lock.
            async def email_the_seller() -> None:
                async with unit_of_work(ctx) as email:
                    await notifications_repo.settings_for_update(email.session, seller, email.now)
                    await notifications_repo.advance_email_cursors(
                        email.session, seller, {conversation_id: 1}
                    )

            emailing = asyncio.create_task(email_the_seller())
            while not await _waiting_for_a_lock(app):
                assert not emailing.done(), emailing.exception()
                await asyncio.sleep(0.02)
            # The send commits: its event ids are reserved on the members' user rows. Had the
            # email locked the seller's user row, each would now wait for the other.
            send.emit("test.event", {}, to=[deal.buyer.id, seller])
        await emailing
