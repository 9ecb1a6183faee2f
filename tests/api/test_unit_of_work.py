"""A unit of work is one transaction on one connection: the raw statements of the hot paths and
the session's ORM work commit together or not at all, and the connection goes back to the pool
either way."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from tradetalk.accounts.models import User
from tradetalk.db import read_session, unit_of_work
from tradetalk.kit.rawsql import RawSql

_ADD_USER = RawSql(
    "INSERT INTO users (id, display_name, email, is_support, token_generation, last_event_id,"
    " created_at, updated_at) VALUES (:id, :name, NULL, false, 0, 0, :at, :at)"
)
_NAME = RawSql("SELECT display_name FROM users WHERE id = :id")

WHEN = datetime(2026, 12, 7, 21, 0, tzinfo=UTC)


async def _stored(app: FastAPI, *user_ids: str) -> set[str]:
    async with read_session(app.state.ctx) as session:
        found = await session.scalars(select(User.id).where(User.id.in_(user_ids)))
        return set(found)


def _checked_out(app: FastAPI) -> int:
    return int(app.state.ctx.db.write_engine.sync_engine.pool.checkedout())


async def test_raw_and_orm_writes_commit_together(app: FastAPI) -> None:
    async with unit_of_work(app.state.ctx) as uow:
        await _ADD_USER.rows(uow.session, id="raw-1", name="Raw", at=WHEN)
        # The session's own queries run in the same transaction and see the raw write ...
        counted = await uow.session.scalar(
            select(func.count()).select_from(User).where(User.id == "raw-1")
        )
        assert counted == 1
        # ... and a raw statement sees what the session has pending (flushed first).
        uow.session.add(User(id="orm-1", display_name="Orm", created_at=WHEN, updated_at=WHEN))
        assert await _NAME.scalar(uow.session, id="orm-1") == "Orm"
        uow.session.add(User(id="orm-2", display_name="Later", created_at=WHEN, updated_at=WHEN))
    # orm-2 was never flushed inside: the commit writes it.
    assert await _stored(app, "raw-1", "orm-1", "orm-2") == {"raw-1", "orm-1", "orm-2"}
    assert _checked_out(app) == 0


async def test_a_unit_of_work_that_fails_keeps_nothing_and_frees_its_connection(
    app: FastAPI,
) -> None:
    with pytest.raises(RuntimeError):
        async with unit_of_work(app.state.ctx) as uow:
            await _ADD_USER.rows(uow.session, id="raw-2", name="Raw", at=WHEN)
            uow.session.add(User(id="orm-3", display_name="Orm", created_at=WHEN, updated_at=WHEN))
            await uow.session.flush()
            raise RuntimeError("the request failed after writing")
    assert await _stored(app, "raw-2", "orm-3") == set()
    assert _checked_out(app) == 0


async def test_a_raw_only_unit_of_work_commits_without_the_sessions_bookkeeping(
    app: FastAPI,
) -> None:
    async with unit_of_work(app.state.ctx) as uow:
        await _ADD_USER.rows(uow.session, id="raw-3", name="Raw", at=WHEN)
        # The statement ran on the unit of work's connection, not through the session.
        assert not uow.session.in_transaction()
    assert await _stored(app, "raw-3") == {"raw-3"}
    assert _checked_out(app) == 0


async def test_a_failed_commit_rolls_back_and_frees_the_connection(app: FastAPI) -> None:
    async with unit_of_work(app.state.ctx) as uow:
        await _ADD_USER.rows(uow.session, id="taken", name="First", at=WHEN)
    with pytest.raises(IntegrityError):
        async with unit_of_work(app.state.ctx) as uow:
            await _ADD_USER.rows(uow.session, id="raw-4", name="Raw", at=WHEN)
            # Written at commit (flushed there), where it breaks the primary key.
            uow.session.add(
                User(id="taken", display_name="Again", created_at=WHEN, updated_at=WHEN)
            )
    assert await _stored(app, "raw-4") == set()
    assert _checked_out(app) == 0


async def test_signals_go_out_only_with_a_commit(app: FastAPI) -> None:
    broker = app.state.ctx.broker
    listening = broker.subscribe("listener")
    with pytest.raises(RuntimeError):
        async with unit_of_work(app.state.ctx) as uow:
            uow.signal("listener", "rolled-back")
            raise RuntimeError("the request failed")
    async with unit_of_work(app.state.ctx) as uow:
        with pytest.raises(RuntimeError):
            async with uow.savepoint():
                uow.signal("listener", "inside a failed savepoint")
                raise RuntimeError("this part failed")
        uow.signal("listener", "committed")
        assert listening.queue.empty()  # nothing before the commit
    received = [listening.queue.get_nowait().frame for _ in range(listening.queue.qsize())]
    assert received == ["committed"]
