"""Queries of users."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tradetalk.accounts.models import User


async def get(session: AsyncSession, user_id: str) -> User | None:
    """The user with this id, if the operator has synced one."""
    return await session.get(User, user_id)


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
