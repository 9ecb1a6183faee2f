"""The embedded database's URL means what SQLAlchemy's SQLite URLs always meant."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest

from tradetalk.kit.sqlite_inline import inline_creator


async def test_a_sqlite_uri_with_options_opens_the_file_it_names(tmp_path: Path) -> None:
    path = tmp_path / "market.db"
    writable = await inline_creator(f"sqlite+aiosqlite:///file:{path}?mode=rwc&uri=true")()
    cursor = await writable.execute("CREATE TABLE note (body TEXT)")
    await cursor.close()
    await writable.close()
    assert path.exists()
    assert not [name for name in os.listdir(tmp_path) if name.startswith("file:")]

    read_only = await inline_creator(f"sqlite+aiosqlite:///file:{path}?mode=ro&uri=true")()
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        await read_only.execute("INSERT INTO note VALUES ('hello')")
    await read_only.close()
