"""The declarative base and column types every domain's models share."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

from sqlalchemy import BigInteger, DateTime, Dialect, Integer, MetaData, Table, event
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase
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

# Set on an entity that `untracked_row` built; its classes refuse changes to such entities.
_UNTRACKED = "_tradetalk_untracked"
_guarded_classes: set[type[Any]] = set()


class UntrackedChange(RuntimeError):
    """A column of an entity the session does not track was set: the change would be lost."""


def untracked_row(cls: type[_Entity], values: Mapping[str, Any]) -> _Entity:
    """An entity of `cls` holding the column values of a row that a raw statement
    (kit/rawsql.py) read or wrote: not added to the session, and read-only (setting a column
    raises UntrackedChange). Built the way the ORM builds an entity it loads: no constructor
    and no attribute events, the values put straight into the instance's dictionary (its
    state's).

    Why not added to the session as if the ORM had loaded it (identity map, clean state,
    flushed when changed), as these entities once were: the hot paths that build them only
    read them, and that bookkeeping, with detaching them again when the session closes, cost
    work for nothing; nor built through the constructor, whose attribute events cost more
    than the rest (0.7% and 6-7% of the app's instructions per send, bench/send_callgrind.py).
    Code that changes a row loads it with the ORM (`session.get`, `select`); a change to one
    of these raises, where a change to an entity the session does not track would vanish at
    commit without a sound."""
    _guard(cls)
    entity: _Entity = sa_inspect(cls, raiseerr=True).class_manager.new_instance()
    entity.__dict__.update(values)
    entity.__dict__[_UNTRACKED] = True
    return entity


def _guard(cls: type[Any]) -> None:
    if cls not in _guarded_classes:
        for attribute in sa_inspect(cls, raiseerr=True).column_attrs:
            event.listen(getattr(cls, attribute.key), "set", _refuse_untracked_change)
        _guarded_classes.add(cls)


def _refuse_untracked_change(target: Any, value: Any, _old: Any, initiator: Any) -> Any:
    if getattr(target, _UNTRACKED, False):
        raise UntrackedChange(
            f"{type(target).__name__}.{initiator.key} set on an entity read by a raw statement;"
            " load the row with the ORM to change it"
        )
    return value
