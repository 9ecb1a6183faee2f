"""Statements of the send path, run on the session's own driver connection.

Why not through SQLAlchemy like every other query: its execution pipeline (a greenlet hop, an
execution context, the asyncpg cursor adapter, result rows) costs 160-250 µs of CPU per
statement here, against about 60 µs for asyncpg itself (measured on this machine with
`session.execute` against `Connection.fetch` on the same one-row query). A send runs a dozen
statements, so that pipeline was a third of a send's CPU. Statements run through `RawSql` skip
it and nothing else:

- they run on the session's connection, inside its transaction, so that they commit or roll
  back with everything else the unit of work did, and pending ORM changes are flushed first, as
  an ORM query would (autoflush). A unit of work's session is bound to a connection whose
  transaction is begun (db.unit_of_work): they run on it without beginning the session's own
  transaction. A session bound to the engine (a read session) has its connection drawn, and
  its transaction begun, by the first of them;
- errors become the same SQLAlchemy exceptions (IntegrityError, OperationalError, ...) that a
  statement run by SQLAlchemy raises, so every handler above keeps working;
- `before_cursor_execute` listeners still see each statement (the tests that count a hot
  path's queries rely on it);
- values are stored exactly as SQLAlchemy stores them: on SQLite a datetime is UTC text in
  SQLAlchemy's own format (see `kit/orm.UTCDateTime`), which ORM queries read back unchanged.

Only statements whose columns are plain numbers, text, booleans (SQLite answers 0 or 1) and
datetimes belong here; anything else stays with SQLAlchemy. A `:name` inside a quoted literal
would be taken for a placeholder: pass such values as parameters.

A list of values is one parameter, written `IN (:name)` and declared in `lists` with the SQL
type of its items: PostgreSQL gets `= ANY(CAST($n AS type[]))` and the list as an array,
SQLite `IN (SELECT value FROM json_each(:name))` and the list as JSON text. Either way the
statement's text is the same for every length of list, so it is prepared once, where an
expanding IN would be rendered and prepared anew for each length.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Collection, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.util import greenlet_spawn

Row = Sequence[Any]

# Where a session keeps the connection of its current transaction (see `_pooled`).
_CONNECTION_KEY = "tradetalk.rawsql.connection"

# ":name" placeholders (not PostgreSQL's "::type" casts).
_PLACEHOLDER = re.compile(r"(?<![:\w]):([A-Za-z_][A-Za-z0-9_]*)")


class RawSql:
    """One statement written once with `:name` placeholders, for PostgreSQL and SQLite.

    `postgresql` / `sqlite` give a dialect its own text where the two differ; `datetimes`
    are the positions of result columns holding datetimes (SQLite returns them as text)."""

    __slots__ = ("_datetimes", "_lists", "_names", "_postgresql_text", "_sqlite_text")

    def __init__(
        self,
        text: str | None = None,
        *,
        postgresql: str | None = None,
        sqlite: str | None = None,
        datetimes: Collection[int] = (),
        lists: Mapping[str, str] | None = None,
    ) -> None:
        pg_text, sqlite_text = postgresql or text, sqlite or text
        self._lists = frozenset(lists or ())
        for name, item_type in (lists or {}).items():
            written = f"IN (:{name})"
            if not any(written in t for t in (pg_text, sqlite_text) if t):
                raise ValueError(f"list parameter {name!r} is not written as {written!r}")
            if pg_text:
                pg_text = pg_text.replace(written, f"= ANY(CAST(:{name} AS {item_type}[]))")
            if sqlite_text:
                sqlite_text = sqlite_text.replace(
                    written, f"IN (SELECT value FROM json_each(:{name}))"
                )
        names: list[str] = []

        def number(match: re.Match[str]) -> str:
            if match.group(1) not in names:
                names.append(match.group(1))
            return f"${names.index(match.group(1)) + 1}"

        self._postgresql_text = _PLACEHOLDER.sub(number, pg_text) if pg_text else None
        self._names = tuple(names)
        self._sqlite_text = sqlite_text  # sqlite3 takes :name placeholders as they are
        self._datetimes = tuple(sorted(datetimes))

    async def rows(self, session: AsyncSession, **params: Any) -> list[Row]:
        """Every row of the result (an empty list for a statement without one)."""
        connection, pooled = await _pooled(session)
        if connection.dialect.name == "postgresql":
            args = [params[name] for name in self._names]
            rows: list[Row] = await self._postgresql(connection, pooled, "fetch", args)
        else:
            rows = await self._sqlite(
                connection, pooled, "execute", _sqlite_values(params, self._lists)
            )
        if self._datetimes and rows and connection.dialect.name == "sqlite":
            rows = [self._with_datetimes(row) for row in rows]
        return rows

    async def row(self, session: AsyncSession, **params: Any) -> Row | None:
        """The first row, or None."""
        rows = await self.rows(session, **params)
        return rows[0] if rows else None

    async def scalar(self, session: AsyncSession, **params: Any) -> Any:
        """The first column of the first row, or None."""
        rows = await self.rows(session, **params)
        return rows[0][0] if rows else None

    async def many(self, session: AsyncSession, batch: Sequence[Mapping[str, Any]]) -> None:
        """Run the statement once for each set of parameters (one round trip on asyncpg)."""
        if not batch:
            return
        connection, pooled = await _pooled(session)
        if connection.dialect.name == "postgresql":
            args = [[params[name] for name in self._names] for params in batch]
            await self._postgresql(connection, pooled, "executemany", args)
        else:
            values = [_sqlite_values(params, self._lists) for params in batch]
            await self._sqlite(connection, pooled, "executemany", values)

    async def _postgresql(
        self, connection: AsyncConnection, pooled: Any, method: str, args: list[Any]
    ) -> Any:
        if self._postgresql_text is None:
            raise NotImplementedError("this statement has no PostgreSQL text")
        adapted, driver = pooled.dbapi_connection, pooled.driver_connection
        _announce(connection, self._postgresql_text, args)
        try:
            # SQLAlchemy's asyncpg adapter opens its transaction with the first statement it
            # runs; when this is the first, open it the same way, or this would run outside it.
            if not adapted._started:
                await adapted._start_transaction()
            if method == "fetch":
                return list(await driver.fetch(self._postgresql_text, *args))
            return await driver.executemany(self._postgresql_text, args)
        except Exception as error:
            try:
                adapted._handle_exception(error)  # raises the DB-API form of the error
            except Exception as dbapi_error:
                await _raise_as_sqlalchemy(connection, dbapi_error, self._postgresql_text, args)
            raise

    async def _sqlite(
        self, connection: AsyncConnection, pooled: Any, method: str, values: Any
    ) -> Any:
        if self._sqlite_text is None:
            raise NotImplementedError("this statement has no SQLite text")
        raw = pooled.driver_connection.raw
        _announce(connection, self._sqlite_text, values)
        try:
            if method == "execute":
                return raw.execute(self._sqlite_text, values).fetchall()
            return raw.executemany(self._sqlite_text, values)
        except sqlite3.Error as error:
            await _raise_as_sqlalchemy(connection, error, self._sqlite_text, values)
            raise

    def _with_datetimes(self, row: Row) -> Row:
        values = list(row)
        for index in self._datetimes:
            if values[index] is not None:
                values[index] = datetime.fromisoformat(values[index]).replace(tzinfo=UTC)
        return tuple(values)


def _sqlite_values(params: Mapping[str, Any], lists: frozenset[str]) -> dict[str, Any]:
    values = {
        key: sqlite_datetime(value) if isinstance(value, datetime) else value
        for key, value in params.items()
    }
    for name in lists:
        values[name] = json.dumps(list(values[name]))
    return values


def sqlite_datetime(value: datetime) -> str:
    """A datetime as SQLAlchemy's SQLite dialect stores it (UTC, naive, microseconds)."""
    if value.tzinfo is None:
        raise ValueError("naive datetimes are not stored; use an aware UTC datetime")
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


async def flush_pending(session: AsyncSession) -> None:
    """Write the session's new, changed and deleted entities, if it has any (`flush()` is a
    greenlet hop even with nothing to write)."""
    sync_session = session.sync_session
    if sync_session.new or sync_session.dirty or sync_session.deleted:
        await session.flush()


async def _pooled(session: AsyncSession) -> tuple[AsyncConnection, Any]:
    """The session's connection (joining its transaction, beginning it if need be) and the
    pooled driver connection under it."""
    # Autoflush, as an ORM query does: what the transaction has pending (participants just
    # added, say) must be written before a statement that reads or updates those rows.
    await flush_pending(session)
    sync_session = session.sync_session
    bind = session.bind
    if isinstance(bind, AsyncConnection):
        # A unit of work's session: bound to a connection whose transaction is begun already
        # (db.unit_of_work), which the session joins when it runs a query of its own.
        sync = bind.sync_connection
        assert sync is not None
        return bind, (await bind.get_raw_connection() if sync.invalidated else sync.connection)
    # Looked up once per transaction: `session.connection()` is a greenlet hop every time.
    transaction = sync_session.get_transaction()
    known = sync_session.info.get(_CONNECTION_KEY)
    if known is not None and transaction is not None and known[0] is transaction:
        return known[1], known[2]
    connection = await session.connection()
    sync = connection.sync_connection
    assert sync is not None
    # A plain attribute, unless the connection was invalidated and must be replaced (I/O).
    pooled = await connection.get_raw_connection() if sync.invalidated else sync.connection
    sync_session.info[_CONNECTION_KEY] = (sync_session.get_transaction(), connection, pooled)
    return connection, pooled


def _announce(connection: AsyncConnection, statement: str, params: Any) -> None:
    sync = connection.sync_connection
    assert sync is not None
    if sync.dispatch.before_cursor_execute:
        sync.dispatch.before_cursor_execute(sync, None, statement, params, None, False)


async def _raise_as_sqlalchemy(
    connection: AsyncConnection, dbapi_error: Exception, statement: str, params: Any
) -> None:
    """Raise what SQLAlchemy raises for this driver error (and invalidate a dead connection)."""
    sync = connection.sync_connection
    assert sync is not None
    await greenlet_spawn(sync._handle_dbapi_exception, dbapi_error, statement, params, None, None)
