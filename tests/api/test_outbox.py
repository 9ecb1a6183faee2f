"""Side effects are stored with the transaction, once per key, and never on rollback."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from sqlalchemy import select

from tradetalk.db import read_session, unit_of_work
from tradetalk.notifications.models import OutboxItem


async def _outbox(app: FastAPI) -> list[OutboxItem]:
    async with read_session(app.state.ctx) as session:
        return list(await session.scalars(select(OutboxItem).order_by(OutboxItem.id)))


async def test_side_effects_commit_once_per_key_and_wake_the_worker(app: FastAPI) -> None:
    ctx = app.state.ctx
    ctx.outbox_signal.clear()
    async with unit_of_work(ctx) as uow:
        uow.outbox("webhook", {"type": "x"}, key="k-1")
        uow.outbox("webhook", {"type": "x"}, key="k-1")
        uow.outbox("email", {"to": "u"})
    assert ctx.outbox_signal.is_set()
    async with unit_of_work(ctx) as uow:
        uow.outbox("webhook", {"type": "x"}, key="k-1")
    items = await _outbox(app)
    assert [(i.kind, i.idempotency_key, i.status) for i in items] == [
        ("webhook", "k-1", "pending"),
        ("email", None, "pending"),
    ]


async def test_rolled_back_work_queues_nothing(app: FastAPI) -> None:
    ctx = app.state.ctx
    ctx.outbox_signal.clear()
    with pytest.raises(RuntimeError):
        async with unit_of_work(ctx) as uow:
            uow.outbox("email", {"to": "u"})
            raise RuntimeError("the change failed")
    assert await _outbox(app) == []
    assert not ctx.outbox_signal.is_set()
