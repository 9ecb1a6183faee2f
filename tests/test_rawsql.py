"""Statements run on the driver connection behave as if SQLAlchemy had run them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import event, func, select
from sqlalchemy.exc import IntegrityError

from tradetalk.accounts import repository as users_repo
from tradetalk.accounts.models import User
from tradetalk.config import Settings
from tradetalk.db import Database
from tradetalk.kit.orm import UntrackedChange
from tradetalk.kit.rawsql import RawSql

_ADD_USER = RawSql(
    "INSERT INTO users (id, display_name, email, is_support, token_generation, last_event_id,"
    " created_at, updated_at) VALUES (:id, :name, NULL, :is_support, 0, 0, :at, :at)"
)
_TIMES = RawSql("SELECT created_at, updated_at FROM users WHERE id = :id", datetimes=[0, 1])
_COUNT = RawSql("SELECT count(*) FROM users WHERE id = :id")
_TOUCH = RawSql("UPDATE users SET updated_at = :at WHERE id = :id RETURNING id")

WHEN = datetime(2026, 12, 7, 3, 4, 5, 600, tzinfo=UTC)


@pytest_asyncio.fixture
async def database(settings: Settings) -> AsyncIterator[Database]:
    db = Database(settings)
    try:
        yield db
    finally:
        await db.dispose()


async def _count(db: Database, user_id: str) -> int:
    async with db.read_sessions() as session:
        query = select(func.count()).select_from(User).where(User.id == user_id)
        return int((await session.execute(query)).scalar_one())


async def test_the_first_statement_of_a_transaction_rolls_back_with_it(database: Database) -> None:
    async with database.write_sessions() as session:
        await _ADD_USER.rows(session, id="ann", name="Ann", is_support=False, at=WHEN)
        assert await _COUNT.scalar(session, id="ann") == 1
        await session.rollback()
    assert await _count(database, "ann") == 0

    async with database.write_sessions() as session:
        await _ADD_USER.rows(session, id="ann", name="Ann", is_support=False, at=WHEN)
        session.add(User(id="bob", display_name="Bob", created_at=WHEN, updated_at=WHEN))
        await session.commit()
    assert await _count(database, "ann") == 1
    assert await _count(database, "bob") == 1


async def test_pending_orm_rows_are_written_before_a_raw_statement(database: Database) -> None:
    async with database.write_sessions() as session:
        session.add(User(id="cat", display_name="Cat", created_at=WHEN, updated_at=WHEN))
        assert await _COUNT.scalar(session, id="cat") == 1
        await session.commit()


async def test_datetimes_round_trip_and_compare_like_sqlalchemy_ones(database: Database) -> None:
    later = WHEN + timedelta(hours=5, microseconds=1)
    async with database.write_sessions() as session:
        session.add(User(id="orm", display_name="Orm", created_at=WHEN, updated_at=WHEN))
        await _ADD_USER.rows(session, id="raw", name="Raw", is_support=True, at=WHEN)
        assert await _TOUCH.scalar(session, id="raw", at=later) == "raw"
        await session.commit()
    async with database.read_sessions() as session:
        # The ORM reads what the raw statement wrote, aware and exact...
        raw_user = await session.get(User, "raw")
        assert raw_user is not None
        assert (raw_user.created_at, raw_user.updated_at, raw_user.is_support) == (
            WHEN,
            later,
            True,
        )
        # ...and compares it with what the ORM wrote (SQLite compares these as text).
        newer = select(User.id).where(User.updated_at > WHEN).order_by(User.id)
        assert list(await session.scalars(newer)) == ["raw"]
        same = select(User.id).where(User.created_at == WHEN).order_by(User.id)
        assert list(await session.scalars(same)) == ["orm", "raw"]
        # A raw read of the ORM's row gives the same aware datetimes.
        assert tuple(await _TIMES.row(session, id="orm") or ()) == (WHEN, WHEN)
        assert tuple(await _TIMES.row(session, id="raw") or ()) == (WHEN, later)


async def test_driver_errors_are_the_errors_sqlalchemy_raises(database: Database) -> None:
    async with database.write_sessions() as session:
        await _ADD_USER.rows(session, id="dan", name="Dan", is_support=False, at=WHEN)
        with pytest.raises(IntegrityError):
            await _ADD_USER.rows(session, id="dan", name="Dan again", is_support=False, at=WHEN)
        await session.rollback()
    async with database.write_sessions() as session:  # the connection is fine afterwards
        await _ADD_USER.rows(session, id="dan", name="Dan", is_support=False, at=WHEN)
        await session.commit()
    assert await _count(database, "dan") == 1


async def test_many_runs_once_per_row(database: Database) -> None:
    async with database.write_sessions() as session:
        await _ADD_USER.many(
            session,
            [
                {"id": f"u{i}", "name": f"User {i}", "is_support": False, "at": WHEN}
                for i in range(3)
            ],
        )
        await session.commit()
    assert [await _count(database, f"u{i}") for i in range(4)] == [1, 1, 1, 0]


async def test_statement_listeners_see_raw_statements(database: Database) -> None:
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    engine = database.write_engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        async with database.write_sessions() as session:
            await _COUNT.scalar(session, id="eve")
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert any("SELECT count(*) FROM users" in statement for statement in seen)


_NAMES_OF = RawSql(
    "SELECT id FROM users WHERE id IN (:ids) AND is_support = :support ORDER BY id",
    lists={"ids": "VARCHAR"},
)


async def test_a_list_parameter_matches_its_items_whatever_its_length(database: Database) -> None:
    async with database.write_sessions() as session:
        for name in ("ann", "bob", "cy", "dee"):
            await _ADD_USER.rows(session, id=name, name=name, is_support=name == "dee", at=WHEN)
        for ids, expected in [
            (["bob", "ann", "zed"], ["ann", "bob"]),
            (["cy"], ["cy"]),
            ([], []),
            (["dee", "cy"], ["cy"]),  # dee is support: the other condition still applies
            (["o'hara", 'a"b', "ann"], ["ann"]),  # quotes are data, not SQL
        ]:
            rows = await _NAMES_OF.rows(session, ids=ids, support=False)
            assert [row[0] for row in rows] == expected, ids


def test_a_list_parameter_must_be_written_as_in_a_list() -> None:
    with pytest.raises(ValueError, match="IN \\(:ids\\)"):
        RawSql("SELECT id FROM users WHERE id = ANY(:ids)", lists={"ids": "VARCHAR"})


async def test_rows_read_raw_are_read_only_and_orm_rows_still_change(database: Database) -> None:
    async with database.write_sessions() as session:
        await _ADD_USER.rows(session, id="dan", name="Dan", is_support=False, at=WHEN)
        read_raw = await users_repo.load(session, "dan")
        assert read_raw is not None and read_raw.display_name == "Dan"
        assert read_raw not in session  # the session neither tracks nor detaches it
        with pytest.raises(UntrackedChange, match="display_name"):
            read_raw.display_name = "Daniel"  # would be lost at commit: refused instead
        assert read_raw.display_name == "Dan"
        # The ORM's own entities of the same class are not affected.
        loaded = await session.get(User, "dan")
        assert loaded is not None and loaded is not read_raw
        loaded.display_name = "Daniel"
        session.add(User(id="eve", display_name="Eve", created_at=WHEN, updated_at=WHEN))
        await session.commit()
    async with database.read_sessions() as session:
        assert (await session.get(User, "dan")).display_name == "Daniel"  # type: ignore[union-attr]
        assert await session.get(User, "eve") is not None
