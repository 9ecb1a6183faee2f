"""Fixtures shared by every tier: databases (SQLite and PostgreSQL), the app, API clients."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest
import pytest_asyncio
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from tests.fixtures.marketplace import Marketplace
from tradetalk.app import create_app
from tradetalk.config import Settings
from tradetalk.kit.clock import ManualClock
from tradetalk.migrate import upgrade
from tradetalk.models import metadata

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
PG_ADMIN_URL = os.environ.get("TRADETALK_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
SERVER_KEY = "test-server-key"
SECRET = "test-secret-key-that-is-long-enough-for-hs256"


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def require_service(name: str, host: str, port: int) -> None:
    """Skip (or, under CI, fail) when a service a tier needs is not running."""
    if _port_open(host, port):
        return
    reason = f"{name} is not running on {host}:{port}"
    if IN_CI:
        pytest.fail(f"{reason}; CI runs every tier")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test."""
    path = tmp_path_factory.mktemp("sqlite") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for this test session."""
    require_service("PostgreSQL", "127.0.0.1", 5432)
    name = f"tradetalk_test_{uuid.uuid4().hex[:8]}"
    base, _, _ = PG_ADMIN_URL.rpartition("/")

    async def _admin(sql: str) -> None:
        import asyncpg

        connection = await asyncpg.connect(PG_ADMIN_URL)
        try:
            await connection.execute(sql)
        finally:
            await connection.close()

    # This fixture may be first requested from inside the test event loop; database admin and
    # Alembic (which runs its own loop) go to a worker thread.
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, _admin(f'CREATE DATABASE "{name}"')).result()
        url = f"{base}/{name}"
        pool.submit(upgrade, url).result()
        yield url
        pool.submit(asyncio.run, _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')).result()


async def _truncate_postgres(url: str) -> None:
    import asyncpg

    tables = ", ".join(table.name for table in metadata.sorted_tables)
    connection = await asyncpg.connect(url)
    try:
        await connection.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
    finally:
        await connection.close()


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(
    request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path
) -> str:
    """An empty, migrated database of each kind (each test gets its own)."""
    if request.param == "sqlite":
        path = tmp_path / "tradetalk.db"
        shutil.copyfile(sqlite_template, path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("postgres_url")
    await _truncate_postgres(url)
    return url


@pytest.fixture
def clock() -> ManualClock:
    """The app's clock; tests move it to expire tokens and age data."""
    return ManualClock(datetime.now(UTC).replace(microsecond=0))


@pytest.fixture
def settings(database_url: str) -> Settings:
    """Settings for a test app on this test's database."""
    return Settings(
        database_url=database_url,
        server_api_key=SERVER_KEY,
        secret_key=SECRET,
        public_url="http://testserver",
        log_json=False,
        # Tests drive the outbox worker themselves (run_once, with the manual clock).
        worker_embedded=False,
        # A CI machine running the suite on both cores can take longer than production's 2 s
        # to open a PostgreSQL connection; that is load, not an outage.
        db_connect_timeout_seconds=15,
    )


@pytest_asyncio.fixture
async def app(settings: Settings, clock: ManualClock) -> AsyncIterator[FastAPI]:
    """The app, started (lifespan run) and stopped around the test."""
    application = create_app(settings, clock=clock)
    async with LifespanManager(application):
        yield application


@pytest_asyncio.fixture
async def market(app: FastAPI) -> AsyncIterator[Marketplace]:
    """A marketplace backend and its users talking to the app over HTTP (in process)."""
    async with Marketplace(app, server_key=SERVER_KEY) as marketplace:
        yield marketplace
