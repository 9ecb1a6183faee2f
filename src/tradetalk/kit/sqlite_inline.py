"""SQLite for the async engine without a thread hop per statement.

SQLAlchemy's async SQLite driver, aiosqlite, runs every statement on a thread of its own and
wakes the event loop when it is done. A statement on a local SQLite file takes microseconds;
the hop costs far more: profiling sends under load (py-spy, `bench/send.py`) put about 30% of
the server's CPU in queue hand-offs and GIL switches between the loop and those threads, some
twenty per message. No maintained driver runs SQLite inline on the loop (aiosqlite is the only
async one), so this module gives SQLAlchemy an aiosqlite-shaped connection that does.

Running inline is safe because nothing a statement waits for can be on this event loop:

- WAL mode: readers never wait for the writer, the writer never waits for readers;
- writers of this process queue on `Database.write_lock` (an asyncio lock) before they begin,
  so two of them never meet inside SQLite;
- the one statement that may wait, `BEGIN IMMEDIATE` (for a writer in another process: a
  separate `tradetalk worker`, a CLI command), is first tried without waiting; only when
  another process holds the lock is it retried on a worker thread, where SQLite's busy timeout
  can sleep without stopping the loop. Once it returns, this connection holds the write lock
  and nothing else it runs can wait.

Fast is not the same as short, though: a query whose cost grows with the whole database (a
full-text search for a common word over a million messages takes a few hundred milliseconds)
would stop every other request for that long. Such queries are run inside `off_the_loop()`,
which sends their statements and fetches to a worker thread.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

from sqlalchemy.dialects.sqlite.aiosqlite import dialect as aiosqlite_dialect
from sqlalchemy.engine import make_url

# Statements that may wait for another process's writer (busy_timeout): off the loop.
_MAY_WAIT = ("BEGIN IMMEDIATE", "BEGIN EXCLUSIVE")


_T = TypeVar("_T")

# Set inside `off_the_loop()`: this task's statements and fetches go to a worker thread.
_off_the_loop: ContextVar[bool] = ContextVar("sqlite_off_the_loop", default=False)


@contextmanager
def off_the_loop() -> Iterator[None]:
    """Run the SQLite statements of this block on a worker thread, for a query whose cost
    grows with the whole database; with any other driver it changes nothing."""
    token = _off_the_loop.set(True)
    try:
        yield
    finally:
        _off_the_loop.reset(token)


class _InlineQueue:
    """Stands in for aiosqlite's request queue, which SQLAlchemy uses directly to set the
    isolation level: run the function now and settle the future."""

    def put_nowait(self, item: tuple[asyncio.Future[Any], Callable[[], Any]]) -> None:
        future, function = item
        try:
            future.set_result(function())
        except Exception as exc:
            future.set_exception(exc)


class InlineCursor:
    """An aiosqlite-shaped cursor whose methods run on the calling thread."""

    def __init__(self, cursor: sqlite3.Cursor, connection: InlineConnection) -> None:
        self._cursor = cursor
        self._owner = connection

    async def execute(self, sql: str, parameters: Sequence[Any] | None = None) -> InlineCursor:
        """Run one statement (a BEGIN that must wait for another process does so on a thread)."""
        if not parameters and sql.lstrip()[:15].upper().startswith(_MAY_WAIT):
            await self._begin(sql)
        elif _off_the_loop.get():
            await self._on_thread(self._cursor.execute, sql, parameters or ())
        elif parameters is None:
            self._cursor.execute(sql)
        else:
            self._cursor.execute(sql, parameters)
        return self

    async def _on_thread(self, function: Callable[..., _T], *args: Any) -> _T:
        try:
            return await asyncio.to_thread(function, *args)
        except asyncio.CancelledError:
            # The request is gone but the thread still runs the query on this connection,
            # which SQLAlchemy is about to roll back and reuse: stop the query now.
            self._cursor.connection.interrupt()
            raise

    async def _begin(self, sql: str) -> None:
        connection = self._cursor.connection
        busy_ms = self._owner.busy_timeout_ms()
        connection.execute("PRAGMA busy_timeout=0")
        try:
            self._cursor.execute(sql)
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
        finally:
            connection.execute(f"PRAGMA busy_timeout={busy_ms}")
        await asyncio.to_thread(self._cursor.execute, sql)

    async def executemany(self, sql: str, parameters: Iterable[Sequence[Any]]) -> InlineCursor:
        """Run one statement for each set of parameters."""
        self._cursor.executemany(sql, parameters)
        return self

    async def fetchone(self) -> Any:
        """The next row, or None."""
        if _off_the_loop.get():
            return await self._on_thread(self._cursor.fetchone)
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        """Up to `size` rows."""
        size = self._cursor.arraysize if size is None else size
        if _off_the_loop.get():
            return await self._on_thread(self._cursor.fetchmany, size)
        return self._cursor.fetchmany(size)

    async def fetchall(self) -> list[Any]:
        """Every remaining row."""
        if _off_the_loop.get():
            return await self._on_thread(self._cursor.fetchall)
        return self._cursor.fetchall()

    async def close(self) -> None:
        """Release the cursor."""
        self._cursor.close()

    @property
    def description(self) -> Any:
        """Column descriptions of the last query (DB-API)."""
        return self._cursor.description

    @property
    def lastrowid(self) -> int | None:
        """Row id of the last inserted row (DB-API)."""
        return self._cursor.lastrowid

    @property
    def rowcount(self) -> int:
        """Rows the last statement changed (DB-API)."""
        return self._cursor.rowcount


class InlineConnection:
    """An aiosqlite-shaped connection over a plain sqlite3 connection, used on the loop."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._conn = connection
        self._tx = _InlineQueue()
        self._busy_ms: int | None = None

    def busy_timeout_ms(self) -> int:
        """The busy timeout set on this connection (read once; it is set when connecting)."""
        if self._busy_ms is None:
            self._busy_ms = int(self._conn.execute("PRAGMA busy_timeout").fetchone()[0])
        return self._busy_ms

    @property
    def raw(self) -> sqlite3.Connection:
        """The sqlite3 connection itself (kit/rawsql.py runs hot statements on it directly)."""
        return self._conn

    @property
    def isolation_level(self) -> str | None:
        """The sqlite3 module's transaction handling (None: we issue BEGIN ourselves)."""
        return self._conn.isolation_level

    async def cursor(self) -> InlineCursor:
        """A new cursor."""
        return InlineCursor(self._conn.cursor(), self)

    async def execute(self, sql: str, parameters: Sequence[Any] | None = None) -> InlineCursor:
        """Run one statement on a new cursor."""
        cursor = await self.cursor()
        return await cursor.execute(sql, parameters)

    async def commit(self) -> None:
        """Commit (in WAL mode with synchronous=NORMAL: an append to the log, no fsync)."""
        self._conn.commit()

    async def rollback(self) -> None:
        """Roll back."""
        self._conn.rollback()

    async def create_function(self, *args: Any, **kwargs: Any) -> None:
        """Register a Python function with SQLite."""
        self._conn.create_function(*args, **kwargs)

    async def close(self) -> None:
        """Close the connection."""
        self._conn.close()

    def stop(self) -> None:
        """Close at once (SQLAlchemy's terminate)."""
        self._conn.close()


def inline_creator(url: str) -> Callable[[], Awaitable[InlineConnection]]:
    """An `async_creator` for `create_async_engine`: connections to the SQLite database of
    this URL that run their statements on the event loop."""
    # The dialect reads the URL as SQLAlchemy always has (relative paths, `file:` URIs with
    # `?uri=true`, `?mode=ro`, `?timeout=`), so operators' URLs mean what they meant before.
    args, kwargs = aiosqlite_dialect().create_connect_args(make_url(url))
    database: str = args[0]
    # check_same_thread=False: BEGIN IMMEDIATE may run on a worker thread (see above).
    options: dict[str, Any] = {**kwargs, "check_same_thread": False}

    async def connect() -> InlineConnection:
        return InlineConnection(sqlite3.connect(database, **options))

    return connect
