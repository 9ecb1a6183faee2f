"""The migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.ext.asyncio import create_async_engine

from tradetalk.config import async_database_url
from tradetalk.models import metadata

# Created by migrations for search, deliberately outside the ORM models.
SEARCH_OBJECTS = ("messages_fts", "search_vector")


async def test_migrated_schema_matches_models(database_url: str) -> None:
    engine = create_async_engine(async_database_url(database_url))

    def diff(connection: Any) -> list[Any]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, metadata)

    async with engine.connect() as connection:
        differences = await connection.run_sync(diff)
    await engine.dispose()
    relevant = [d for d in differences if not any(name in str(d) for name in SEARCH_OBJECTS)]
    assert relevant == []
