"""Queries of users."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tradetalk.accounts.models import User
from tradetalk.kit.orm import untracked_row
from tradetalk.kit.rawsql import RawSql


async def get(session: AsyncSession, user_id: str) -> User | None:
    """The user with this id, if the operator has synced one."""
    return await session.get(User, user_id)


# The columns of a user as `user_from_row` takes them, in order.
USER_COLUMNS = (
    "id",
    "display_name",
    "email",
    "is_support",
    "token_generation",
    "last_event_id",
    "created_at",
    "updated_at",
)
# Every authenticated request runs it: on the driver connection (kit/rawsql.py says why).
_BY_ID = RawSql(
    f"SELECT {', '.join(USER_COLUMNS)} FROM users WHERE id = :user_id", datetimes=[6, 7]
)


async def load(session: AsyncSession, user_id: str) -> User | None:
    """The user with this id, read from the database: for a request's first look at its
    caller (cheaper than `get` when the user is not loaded yet)."""
    row = await _BY_ID.row(session, user_id=user_id)
    return None if row is None else user_from_row(row)


def user_from_row(row: Sequence[Any]) -> User:
    """The user read as `USER_COLUMNS` by a raw statement, read-only (`kit/orm.untracked_row`)."""
    values = dict(zip(USER_COLUMNS, row, strict=True))
    values["is_support"] = bool(values["is_support"])  # SQLite answers 0 or 1
    return untracked_row(User, values)


async def get_many(session: AsyncSession, user_ids: Iterable[str]) -> dict[str, User]:
    """Users by id; unknown ids are left out."""
    ids = set(user_ids)
    if not ids:
        return {}
    rows = await session.scalars(select(User).where(User.id.in_(ids)))
    return {user.id: user for user in rows}


async def bump_token_generation(session: AsyncSession, user_id: str) -> int | None:
    """Invalidate every token issued so far; returns the new generation."""
    result = await session.execute(
        update(User)
        .where(User.id == user_id)
        .values(token_generation=User.token_generation + 1)
        .returning(User.token_generation)
    )
    return result.scalar_one_or_none()
