"""Engines, sessions and the unit of work: one transaction per request or job."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry

from tradetalk.config import Settings
from tradetalk.errors import CommittedRefusal
from tradetalk.notifications import outbox as outbox_repo
from tradetalk.notifications.outbox import PendingSideEffect
from tradetalk.realtime import repository as events_repo

if TYPE_CHECKING:
    from tradetalk.context import AppContext


def _configure_sqlite(engine: AsyncEngine, *, immediate: bool) -> None:
    """WAL for concurrent readers; writers take the lock up front.

    A deferred SQLite transaction that reads and then writes fails with SQLITE_BUSY when another
    writer committed in between; BEGIN IMMEDIATE makes writers queue (busy_timeout) instead.
    """

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves, below
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=15000")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


class Database:
    """The engines of one app: a writer and a reader (the same engine outside SQLite)."""

    def __init__(self, settings: Settings) -> None:
        url = settings.async_database_url
        if settings.is_sqlite:
            self.write_engine = create_async_engine(url, pool_size=5, max_overflow=10)
            self.read_engine = create_async_engine(url, pool_size=5, max_overflow=10)
            _configure_sqlite(self.write_engine, immediate=True)
            _configure_sqlite(self.read_engine, immediate=False)
        else:
            self.write_engine = create_async_engine(
                url, pool_size=settings.db_pool_size, max_overflow=settings.db_pool_size
            )
            self.read_engine = self.write_engine
        self.dialect = self.write_engine.dialect.name
        self.write_sessions = async_sessionmaker(self.write_engine, expire_on_commit=False)
        self.read_sessions = async_sessionmaker(self.read_engine, expire_on_commit=False)

    async def dispose(self) -> None:
        """Close every pooled connection."""
        await self.write_engine.dispose()
        if self.read_engine is not self.write_engine:
            await self.read_engine.dispose()


@dataclass(slots=True)
class PendingEvent:
    """An event waiting for its transaction to commit."""

    type: str
    data: Mapping[str, Any]
    recipients: frozenset[str]


@dataclass
class UnitOfWork:
    """One transaction: state changes plus the events they cause, released only after commit."""

    session: AsyncSession
    ctx: AppContext
    now: datetime
    events: list[PendingEvent] = field(default_factory=list)
    side_effects: list[PendingSideEffect] = field(default_factory=list)

    def emit(self, event_type: str, data: Mapping[str, Any], *, to: Iterable[str]) -> None:
        """Queue an event for exactly these users; it is stored with the transaction."""
        recipients = frozenset(to)
        if recipients:
            self.events.append(PendingEvent(event_type, data, recipients))

    def outbox(
        self,
        kind: str,
        payload: Mapping[str, Any],
        *,
        run_after: datetime | None = None,
        key: str | None = None,
    ) -> None:
        """Queue a side effect (email, webhook, ...) to run after commit, at most once per key."""
        self.side_effects.append(PendingSideEffect(kind, payload, run_after, key))

    async def _commit(self) -> None:
        pending = [(e.type, e.data, e.recipients) for e in self.events]
        deliveries = await events_repo.store(self.session, pending, self.now)
        queued = await outbox_repo.store(self.session, self.side_effects, self.now)
        await self.session.commit()
        self.events.clear()
        self.side_effects.clear()
        if deliveries:
            await self.ctx.broker.publish(deliveries)
        if queued:
            self.ctx.outbox_signal.set()


@asynccontextmanager
async def unit_of_work(ctx: AppContext) -> AsyncIterator[UnitOfWork]:
    """Open a write transaction; commit on success, roll back on error, then publish."""
    async with ctx.db.write_sessions() as session:
        uow = UnitOfWork(session=session, ctx=ctx, now=ctx.clock.now())
        try:
            yield uow
        except CommittedRefusal:
            await uow._commit()
            raise
        except BaseException:
            await session.rollback()
            raise
        await uow._commit()


@asynccontextmanager
async def read_session(ctx: AppContext) -> AsyncIterator[AsyncSession]:
    """Open a read-only session (a deferred transaction on SQLite, never blocking writers)."""
    async with ctx.db.read_sessions() as session:
        yield session  # closing the session ends its transaction
