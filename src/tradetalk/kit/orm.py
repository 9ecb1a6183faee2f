"""The declarative base and column types every domain's models share."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, TypeVar, cast

from sqlalchemy import BigInteger, DateTime, Dialect, Integer, MetaData, Table
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase, make_transient_to_detached
from sqlalchemy.orm.util import identity_key
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite only auto-increments an INTEGER PRIMARY KEY (the rowid alias), never a BIGINT one.
BigIntId = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every database (SQLite drops the zone otherwise)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; use an aware UTC datetime")
        value = value.astimezone(UTC)
        # SQLite compares datetimes as text, so every stored value must share one format.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    """Base of all tables; constraint names are deterministic for migrations."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def dialect_name(session: AsyncSession) -> str:
    """`sqlite` or `postgresql`: for the few queries that differ by database."""
    return session.get_bind().dialect.name


def table_of(model: type[Any]) -> Table:
    """The table of a mapped class, for Core statements on hot paths (they skip the ORM's
    per-execution work)."""
    return cast(Table, model.__table__)


_Entity = TypeVar("_Entity")


def adopt(session: AsyncSession, entity: _Entity) -> _Entity:
    """Make an entity built from a row just read or written by a raw statement (kit/rawsql.py)
    part of the session, as if the ORM had loaded it: it is in the identity map, clean, and a
    change to it is flushed as an UPDATE. When the session holds that row already, its object
    wins, as it would for an ORM query."""
    sync = session.sync_session
    existing = sync.identity_map.get(identity_key(instance=entity))
    if existing is not None:
        return existing
    make_transient_to_detached(entity)
    sync.add(entity)
    return entity
