"""Queries of users."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tradetalk.accounts.models import User


async def get(session: AsyncSession, user_id: str) -> User | None:
    """The user with this id, if the operator has synced one."""
    return await session.get(User, user_id)


# Built once: every authenticated request runs it.
_BY_ID = select(User).where(User.id == bindparam("b_user_id"))


async def load(session: AsyncSession, user_id: str) -> User | None:
    """The user with this id, read from the database: for a request's first look at its
    caller (a prebuilt statement, cheaper than `get` when the user is not loaded yet)."""
    return (await session.scalars(_BY_ID, {"b_user_id": user_id})).one_or_none()


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
