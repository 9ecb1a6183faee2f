"""Engines, sessions and the unit of work: one transaction per request or job."""

from __future__ import annotations

import asyncio
import sqlite3
import traceback
import uuid
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import structlog
from asyncpg import exceptions as pg_errors  # type: ignore[import-untyped]
from sqlalchemy import event
from sqlalchemy import exc as sa_errors
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.util import await_only, greenlet_spawn

from tradetalk import commit_writes
from tradetalk.config import Settings
from tradetalk.errors import CommittedRefusal, DatabaseUnavailable, Overloaded, problem_response
from tradetalk.kit.rawsql import flush_pending
from tradetalk.kit.sqlite_inline import inline_creator
from tradetalk.notifications.outbox import PendingSideEffect
from tradetalk.notifications.repository import PendingFeedNote
from tradetalk.realtime.broker import Delivery
from tradetalk.record.models import RecordEntry

if TYPE_CHECKING:
    from fastapi import FastAPI
    from starlette.requests import Request
    from starlette.responses import Response

    from tradetalk.context import AppContext

log = structlog.get_logger("tradetalk.db")

# What PostgreSQL (through asyncpg) says when it cannot serve a connection: the connection
# failed or was lost (class 08), the server is shutting down, crashed or still starting (57P01
# to 57P03), or it has no connection slot left (53300).
_PG_UNAVAILABLE: tuple[type[BaseException], ...] = (
    pg_errors.PostgresConnectionError,
    pg_errors.AdminShutdownError,
    pg_errors.CrashShutdownError,
    pg_errors.CannotConnectNowError,
    pg_errors.TooManyConnectionsError,
)
# SQLite's own way of being unavailable: the file cannot be opened or read, or another writer
# held the lock past busy_timeout.
_SQLITE_UNAVAILABLE = ("database is locked", "unable to open database file", "disk i/o error")
# Frames of these packages in a traceback mean an OSError or TimeoutError came from talking to
# the database (asyncpg lets a refused or timed-out connect through unwrapped).
_DATABASE_PACKAGES = frozenset({"sqlalchemy", "asyncpg", "aiosqlite"})


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """The exception, the driver error SQLAlchemy wrapped, and what each was raised from."""
    seen: set[int] = set()
    pending: list[BaseException | None] = [exc]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        orig = getattr(current, "orig", None)
        pending += [current.__cause__, orig if isinstance(orig, BaseException) else None]


def _raised_by_database_code(exc: BaseException) -> bool:
    for frame, _ in traceback.walk_tb(exc.__traceback__):
        package = str(frame.f_globals.get("__name__", "")).partition(".")[0]
        if package in _DATABASE_PACKAGES:
            return True
    return False


def is_unavailable(exc: BaseException) -> bool:
    """True when `exc` means the database cannot be reached now, rather than that a statement
    was wrong: a refused or timed-out connect, a connection lost mid-query, a server shutting
    down or starting up, a pool with no connection to give."""
    for cause in _causes(exc):
        if isinstance(cause, (DatabaseUnavailable, sa_errors.TimeoutError, *_PG_UNAVAILABLE)):
            return True
        if isinstance(cause, sa_errors.DBAPIError) and cause.connection_invalidated:
            return True
        if isinstance(cause, sqlite3.OperationalError) and str(cause).lower().startswith(
            _SQLITE_UNAVAILABLE
        ):
            return True
        if isinstance(cause, OSError | TimeoutError) and _raised_by_database_code(cause):
            return True
    return False


def unavailable_from(exc: BaseException) -> DatabaseUnavailable | None:
    """The 503 to raise instead of `exc` when it means the database is away (or, for a pool
    that had no connection to give in time, that this process is overloaded), else None (also
    when `exc` is such a 503 already)."""
    if isinstance(exc, DatabaseUnavailable):
        return None
    if any(isinstance(cause, sa_errors.TimeoutError) for cause in _causes(exc)):
        # SQLAlchemy's pool timeout: the database answers, but every connection was busy.
        log.warning("database pool exhausted", error=f"{type(exc).__name__}: {exc}"[:300])
        return Overloaded()
    if is_unavailable(exc):
        log.warning("database unavailable", error=f"{type(exc).__name__}: {exc}"[:300])
        return DatabaseUnavailable()
    return None


async def database_error_response(request: Request, exc: Exception) -> Response:
    """Exception handler for database errors that escaped a unit of work: a 503 when the
    database is away; anything else goes on to the handler of unexpected errors (a 500)."""
    if (unavailable := unavailable_from(exc)) is None:
        raise exc
    return problem_response(unavailable)


def install_database_error_handler(app: FastAPI) -> None:
    """Answer 503 for a database outage wherever in a request it surfaces: SQLAlchemy's errors,
    and the OSError (TimeoutError included) asyncpg raises unwrapped when it cannot connect."""
    for kind in (sa_errors.SQLAlchemyError, OSError):
        app.add_exception_handler(kind, database_error_response)


def _configure_sqlite(engine: AsyncEngine, *, immediate: bool) -> None:
    """WAL for concurrent readers; writers take the lock up front; readers cannot write.

    A deferred SQLite transaction that reads and then writes fails with SQLITE_BUSY when another
    writer committed in between; BEGIN IMMEDIATE makes writers queue (busy_timeout) instead.
    Statements run on the event loop (kit/sqlite_inline.py), so a write slipped into a read
    session would wait for the writer on the loop: query_only makes it fail at once instead.
    """

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves, below
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=15000")
        if not immediate:
            cursor.execute("PRAGMA query_only=ON")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _asyncpg_options(settings: Settings) -> dict[str, Any]:
    """Driver options: a bounded connect, and no named statements where a pooler in
    transaction mode would hand the next transaction a server connection that lacks them."""
    options: dict[str, Any] = {"timeout": settings.db_connect_timeout_seconds}
    if not settings.db_statement_cache:
        options.update(
            statement_cache_size=0,  # asyncpg's own cache
            prepared_statement_cache_size=0,  # SQLAlchemy's cache on top of it
            # Each statement still goes through one prepare, under a name no other client of
            # the same server connection can have taken.
            prepared_statement_name_func=lambda: f"__tradetalk_{uuid.uuid4().hex}__",
        )
    return options


def _ping_on_checkout(engine: AsyncEngine) -> None:
    """Check a pooled PostgreSQL connection before handing it out, by beginning its transaction.

    SQLAlchemy's own pool_pre_ping costs three round trips on asyncpg (BEGIN, an empty query,
    ROLLBACK), on top of the BEGIN that every unit of work then sends. Every checkout here is
    for a transaction, so the check is that BEGIN, sent at checkout the way SQLAlchemy's asyncpg
    adapter sends it before its first statement (which then finds the transaction open and
    sends none): one round trip for both. A dead connection fails it, and the pool replaces the
    connection unnoticed, as with pool_pre_ping. (The check relies on the adapter's
    `_started` / `_start_transaction`, as kit/rawsql.py does; tests/reliability covers both.)"""

    @event.listens_for(engine.sync_engine, "checkout")
    def _ping(dbapi_connection: Any, _record: ConnectionPoolEntry, _proxy: Any) -> None:
        try:
            if not dbapi_connection._started:
                await_only(dbapi_connection._start_transaction())
        except Exception as exc:
            # The pool discards this connection and draws another (or connects anew).
            raise sa_errors.DisconnectionError(f"pooled connection is dead: {exc!r}") from exc


class Database:
    """The engines of one app: a writer and a reader (the same engine outside SQLite)."""

    def __init__(self, settings: Settings) -> None:
        url = settings.async_database_url
        # Writers of this process take turns here before they begin (SQLite only: it has one
        # writer at a time anyway). Waiting in this FIFO costs nothing; waiting inside SQLite
        # means its busy handler sleeping and retrying, which is slow and unfair under load.
        self.write_lock: asyncio.Lock | None = None
        if settings.is_sqlite:
            creator = inline_creator(url)
            self.write_engine = create_async_engine(
                url, pool_size=5, max_overflow=10, async_creator=creator
            )
            self.read_engine = create_async_engine(
                url, pool_size=5, max_overflow=10, async_creator=creator
            )
            _configure_sqlite(self.write_engine, immediate=True)
            _configure_sqlite(self.read_engine, immediate=False)
            self.write_lock = asyncio.Lock()
        else:
            # Fail fast when PostgreSQL is away: a bounded connect and a bounded wait for a pooled
            # connection; the ping replaces connections that died while idle in the pool (after
            # a restart) instead of failing the request that draws one.
            # Up to twice TRADETALK_DB_POOL_SIZE connections, opened as needed and all kept:
            # as "overflow" (beyond pool_size) they would be closed as soon as they came back,
            # and a steady load just above pool_size then opened a new connection (connect,
            # authenticate, prepare every statement again) for a few sends in a hundred.
            self.write_engine = create_async_engine(
                url,
                pool_size=2 * settings.db_pool_size,
                max_overflow=0,
                pool_timeout=settings.db_pool_timeout_seconds,
                connect_args=_asyncpg_options(settings),
            )
            if settings.db_pool_pre_ping:
                _ping_on_checkout(self.write_engine)
            self.read_engine = self.write_engine
        self.dialect = self.write_engine.dialect.name
        # A unit of work's session is bound to the connection it begins (`unit_of_work`) and
        # joins that transaction: the unit of work commits or rolls back the connection, never
        # the session. (Bound to the engine, as sessions made here directly are.)
        self.write_sessions = async_sessionmaker(
            self.write_engine, expire_on_commit=False, join_transaction_mode="rollback_only"
        )
        self.read_sessions = async_sessionmaker(self.read_engine, expire_on_commit=False)

    async def begin(self) -> AsyncConnection:
        """A connection of the writer's pool with its transaction begun, for a unit of work."""
        return AsyncConnection(
            self.write_engine,
            await greenlet_spawn(_connect_and_begin, self.write_engine.sync_engine),
        )

    async def dispose(self) -> None:
        """Close every pooled connection."""
        await self.write_engine.dispose()
        if self.read_engine is not self.write_engine:
            await self.read_engine.dispose()


def _connect_and_begin(engine: Engine) -> Connection:
    # One greenlet hop for both (AsyncEngine.connect and AsyncConnection.begin take one each).
    connection = engine.connect()
    try:
        connection.begin()
    except BaseException:
        connection.close()
        raise
    return connection


def _end(connection: Connection, commit: bool) -> None:
    # Commit (or roll back) and give the connection back to the pool: one greenlet hop.
    try:
        if commit:
            connection.commit()
        else:
            connection.rollback()
    finally:
        connection.close()


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
    record_entries: list[RecordEntry] = field(default_factory=list)
    feed_notes: list[PendingFeedNote] = field(default_factory=list)
    signals: list[Delivery] = field(default_factory=list)

    def emit(self, event_type: str, data: Mapping[str, Any], *, to: Iterable[str]) -> None:
        """Queue an event for exactly these users; it is stored with the transaction."""
        recipients = frozenset(to)
        if recipients:
            self.events.append(PendingEvent(event_type, data, recipients))

    def signal(self, user_id: str, frame: str) -> None:
        """Queue an ephemeral frame for the user's open streams, published after commit and
        never stored (a rolled-back change signals nothing)."""
        self.signals.append(Delivery(user_id, None, frame))

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

    @asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        """A savepoint: an error inside it undoes what was written inside it, and also drops
        the events, side effects, ledger entries, feed notes and signals queued inside it,
        which would otherwise go out with the commit about changes that never happened."""
        held = self._held()
        marks = [len(items) for items in held]
        try:
            async with self.session.begin_nested():
                yield
        except BaseException:
            for items, mark in zip(held, marks, strict=True):
                del items[mark:]
            raise

    def _held(self) -> tuple[list[Any], ...]:
        # What waits for the commit: a savepoint trims it back, the commit empties it.
        return (self.events, self.side_effects, self.record_entries, self.feed_notes, self.signals)

    def record(self, entry: RecordEntry) -> None:
        """Queue a new ledger entry (record/service.py makes them); it is written with the
        commit, with the events and outbox items (commit_writes.py)."""
        self.record_entries.append(entry)

    def note(self, note: PendingFeedNote) -> None:
        """Queue a new message for a recipient's feed; it is written with the commit."""
        self.feed_notes.append(note)

    async def _commit(self) -> None:
        pending = [(e.type, e.data, e.recipients) for e in self.events]
        deliveries, queued = await commit_writes.write(
            self.session,
            pending,
            self.side_effects,
            self.record_entries,
            self.feed_notes,
            self.now,
        )
        await flush_pending(self.session)
        await _end_transaction(self.session, commit=True)
        # Wake the worker only for what is due now; later items (an unread-message email in
        # five minutes) are found by its regular poll, not by a pass after every send.
        due_now = queued and any(
            item.run_after is None or item.run_after <= self.now for item in self.side_effects
        )
        if self.signals:
            deliveries = [*deliveries, *self.signals]
        for items in self._held():
            items.clear()
        if deliveries:
            await self.ctx.broker.publish(deliveries)
        if due_now:
            self.ctx.outbox_signal.set()


async def _end_transaction(session: AsyncSession, *, commit: bool) -> None:
    """Let go of a unit of work's session, commit or roll back the connection it is bound to,
    and give that connection back to the pool (nothing to do once it is back)."""
    if session.in_transaction():
        await session.close()  # its objects keep their values; the connection ends the work
    connection = session.bind
    assert isinstance(connection, AsyncConnection) and connection.sync_connection is not None
    sync = connection.sync_connection
    if sync.closed:
        return  # released already (the commit failed on the way)
    await greenlet_spawn(_end, sync, commit)


async def _commit(uow: UnitOfWork) -> None:
    try:
        await uow._commit()
    except Exception as exc:
        if (unavailable := unavailable_from(exc)) is not None:
            raise unavailable from exc
        raise


async def _release(session: AsyncSession) -> None:
    """Let go of a unit of work's session and give its connection back to the pool, rolling
    back whatever was not committed (nothing, after a commit)."""
    try:
        await _end_transaction(session, commit=False)
    except Exception as exc:
        # The connection is gone with the database: its transaction went with it.
        if not is_unavailable(exc):
            raise


# The database whose write lock the current task holds: a unit of work opened inside another
# (which SQLite cannot serve anyway) must not wait for its own caller's turn.
_holding_write_lock: ContextVar[Database | None] = ContextVar("holding_write_lock", default=None)


@asynccontextmanager
async def _writer_turn(db: Database) -> AsyncIterator[None]:
    """Wait for this process's turn to write (SQLite), held until the transaction ends."""
    if db.write_lock is None or _holding_write_lock.get() is db:
        yield
        return
    async with db.write_lock:
        token = _holding_write_lock.set(db)
        try:
            yield
        finally:
            _holding_write_lock.reset(token)


@asynccontextmanager
async def unit_of_work(ctx: AppContext) -> AsyncIterator[UnitOfWork]:
    """Open a write transaction; commit on success, roll back on error, then publish.

    The transaction is the connection's, begun here; the session is bound to that connection
    and joins its transaction. Statements of the hot paths run on the connection itself
    (kit/rawsql.py), so a unit of work that runs only those never begins the session's own
    transaction bookkeeping: no session transaction, snapshot or commit pass.

    Losing the database on the way raises DatabaseUnavailable (a 503), whatever the driver."""
    async with _writer_turn(ctx.db):
        try:
            connection = await ctx.db.begin()
        except Exception as exc:
            if (unavailable := unavailable_from(exc)) is not None:
                raise unavailable from exc
            raise
        session = ctx.db.write_sessions(bind=connection)
        uow = UnitOfWork(session=session, ctx=ctx, now=ctx.clock.now())
        try:
            try:
                yield uow
            except CommittedRefusal:
                await _commit(uow)
                raise
            except BaseException as exc:
                if (unavailable := unavailable_from(exc)) is not None:
                    raise unavailable from exc
                raise
            await _commit(uow)
        finally:
            # Rolled back (unless committed) and released before any error goes on.
            await _release(session)


@asynccontextmanager
async def read_session(ctx: AppContext) -> AsyncIterator[AsyncSession]:
    """Open a read-only session (a deferred transaction on SQLite, never blocking writers).

    Losing the database on the way raises DatabaseUnavailable (a 503), whatever the driver."""
    async with ctx.db.read_sessions() as session:
        try:
            yield session  # closing the session ends its transaction
        except Exception as exc:
            if (unavailable := unavailable_from(exc)) is not None:
                raise unavailable from exc
            raise
